"""Range of motion across sessions: the barrier is measured from the neutral pose stored at
the patient's first calibration (accelerometer gravity), not from each session's start."""

from __future__ import annotations

import dataclasses

import pytest

from isofeedback.coach.calibration import Calibration
from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.sim import packetize
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sources.simulated import simulate_for_profile
from isofeedback.types import Feedback

TOL_DEG = 1.5  # accelerometer tilt averaged over 0.5 s at the end of each stretch


def _session(start_angle: float, calibration: Calibration | None) -> tuple[Pipeline, list[dict]]:
    profile, protocol = find_profile("myo"), find_protocol("pir")
    script = dataclasses.replace(follow_protocol(protocol, seed=3, level=0.18),
                                 start_angle_deg=start_angle)  # stretches of 4 degrees
    pipeline = Pipeline({"sim": profile}, protocol, calibration=calibration)
    reps = []
    for p in packetize(simulate_for_profile(script, profile), profile):
        for o in pipeline.feed(p):
            if isinstance(o, Feedback) and o.kind == "rep":
                reps.append(dict(o.payload))
        if pipeline.coach.finished:
            break
    return pipeline, reps


def test_barrier_is_measured_from_the_stored_neutral_pose() -> None:
    first, reps1 = _session(0.0, None)
    assert first.neutral_gravity is not None
    assert [r["barrier_from_neutral_deg"] for r in reps1] == pytest.approx([4, 8, 12], abs=TOL_DEG)
    stored = Calibration(profile="myo", device="sim", created=0.0, rest_baseline=1.0,
                         rest_noise=0.1, mvc=None, neutral_gravity=first.neutral_gravity)
    # next day the patient starts where they stopped, 12 degrees from neutral
    _, reps2 = _session(12.0, stored)
    assert [r["barrier_from_neutral_deg"] for r in reps2] == pytest.approx([16, 20, 24],
                                                                            abs=TOL_DEG)
    assert reps2[0]["rom_deg"] == pytest.approx(4, abs=2.5)  # within-session: from today's start
    # without the stored neutral, today's start would be taken as neutral
    _, reps3 = _session(12.0, None)
    assert reps3[0]["barrier_from_neutral_deg"] == pytest.approx(4, abs=TOL_DEG)


def test_calibration_round_trips_the_neutral_pose() -> None:
    cal = Calibration(profile="myo", device="sim", created=1.0, rest_baseline=1.0,
                      rest_noise=0.1, mvc=20.0, neutral_gravity=(0.0, 0.1, 0.99))
    assert Calibration.from_dict(cal.as_dict()) == cal
