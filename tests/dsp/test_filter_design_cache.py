"""Filter designs come from an on-disk cache and the SOS kernel is loaded without
``scipy.signal``: both must give exactly what scipy itself gives, and a broken cache must
only cost a fresh design."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from isofeedback.dsp import design_cache
from isofeedback.dsp.emg_chain import EmgChain
from isofeedback.dsp.filters import (
    SosFilter,
    emg_bandpass,
    impulse_energy,
    kernel,
    mains_notch,
    reference_sosfilt,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder and no designs remembered in this process."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(design_cache, "_memory", {})
    return tmp_path / "isofeedback" / "designs"


def _scipy_designs(fs: float) -> list[np.ndarray]:
    hi = min(450.0, 0.45 * fs)
    band = signal.butter(4, [min(20.0, hi / 2), hi], btype="bandpass", fs=fs, output="sos")
    notches = [signal.tf2sos(*signal.iirnotch(f, 30.0, fs=fs))
               for f in (50.0, 100.0, 150.0) if f < 0.49 * fs]
    return [np.asarray(band), np.vstack(notches)]


def _our_designs(fs: float) -> list[np.ndarray]:
    notch = mains_notch(fs, 50.0, 3, 30.0)
    assert notch is not None
    return [emg_bandpass(fs), notch]


@pytest.mark.parametrize("fs", [200.0, 1000.0, 2000.0])
def test_cached_designs_are_scipys_to_the_bit(cache: Path, fs: float) -> None:
    want = _scipy_designs(fs)
    cold = _our_designs(fs)  # computed by scipy and stored
    assert len(list(cache.glob("*.json"))) >= 2
    design_cache._memory.clear()
    warm = _our_designs(fs)  # read back from the files
    for w, c, h in zip(want, cold, warm, strict=True):
        assert w.tobytes() == c.tobytes() == h.tobytes()
    energy = impulse_energy(fs, want)
    design_cache._memory.clear()
    assert impulse_energy(fs, want).tobytes() == energy.tobytes()


def test_power_delay_is_the_same_from_the_cache(cache: Path) -> None:
    cold = EmgChain(1000.0, 8).power_delay_s
    design_cache._memory.clear()
    assert EmgChain(1000.0, 8).power_delay_s == cold
    assert 0.0 < cold < 0.05


@pytest.mark.parametrize("damage", ["truncated", "other key", "not floats", "a folder"])
def test_a_damaged_cache_file_is_designed_again_and_replaced(cache: Path, damage: str) -> None:
    want = emg_bandpass(200.0)
    (path,) = cache.glob("*.json")
    doc = json.loads(path.read_text())
    if damage == "truncated":
        path.write_text(path.read_text()[:40])
    elif damage == "other key":
        path.write_text(json.dumps({**doc, "key": doc["key"] + " ", "values": [0.0] * 24}))
    elif damage == "not floats":
        path.write_text(json.dumps({**doc, "values": ["x"] * 24}))
    else:
        path.unlink()
        path.mkdir()
    design_cache._memory.clear()
    assert emg_bandpass(200.0).tobytes() == want.tobytes()
    if damage != "a folder":  # a folder in the way cannot be replaced: only not used
        assert json.loads(path.read_text()) == doc


def test_an_unwritable_cache_only_costs_the_design(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file where the folder should be
    monkeypatch.setattr(design_cache, "_memory", {})
    assert emg_bandpass(200.0).tobytes() == _scipy_designs(200.0)[0].tobytes()


def test_the_compiled_kernel_is_the_reference_and_scipys_public_filter() -> None:
    found = kernel()
    assert found is not None  # else every filter would run through the slow public path
    rng = np.random.default_rng(3)
    sos = np.vstack(_scipy_designs(200.0))
    x = rng.standard_normal((300, 8)) * 40.0
    fast, slow = SosFilter(sos, 8), SosFilter(sos, 8, compiled=False)
    assert fast.compiled and not slow.compiled
    for part in np.array_split(x, [1, 7, 150]):
        assert fast.process(part).tobytes() == slow.process(part).tobytes()
    y, zi = x.T[:, :40].copy(), rng.standard_normal((8, sos.shape[0], 2))
    ref_y, ref_zi = y.copy(), zi.copy()
    reference_sosfilt(sos, ref_y, ref_zi)
    found(sos, y, zi)
    assert y.tobytes() == ref_y.tobytes() and zi.tobytes() == ref_zi.tobytes()


def test_a_replay_with_cached_designs_imports_no_scipy_signal_nor_mqtt(tmp_path: Path) -> None:
    """The second replay finds its designs on disk: no scipy.signal (1–2 s of imports),
    and no MQTT client library since nothing is published."""
    code = ("import sys\nfrom isofeedback.cli import main\n"
            "assert main(['replay', 'recordings/myo-pir-sim.isorec', '--verify']) == 0\n"
            "print(sorted(m for m in sys.modules if m in ('scipy.signal', 'aiomqtt')))")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path),
           "PYTHONPATH": os.pathsep.join(sys.path)}
    outputs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert "verify OK" in proc.stdout
        outputs.append(proc.stdout.strip().splitlines()[-1])
    assert outputs[0] == "['scipy.signal']"  # the first one designed them
    assert outputs[1] == "[]"
