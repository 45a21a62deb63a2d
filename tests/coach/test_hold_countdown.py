"""The published hold countdown counts the hold in the band only, as the credited hold does:
it stands still while the patient is outside the band, and what is left at "release now" is
exactly the part of the hold that was not credited."""

from __future__ import annotations

import dataclasses

import pytest

from isofeedback.types import Feedback
from tests.coach.driver import STEP_S, Driver, gentle_protocol

IN_BAND, TOO_WEAK = 5.0, 1.0  # noise units: the band is 3-8


def hold_levels(d: Driver) -> list[Feedback]:
    return [o for o in d.out if o.kind == "level" and o.payload["phase"] == "holding"]


def held(in_s: float, out_s: float, **protocol: object) -> Driver:
    """A patient who holds ``in_s`` in the band, then ``out_s`` too weak, then in the band
    again until "release now"."""
    d = Driver.calibrated(gentle_protocol(hold_s=7.0, **protocol))
    d.contract(in_s + STEP_S, IN_BAND)  # one tick in "contracting" first
    d.run(out_s, TOO_WEAK)
    d.run(7.0 - in_s - out_s + 0.5, IN_BAND)
    d.release()
    d.run(10.0)  # relax and stretch: the repetition's result
    return d


def test_the_countdown_stands_still_outside_the_band_and_ends_at_what_was_not_credited(
) -> None:
    d = held(2.0, 3.0)
    levels = hold_levels(d)
    start = next(o.t for o in d.out if o.kind == "phase" and o.payload["phase"] == "holding")
    def at(t: float) -> float:
        return float(next(o.payload["hold_remaining_s"] for o in levels if o.t >= t - 1e-9))
    # 2 s in the band: 7 -> 5; 3 s too weak: still 5; then it runs again
    assert at(start + 1.0) == pytest.approx(6.0, abs=STEP_S)
    assert at(start + 2.5) == pytest.approx(5.0, abs=STEP_S)
    assert at(start + 4.5) == pytest.approx(5.0, abs=STEP_S)
    assert at(start + 6.0) == pytest.approx(4.0, abs=2 * STEP_S)
    rep = next(o.payload for o in d.out if o.kind == "rep")
    last = levels[-1].payload
    # at "release now" the countdown shows the hold that was not credited, no more, no less
    assert last["hold_remaining_s"] == pytest.approx(7.0 - rep["hold_in_band_s"], abs=STEP_S)
    assert last["hold_in_band_s"] == pytest.approx(rep["hold_in_band_s"], abs=STEP_S)
    assert rep["hold_in_band_s"] == pytest.approx(4.0, abs=2 * STEP_S)
    assert rep["credited"] is False  # 4 s of 7 in the band: below credit_in_band (0.6)
    # it never runs while outside the band
    weak = [o.payload["hold_remaining_s"] for o in levels
            if start + 2.0 + STEP_S < o.t <= start + 5.0]
    assert weak and max(weak) - min(weak) < 1e-6


def test_a_hold_in_the_band_counts_down_to_zero_and_is_credited() -> None:
    d = held(7.5, 0.0)
    levels = hold_levels(d)
    assert levels[-1].payload["hold_remaining_s"] == pytest.approx(0.0, abs=STEP_S)
    assert next(o.payload for o in d.out if o.kind == "rep")["credited"] is True


def test_recordings_made_before_count_the_clock() -> None:
    """``countdown_in_band = False`` (what the reader gives a protocol stored without the
    key) publishes the countdown as it did then, so those recordings replay exactly."""
    d = held(2.0, 3.0, countdown_in_band=False)
    levels = hold_levels(d)
    start = next(o.t for o in d.out if o.kind == "phase" and o.payload["phase"] == "holding")
    mid = next(o for o in levels if o.t >= start + 4.5 - 1e-9)
    assert mid.payload["hold_remaining_s"] == pytest.approx(7.0 - (mid.t - start), abs=1e-6)
    assert "hold_in_band_s" not in mid.payload
    assert dataclasses.replace(gentle_protocol()).countdown_in_band is True
