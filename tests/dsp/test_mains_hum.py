"""Which mains frequency hums: found on hummed records of both mains, never on EMG,
artifacts or rest without a hum, and acted on by a foreign replay (a file recorded under
60 Hz mains read with the 50 Hz default lost every contraction to its hum)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from isofeedback.cli import main
from isofeedback.dsp.mains_hum import MainsHum, measure_hum
from isofeedback.research.batch import BatchJob, run_one
from isofeedback.research.replay import replay
from isofeedback.sim.script import benchmark_script
from isofeedback.sim.signals import synthesize


def _record(mains_hz: float, level: float, seed: int = 3, fs: float = 1000.0,
            ) -> tuple[np.ndarray, int]:
    """A benchmark record (motion, spikes, drift) with a hum ``level`` times the weakest
    contraction's RMS at ``mains_hz`` (0: none), and how many contractions it holds."""
    script = benchmark_script(seed, 60.0, 10.0, with_artifacts=True, mains_hz=mains_hz or 50.0)
    script = dataclasses.replace(script, artifacts=dataclasses.replace(
        script.artifacts, mains_level=level if mains_hz else 0.0))
    return synthesize(script, emg_fs=fs, channels=2).emg, len(script.contractions)


@pytest.mark.parametrize("fs", [200.0, 1000.0, 2000.0])
@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_a_hum_is_found_at_its_frequency(mains: float, fs: float) -> None:
    x, _ = _record(mains, 3.0, fs=fs)  # three times the weakest contraction's RMS
    hum = measure_hum(x, fs)
    assert hum.hz == mains, hum.ratios
    assert hum.ratios[mains] > 10 * hum.ratios[110.0 - mains]


@pytest.mark.parametrize("seed", range(4))
def test_no_hum_is_found_in_emg_and_artifacts_without_one(seed: int) -> None:
    for fs in (200.0, 1000.0):
        x, _ = _record(0.0, 0.0, seed=seed, fs=fs)
        hum = measure_hum(x, fs)
        assert hum.hz is None, hum.ratios
        assert max(hum.ratios.values()) < 3.0


def test_too_short_or_too_slow_says_nothing() -> None:
    t = np.arange(500) / 1000.0
    assert measure_hum(np.sin(2 * np.pi * 60 * t), 1000.0).ratios == {50.0: 0.0, 60.0: 0.0}
    t = np.arange(1200) / 120.0  # 60 Hz at the Nyquist frequency: not measurable
    assert measure_hum(np.sin(2 * np.pi * 50 * t), 120.0).ratios[60.0] == 0.0


def test_both_humming_is_no_choice() -> None:
    assert MainsHum({50.0: 40.0, 60.0: 30.0}).hz is None
    assert MainsHum({50.0: 40.0, 60.0: 12.0}).hz == 50.0
    assert MainsHum({50.0: 9.0, 60.0: 1.0}).hz is None


def _csv(path: Path, x: np.ndarray, fs: float) -> Path:
    t = np.arange(x.shape[0]) / fs
    np.savetxt(path, np.column_stack([t, x]), delimiter=",", fmt="%.6f",
               header="t,emg1,emg2", comments="")
    return path


def test_a_replay_notches_the_mains_the_file_hums_at(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      ) -> None:
    x, contractions = _record(60.0, 30.0)
    path = _csv(tmp_path / "usa.csv", x, 1000.0)
    auto = replay(path)
    assert "a 60 Hz mains hum" in auto.meta["mains"]
    assert "notched at 60 Hz instead of 50" in auto.meta["mains"]
    assert auto.metrics()["onsets"] == contractions
    kept = replay(path, mains=50.0)  # as asked: the hum stays, and the replay says so
    assert "left in (notched at 50 Hz as asked)" in kept.meta["mains"]
    assert kept.metrics()["onsets"] < contractions // 2
    assert replay(path, mains=60.0).meta.get("mains") is None
    assert main(["replay", str(path)]) == 0
    assert "notched at 60 Hz instead of 50" in " ".join(capsys.readouterr().out.split())
    row = run_one(str(path), BatchJob(mains=50.0))
    assert row["onsets"] == kept.metrics()["onsets"]


def test_a_file_without_hum_replays_as_before(tmp_path: Path) -> None:
    x, contractions = _record(50.0, 1.0)
    path = _csv(tmp_path / "eu.csv", x, 1000.0)
    got = replay(path)
    assert "mains" not in got.meta
    assert got.metrics()["onsets"] == contractions


def test_mains_is_for_foreign_data(capsys: pytest.CaptureFixture[str]) -> None:
    native = Path(__file__).parents[2] / "recordings" / "myo-pir-sim.isorec"
    assert main(["replay", str(native), "--mains", "60"]) == 2
    assert "--mains applies to foreign data" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["replay", str(native), "--mains", "55"])
