"""A contraction that drives the converter to its rails (detector version 12,
docs/detection.md): the chain gates every saturated sample, and a gate that stays on for
seconds gave the onset test nothing, so the onset came seconds late. From version 12 a
gate on for longer than ``onset.gate_max_s`` counts as samples beyond the converter's
range; a contact spike's gate is shorter and still adds nothing. Version 11 is the
control."""

from __future__ import annotations

import numpy as np

from isofeedback.config import PipelineConfig, versioned_config
from isofeedback.detectors.evidence import LongGate
from isofeedback.research.eval import EmgRecord, confirmed, detect_emg, quantize_int8

FS = 200.0


def _record(seed: int, clip_s: float) -> EmgRecord:
    """8 int8 channels, rest noise ~3 counts; a spike at 5 s (one sample at the rails on
    every channel); from 10 s a 5 s contraction that holds the first channel at the rails
    for ``clip_s`` after a 30 ms rise, then stays strong and unclipped."""
    rng = np.random.default_rng(seed)
    n = int(20 * FS)
    x = 3.0 * rng.standard_normal((n, 8))
    x[int(5 * FS)] = 127.0
    a, b = int(10 * FS), int(15 * FS)
    x[a:b] += 40.0 * rng.standard_normal((b - a, 8))
    c = int(a + 0.03 * FS)
    x[c : c + int(clip_s * FS), 0] = 127.0 * np.sign(rng.standard_normal(int(clip_s * FS)))
    return EmgRecord(quantize_int8(x), FS, (10.0,), (15.0,), full_scale=127.0)


def _onsets(rec: EmgRecord, cfg: PipelineConfig) -> list[float]:
    ev = confirmed(detect_emg(rec, 50.0, config=cfg)[0])
    return [e.t for e in ev if e.type == "onset"]


def test_a_clipped_contraction_is_found_in_time() -> None:
    v11 = versioned_config({"detector_version": "11"}, "test")
    for seed in range(3):
        rec = _record(seed, 2.0)
        now = _onsets(rec, PipelineConfig())
        assert len(now) == 1 and abs(now[0] - 10.0) < 0.5, now
        old = _onsets(rec, v11)
        assert not any(abs(t - 10.0) < 1.0 for t in old), old  # the control: seconds late


def test_a_spike_is_still_no_onset() -> None:
    rec = _record(0, 0.0)
    assert all(abs(t - 5.0) > 1.0 for t in _onsets(rec, PipelineConfig()))


def test_the_gate_run_is_counted_across_chunks() -> None:
    g = LongGate(3)
    runs = [g.mask(np.array(c, dtype=float)) for c in ([1, 1], [1, 1, 0], [1], [1, 1, 1])]
    assert runs[0] is None and runs[1] is not None and runs[1].tolist() == [False, True, False]
    assert runs[2] is None and runs[3] is not None and runs[3].tolist() == [False, False, True]


def test_version_12_counts_long_gates() -> None:
    assert PipelineConfig().detector.onset.gate_max_s == 0.25
    assert versioned_config({"detector_version": "11"}, "test").detector.onset.gate_max_s == 0.0
