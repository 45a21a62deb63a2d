"""Detector accuracy on simulated records, measured with numbers (generous bounds that a
broken detector fails), and signal-quality events."""

from __future__ import annotations

import numpy as np

from isofeedback.detectors.signal_quality import SignalQualityDetector
from isofeedback.research.eval import (
    Summary,
    detect_movement,
    evaluate_emg,
    match_events,
    movement_script,
    simulated_records,
    summarize,
)
from isofeedback.types import Chunk


def test_onset_release_accuracy_at_10_db_with_artifacts() -> None:
    recs = simulated_records(4, 10.0, 1000.0, seed=100, artifacts="half")
    on, off, _ = evaluate_emg(recs, 50.0, 0.5)
    s_on, s_off = summarize(on), summarize(off)
    assert s_on["missed"] == 0 and s_off["missed"] == 0
    assert s_on["err_med_ms"] < 30 and s_on["err_p90_ms"] < 80
    assert s_on["lat_med_ms"] < 80
    assert s_off["err_med_ms"] < 30
    assert s_on["false_per_min"] <= 1.0


def test_onset_accuracy_at_200_hz_int8() -> None:
    recs = simulated_records(3, 20.0, 200.0, seed=200, artifacts="none", int8=True)
    on, _, _ = evaluate_emg(recs, 50.0, 0.5)
    s = summarize(on)
    assert s["missed"] == 0 and s["err_med_ms"] < 40 and s["false_per_min"] <= 1.0


def test_movement_during_hold_is_reported_quickly() -> None:
    mv = Summary()
    for k in range(3):
        crossings, events, still_min, _ = detect_movement(movement_script(300 + k))
        m = match_events(crossings, [e.t for e in events], 1.0)
        mv.truths += len(crossings)
        mv.missed += len(m.missed)
        mv.false += len(m.false)
        mv.minutes += still_min
        mv.latencies += [events[j].t_decided - crossings[i] for i, j in m.pairs]
    s = summarize(mv)
    assert mv.truths > 0 and s["missed"] == 0
    assert s["lat_p90_ms"] < 300
    assert s["false_per_min"] <= 1.0


def _quality(x: np.ndarray, fs: float = 200.0) -> list[tuple[str, str, int, float]]:
    det = SignalQualityDetector(fs, full_scale=127.0)
    ev = det.process(Chunk("emg", fs, 0, 0.0, x, tuple(f"c{i}" for i in range(x.shape[1]))))
    return [(e.detail["issue"], e.detail["state"], e.detail["channel"], e.t) for e in ev]


def test_flat_line_is_a_quality_event_not_a_contraction() -> None:
    x = np.random.default_rng(1).normal(0, 5, (2000, 2))
    x[600:1400, 1] = 3.0
    ev = _quality(x)
    assert ev == [("flat", "start", 1, 3.0), ("flat", "end", 1, 7.0)]


def test_saturation_is_reported_per_channel() -> None:
    x = np.random.default_rng(2).normal(0, 5, (2000, 2))
    x[1000:1010, 0] = -128.0
    ev = _quality(x)
    assert [(a, b, c) for a, b, c, _ in ev] == [
        ("saturation", "start", 0),
        ("saturation", "end", 0),
    ]
    assert ev[0][3] == 5.0
