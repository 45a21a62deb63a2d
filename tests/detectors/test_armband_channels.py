"""What an armband's channels do that a clean record's do not: a contraction that drives
an int8 converter to its limits for seconds (detector version 12 finds it at its start;
version 11 gated every clipped row, the real Myo set's four late gestures), and a dead
channel beside live ones (version 13)."""

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


def test_a_dead_channel_beside_a_live_one_raises_no_false_activations() -> None:
    """Version 13: a flat channel (an electrode off, a channel a device leaves at zero)
    is out of the fusion from the start. Version 12 counted it until the weights were
    learnt, then the fused rest level doubled: a train of brief activations (retracted,
    but each one an onset on the live feed) after the first contraction."""
    rng = np.random.default_rng(0)
    fs = 1000.0
    t = np.arange(int(40 * fs)) / fs
    active = np.zeros(t.size)
    for o in (8.0, 18.0, 28.0):
        active[(t >= o) & (t < o + 4.0)] = 0.3
    live = rng.normal(0.0, 0.01, t.size) + rng.normal(0.0, 1.0, t.size) * active
    rec = EmgRecord(np.column_stack([live, np.zeros(t.size)]), fs, (8.0, 18.0, 28.0),
                    (12.0, 22.0, 32.0), (0.0, 2.0), "dead")
    counts = {}
    for version in ("12", "13"):
        events, _ = detect_emg(rec, 50.0, config=versioned_config(
            {"detector_version": version}, "test"))
        counts[version] = sum(e.type == EventType.ONSET for e in events)
    assert counts["13"] == 3
    assert counts["12"] > 10  # kept for its recordings
