"""A wearable without a motion sensor (EMG only, e.g. the NPG Lite) cannot measure the
stretch: every rep's range of motion is unknown (null), not 0.0° — which the page showed
as "range +0.0°", the report and the patient's progress as no range gained, and which
ended a set with a ROM-plateau rule after its first reps."""

from __future__ import annotations

import dataclasses

import pytest

from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sources.simulated import SimulatedSource
from isofeedback.types import Feedback

_ROM = ("stretch_deg", "rom_deg", "rom_gain_deg", "barrier_from_neutral_deg")


def _session(profile_id: str, plateau_deg: float = 0.0) -> list[Feedback]:
    protocol = dataclasses.replace(find_protocol("pir"), rom_plateau_deg=plateau_deg,
                                   rom_plateau_reps=1)
    source = SimulatedSource(follow_protocol(protocol, seed=3, level=0.18),
                             find_profile(profile_id), speed=None)
    pipeline = Pipeline(source.profiles, protocol)
    out: list[Feedback] = []
    for packet in source.all_packets:
        out += [o for o in pipeline.feed(packet) if isinstance(o, Feedback)]
        if pipeline.coach.finished:
            break
    return out


@pytest.mark.parametrize("plateau_deg", [0.0, 5.0])
def test_no_joint_sensor_leaves_the_range_unknown(plateau_deg: float) -> None:
    out = _session("npg_lite", plateau_deg)
    reps = [f.payload for f in out if f.kind == "rep"]
    summary = next(f.payload for f in out if f.kind == "summary")
    assert len(reps) == 3 and summary["reps_done"] == 3  # no plateau ended it early
    assert all(r[k] is None for r in reps for k in _ROM)
    assert summary["rom_deg"] is None and summary["barrier_from_neutral_deg"] is None
    assert "early_end" not in summary or not summary["early_end"]


def test_a_joint_sensor_measures_the_range() -> None:
    reps = [f.payload for f in _session("myo") if f.kind == "rep"]
    assert len(reps) == 3
    assert all(isinstance(r["rom_deg"], float) and r["rom_deg"] > 0.0 for r in reps)
