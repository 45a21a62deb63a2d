"""Detector version 12: a contraction that drives an int8 armband's converter to its
limits for seconds is found at its start. Version 11 gated every clipped row and found it
only when the clipping paused (the real Myo set's four late gestures)."""

from __future__ import annotations

import numpy as np

from isofeedback.config import PipelineConfig, versioned_config
from isofeedback.detectors.factory import build_emg_chain
from isofeedback.research.eval import EmgRecord, confirmed, detect_emg, quantize_int8
from isofeedback.sim.script import Contraction, PatientScript
from isofeedback.sim.signals import synthesize
from isofeedback.types import EventType


def _clipping_record() -> EmgRecord:
    script = PatientScript(duration=14.0, contractions=(
        Contraction(5.0, level=0.9, hold=4.0, ramp_up=0.1, ramp_down=0.1),), seed=3)
    ses = synthesize(script, emg_fs=200.0, channels=8, mvc_rms=300.0)
    x = quantize_int8(ses.emg)
    return EmgRecord(x, 200.0, tuple(ses.onsets), tuple(ses.releases), (0.0, 2.0), "clip",
                     127.0)


def test_a_contraction_that_clips_for_seconds_is_found_at_its_start() -> None:
    rec = _clipping_record()
    clipped = np.any(np.abs(rec.emg) >= 127, axis=1)
    assert clipped[int(5.3 * 200) : int(9.0 * 200)].mean() > 0.5  # it does clip, a lot
    onsets = {}
    for version in ("11", "12"):
        cfg = versioned_config({"detector_version": version}, "test")
        events, _ = detect_emg(rec, 50.0, config=cfg)
        onsets[version] = [e.t for e in confirmed(events) if e.type == EventType.ONSET]
    assert len(onsets["12"]) == 1 and abs(onsets["12"][0] - rec.onsets[0]) < 0.15
    # version 11 (kept for its recordings) still gates the clipped rows
    assert not onsets["11"] or abs(onsets["11"][0] - rec.onsets[0]) > 0.15


def test_only_versions_before_12_gate_at_the_converter_limit() -> None:
    now = PipelineConfig().updated({"chain.full_scale": 127.0})
    old = versioned_config({"detector_version": "11", "chain.full_scale": 127.0}, "test")
    assert build_emg_chain(200.0, 8, now).full_scale is None
    assert build_emg_chain(200.0, 8, old).full_scale == 127.0
