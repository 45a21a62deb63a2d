""""Relaxed" is judged against the protocol's ``relaxed_below`` or, when the sensor's rest
noise cannot measure that little, against the noise's own level (``Coach.relaxed_limit``):
one standard deviation of the rest's envelope as the residual reads it, ``sqrt(2·b·σ)``,
grown with the rest since the calibration. A recording made before keeps the old rule."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isofeedback.coach.protocol import ExerciseProtocol, find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.recording.reader import RecordingReader
from isofeedback.recording.report import build_report, report_html
from isofeedback.recording.writer import Recorder
from isofeedback.research.replay import replay
from isofeedback.service import run_session
from isofeedback.sim.scenarios import noise_rise_script
from isofeedback.sources.simulated import SimulatedSource
from isofeedback.types import Feedback
from tests.coach.driver import Driver, gentle_protocol

IN_BAND = 10.0  # noise units: the band is 8-16, relaxed_below 1.5 (at most 4)
BAND = {"intensity_low": 8.0, "intensity_high": 16.0}


def relaxing(residual: float, rest: float | None, **protocol: object) -> Driver:
    """A calibrated coach (rest noise σ = 1, baseline b = 1: sqrt(2·b·σ) = 1.41, below
    relaxed_below = 1.5), one hold, then a relaxation whose activity reads ``residual``
    above a rest baseline of ``rest`` (the calibration's was 1)."""
    d = Driver.calibrated(gentle_protocol(hold_s=3.0, relax_s=4.0, **BAND, **protocol))
    d.contract(3.6, IN_BAND)
    d.release()
    d.run(4.5, residual, rest=rest)
    return d


def told(d: Driver) -> list[dict[str, object]]:
    return [o.payload for o in d.out if o.kind == "cue" and o.payload["id"] == "relax_fully"]


def test_the_limit_is_relaxed_below_until_the_noise_reads_more() -> None:
    d = Driver.calibrated(gentle_protocol(**BAND))
    assert d.coach.relaxed_limit() == 1.5  # no rest told yet
    d.run(0.05, 0.0, rest=1.0)
    assert d.coach.relaxed_limit() == 1.5  # sqrt(2) at the calibration's rest: below 1.5
    d.run(0.05, 0.0, rest=2.0)  # the rest doubled (both b and σ): twice sqrt(2)
    assert d.coach.relaxed_limit() == pytest.approx(2.0 * math.sqrt(2.0), rel=1e-12)
    d.run(0.05, 0.0, rest=10.0)  # never above half the band's low end (8)
    assert d.coach.relaxed_limit() == 4.0
    old = Driver.calibrated(gentle_protocol(relaxed_over_noise=False, **BAND))
    old.run(0.05, 0.0, rest=2.0)
    assert old.coach.relaxed_limit() == 1.5


def test_a_relaxed_patient_on_a_noisier_sensor_goes_on_to_the_stretch() -> None:
    """The residual 2.0 is the noise of a rest twice the calibration's (limit 2.83): the
    stretch follows. Under the old rule (``relaxed_over_noise = False``) the same patient
    was told to let go."""
    d = relaxing(2.0, rest=2.0)
    assert told(d) == []
    assert "phase:stretching" in d.trace()
    old = relaxing(2.0, rest=2.0, relaxed_over_noise=False)
    assert [c["residual"] for c in told(old)] == [2.0]
    assert "limit" not in told(old)[0]  # the old messages, byte for byte


def test_tension_above_the_noise_is_still_told_with_the_limit_it_was_judged_by() -> None:
    d = relaxing(4.0, rest=2.0)
    [cue] = told(d)
    assert cue["residual"] == 4.0 and cue["limit"] == 2.8
    # letting go to what the noise reads (2.0, under the limit) confirms the relaxation
    d.run(2.0, 2.0, rest=2.0)
    assert "phase:stretching" in d.trace()
    # at the calibration's rest the prescribed limit holds: 2.0 is tension there
    [cue] = told(relaxing(2.0, rest=1.0))
    assert cue["residual"] == 2.0 and "limit" not in cue


def _record(folder: Path, protocol: ExerciseProtocol, seed: int) -> Path:
    """A coached session on a Ganglion (4 channels, 200 Hz) whose sensor noise rises 2.5×
    in power during the first hold, recorded as the service records it."""
    source = SimulatedSource(noise_rise_script(protocol, seed=seed), find_profile("ganglion"),
                             speed=None)
    pipeline = Pipeline(source.profiles, protocol)

    async def go() -> None:
        rec = Recorder.open_in(folder, "noisy", profiles=source.profiles, protocol=protocol,
                               config=pipeline.config, patient="p-test", simulated=True,
                               source="simulated")
        result = await run_session(source, pipeline, [rec], [rec])
        rec.close({"packets": result.stats.packets})

    asyncio.run(go())
    return folder / "noisy.isorec"


def _rep_records(path: Path) -> list[dict[str, Any]]:
    with RecordingReader(path) as r:
        return [o.payload for o in r.outputs() if isinstance(o, Feedback) and o.kind == "rep"]


def _reps(path: Path) -> list[list[str]]:
    return [rep["violations"] for rep in _rep_records(path)]


def test_a_recording_keeps_the_rule_it_was_made_with(tmp_path: Path) -> None:
    """Live on a noisy wearable the old rule told a relaxed patient to let go (seed 1:
    "not_relaxed" at the first repetition); the new one does not. Each recording replays
    exactly with ``--verify``: a new one stores the rule, and one stored without it (as
    every recording made before) gets the old rule from the reader."""
    pir = find_protocol("pir")
    new = _record(tmp_path / "new", pir, seed=1)
    old = _record(tmp_path / "old", dataclasses.replace(pir, relaxed_over_noise=False), seed=1)
    with sqlite3.connect(old) as con:  # as recordings made before the rule stored it
        (doc,) = con.execute("SELECT value FROM meta WHERE key='protocol'").fetchone()
        stored = json.loads(doc)
        assert stored.pop("relaxed_over_noise") is False
        con.execute("UPDATE meta SET value=? WHERE key='protocol'", (json.dumps(stored),))
    assert ["not_relaxed"] in _reps(old)
    assert _reps(new) == [[], [], []]
    for path, rule in ((new, True), (old, False)):
        with RecordingReader(path) as r:
            assert r.protocol().relaxed_over_noise is rule
        result = replay(path, verify=True)
        assert result.verified and result.checked, (path, result.difference)
    # the clinician sees the limit each repetition was judged against (the old: none)
    limits = [rep["relax_limit"] for rep in _rep_records(new)]
    assert all(5.0 < limit < 15.0 for limit in limits), limits
    assert all("relax_limit" not in rep for rep in _rep_records(old))
    with RecordingReader(new) as r:
        page = report_html(build_report(r.outputs(), r.meta))
    assert f"of {limits[0]:.1f}</td>" in page


@given(below=st.floats(0.0, 40.0), low=st.floats(1.0, 200.0), reading=st.floats(0.0, 1e3),
       rise=st.floats(0.0, 1e3), more=st.floats(1.0, 10.0))
def test_the_limit_stays_between_the_prescribed_one_and_half_the_band(
        below: float, low: float, reading: float, rise: float, more: float) -> None:
    """Whatever the sensor reads: never below ``relaxed_below`` (the clinician's), never
    above half the band's low end unless the clinician's is, and never lower for a rest
    that rose more."""
    from isofeedback.coach.relaxation import RELAXED_AT_MOST, relaxed_limit

    limit = relaxed_limit(below, low, reading, rise)
    assert below <= limit <= max(below, RELAXED_AT_MOST * low)
    assert relaxed_limit(below, low, reading, rise * more) >= limit
