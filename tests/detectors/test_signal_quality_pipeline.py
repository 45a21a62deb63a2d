"""The pipeline reports a flat line (electrode off) and saturation as signal-quality
events, never as contractions."""

from __future__ import annotations

import numpy as np

from isofeedback.coach.protocol import find_protocol
from isofeedback.config import PipelineConfig
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.types import Chunk, Event, EventType


def _pipeline() -> Pipeline:
    prof = find_profile("myo")
    cfg = PipelineConfig().updated({"detector.rest.calibration_s": 2.0, "chain.full_scale": 127.0})
    return Pipeline({"arm": prof}, find_protocol("pir"), cfg)


def test_electrode_off_and_saturation_are_quality_events() -> None:
    pipe = _pipeline()
    spec = pipe.profiles["arm"].stream("emg")
    fs, ch = spec.fs, len(spec.channels)
    x = np.random.default_rng(3).normal(0.0, 3.0, (int(12 * fs), ch)).round()
    x[int(4 * fs) : int(7 * fs), 2] = 0.0  # channel 2 lifted off: flat line
    x[int(9 * fs) : int(9 * fs) + 4, 5] = 127.0  # channel 5 saturates briefly
    names = tuple(spec.channels)
    out = []
    step = int(0.05 * fs)
    for i in range(0, x.shape[0], step):
        c = Chunk("emg", fs, i, i / fs, x[i : i + step], names, device="arm")
        out += pipe.process_chunk(c)
    events = [e for e in out if isinstance(e, Event)]
    quality = [e for e in events if e.type == EventType.SIGNAL_QUALITY]
    got = [(e.detail["issue"], e.detail["state"], e.detail["channel"]) for e in quality]
    assert got == [
        ("flat", "start", 2),
        ("flat", "end", 2),
        ("saturation", "start", 5),
        ("saturation", "end", 5),
    ]
    assert abs(quality[0].t - 4.0) < 1e-9 and abs(quality[2].t - 9.0) < 1e-9
    onsets = [e for e in events if e.type == EventType.ONSET]
    assert onsets == []  # neither problem is taken for a contraction
