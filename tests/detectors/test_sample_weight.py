"""Above 1 kHz a sample counts ``1000/fs`` of one in the change tests (detector version 15).

The EMG band ends at 450 Hz, so at 2 or 4 kHz neighbouring samples of the band-passed
signal are largely the same evidence; counted as independent, plain rest noise decided
onsets every few seconds (each then retracted, but published live). Found by an outside
check with white noise in a 2 kHz CSV."""

from __future__ import annotations

import numpy as np
import pytest

from isofeedback.config import PipelineConfig, versioned_config
from isofeedback.research.eval import EmgRecord, detect_emg
from isofeedback.types import EventType


def _rest(fs: float, seed: int, seconds: float = 60.0) -> EmgRecord:
    rng = np.random.default_rng(seed)
    return EmgRecord(rng.standard_normal((int(seconds * fs), 1)) * 10.0, fs, (), ())


@pytest.mark.parametrize("fs", [2000.0, 4000.0])
def test_rest_noise_at_high_rates_decides_no_onset(fs: float) -> None:
    for seed in range(2):
        events, _ = detect_emg(_rest(fs, seed), calibration_s=3.0)
        assert [e for e in events if e.type == EventType.ONSET] == [], (fs, seed)
    # version 14 counted every sample as one: the same noise decided onsets
    old, _ = detect_emg(_rest(fs, 0), calibration_s=3.0,
                        config=versioned_config({}, "test", "14"))
    assert sum(e.type == EventType.ONSET for e in old) >= 10


def test_a_contraction_at_2_khz_is_found_and_held_whole() -> None:
    fs = 2000.0
    rng = np.random.default_rng(4)
    a = np.zeros(int(20 * fs))
    a[int(6 * fs): int(12 * fs)] = 1.0
    x = 0.3 * rng.standard_normal(a.size) + a * rng.standard_normal(a.size)
    events, _ = detect_emg(EmgRecord(x[:, None], fs, (6.0,), (12.0,)), calibration_s=3.0)
    timed = [(e.type.value, round(e.t, 1)) for e in events
             if e.type in (EventType.ONSET, EventType.RELEASE)]
    assert timed == [("onset", 6.0), ("release", 12.0)]


def test_the_weight_is_resolved_in_one_place_and_is_one_up_to_1_khz() -> None:
    p = PipelineConfig().detector
    assert [p.samples(fs).weight for fs in (200.0, 1000.0, 2000.0, 4000.0)] == [
        1.0, 1.0, 0.5, 0.25]
    assert versioned_config({}, "test", "14").detector.samples(2000.0).weight == 1.0
