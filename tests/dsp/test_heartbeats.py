"""Heartbeats in the rest calibration (detector version 17): found where the heart's QRS
stands far above the rest, never in rest noise, a lone artifact or tremor; the chain then
raises its band-pass edge at the calibration's last sample however the stream is chunked,
and the detector stops deciding an onset at every beat."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from isofeedback.cli import main
from isofeedback.config import PipelineConfig, versioned_config
from isofeedback.detectors.factory import build_emg_detection
from isofeedback.dsp.emg_chain import EmgChain, heartbeat_note
from isofeedback.dsp.filters import SosFilter, emg_bandpass
from isofeedback.dsp.heartbeats import measure_heartbeats
from isofeedback.research.eval import chunk_stream
from isofeedback.sim.alt_emg import _ecg
from isofeedback.types import Chunk


def _banded(x: np.ndarray, fs: float) -> np.ndarray:
    return SosFilter(emg_bandpass(fs, 20.0), 1).process(x[:, None])[:, 0]


@pytest.mark.parametrize("fs", [500.0, 1000.0, 2000.0])
def test_rest_noise_artifacts_and_tremor_are_no_heartbeats(fs: float) -> None:
    n = int(3 * fs)
    for seed in range(30):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(n)
        assert not measure_heartbeats(_banded(x, fs), fs).found
        bumped = x.copy()  # one motion artifact
        bumped[int(fs):int(1.1 * fs)] += 20.0 * np.sin(np.linspace(0, np.pi, int(0.1 * fs)))
        assert not measure_heartbeats(_banded(bumped, fs), fs).found
    t = np.arange(n) / fs  # a 6 Hz tremor modulating rest-level activity
    tremor = (1.0 + 4.0 * np.maximum(np.sin(2 * np.pi * 6.0 * t), 0.0) ** 4) * \
        np.random.default_rng(1).standard_normal(n)
    assert not measure_heartbeats(_banded(tremor, fs), fs).found


def test_a_heart_far_above_the_rest_is_found() -> None:
    fs = 1000.0
    found = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(3000) + 10.0 * _ecg(rng, 3000, fs)
        beats = measure_heartbeats(_banded(x, fs), fs)
        found.append(beats.found)
        if beats.found:
            per_min = 60.0 * (len(beats.times) - 1) / (beats.times[-1] - beats.times[0])
            assert 50.0 < per_min < 100.0  # the simulated heart beats 55–90 a minute
    assert all(found)


def _session(fs: float, ecg: float, seed: int = 2) -> np.ndarray:
    """90 s: rest with a heart ``ecg`` × the rest's RMS at its QRS, two contractions."""
    rng = np.random.default_rng(seed)
    n = int(90 * fs)
    x = rng.standard_normal(n) + ecg * _ecg(rng, n, fs)
    for a in (20.0, 60.0):
        x[int(a * fs):int((a + 8.0) * fs)] += 8.0 * rng.standard_normal(int(8.0 * fs))
    return x[:, None]


@pytest.mark.parametrize("sizes", [(20,), (1, 7, 33, 260), (90000,)])
def test_the_chain_raises_its_edge_at_the_calibrations_end_however_chunked(
        sizes: tuple[int, ...]) -> None:
    fs = 1000.0
    x = _session(fs, 10.0)
    chain = EmgChain(fs, 1, calibration_s=3.0, ecg_auto=True)
    out, a, k = [], 0, 0
    while a < x.shape[0]:
        b = min(a + sizes[k % len(sizes)], x.shape[0])
        out.append(chain.process(Chunk("emg", fs, a, a / fs, x[a:b], ("c0",))).data)
        a, k = b, k + 1
    assert chain.low_switched_from == 20.0 and chain.low_hz == 60.0
    assert chain.heartbeats is not None and chain.heartbeats[1] == 2999
    assert "band-pass from 60 Hz, not 20" in heartbeat_note(chain)
    whole = EmgChain(fs, 1, calibration_s=3.0, ecg_auto=True, chunk_invariant=True)
    ref = whole.process(Chunk("emg", fs, 0, 0.0, x, ("c0",))).data
    # from the calibration's end (and the envelope's window after it) the same output
    assert np.array_equal(np.concatenate(out)[3100:], ref[3100:])
    assert chain.take_calibration_rows() is not None  # the detector recalibrates on them


def test_without_version_17_or_at_a_wearables_rate_the_edge_stays() -> None:
    x = _session(1000.0, 10.0)
    old = EmgChain(1000.0, 1, calibration_s=3.0, ecg_auto=False)
    old.process(Chunk("emg", 1000.0, 0, 0.0, x, ("c0",)))
    assert old.low_switched_from is None and old.low_hz is None
    slow = EmgChain(200.0, 1, calibration_s=3.0, ecg_auto=True)
    slow.process(Chunk("emg", 200.0, 0, 0.0, _session(200.0, 10.0), ("c0",)))
    assert slow.low_switched_from is None and slow.heartbeats is None


def _onsets(x: np.ndarray, fs: float, cfg: PipelineConfig) -> tuple[int, int]:
    chain, det = build_emg_detection(fs, 1, cfg)
    events = []
    for c in chunk_stream(x, fs, "emg", 0.02):
        events += det.process(chain.process(c))
    kinds = [e.type.value for e in events]
    return kinds.count("onset"), kinds.count("retracted")


def test_the_detector_stops_deciding_an_onset_at_every_heartbeat() -> None:
    """A trunk muscle's session (a QRS 10× the rest's RMS, ~75 beats a minute, two
    contractions): version 16 decided ~100 provisional onsets, one a beat; version 17
    the two contractions and at most a couple more, all but the two retracted."""
    fs = 1000.0
    x = _session(fs, 10.0)
    old = _onsets(x, fs, versioned_config({}, "test", "16"))
    new = _onsets(x, fs, PipelineConfig())
    assert old[0] > 50
    assert 2 <= new[0] <= 4 and new[0] - new[1] == 2


def test_a_replay_says_the_heartbeats_and_the_edge(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    fs = 1000.0
    x = _session(fs, 10.0)[:30000, 0]
    path = tmp_path / "trunk.csv"
    path.write_text("t,emg\n" + "".join(f"{i / fs:.3f},{v:.6f}\n" for i, v in enumerate(x)))
    assert main(["replay", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "the rest showed heartbeats (ECG," in out
    assert "band-pass from 60 Hz, not 20 (set chain.low_hz = 60 for this muscle)" in out
