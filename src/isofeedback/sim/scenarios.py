"""Scripted patients for the coach, one per path through a session.

Each scenario follows a protocol's timing (:func:`protocol_script`) and gets one thing
wrong in the second repetition (index 1), so the coach's reaction to it can be checked
exactly: a clean session, a joint moved mid-hold, pushed too hard, never relaxed fully,
released early, stopped half-way, and a sensor that drops out mid-rep (the patient then
repeats the repetition, as the coach asks).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from isofeedback.sim.script import Faults, PatientScript, protocol_script

if TYPE_CHECKING:
    from isofeedback.coach.protocol import ExerciseProtocol

__all__ = ["DISCONNECT_S", "SCENARIOS", "scenario_script"]

DISCONNECT_S = 2.0  # how long the sensor is out of range in "disconnected"

SCENARIOS: dict[str, Faults] = {
    "clean": Faults(),
    "moved": Faults(move_in_rep=1),
    "too_strong": Faults(too_strong_rep=1),
    "not_relaxed": Faults(residual_rep=1),
    "released_early": Faults(early_release_rep=1),
    "stopped": Faults(stop_after_rep=1),
    "disconnected": Faults(),
}


def scenario_script(name: str, protocol: ExerciseProtocol, seed: int = 1) -> PatientScript:
    """The scripted patient ``name`` (a key of :data:`SCENARIOS`) for ``protocol``.

    >>> from isofeedback.coach.protocol import find_protocol
    >>> s = scenario_script("disconnected", find_protocol("pir"))
    >>> len(s.contractions), [round(a, 2) for a in s.disconnects[0]]
    (5, [30.49, 32.49])
    """
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    p = protocol
    level = (p.intensity_low + p.intensity_high) / 200.0 if p.intensity_unit == "%MVC" else 0.15
    reps = p.reps + 1 if name == "disconnected" else p.reps
    script = protocol_script(
        p.technique,
        reps=reps,
        level=level,
        hold=p.hold_s,
        relax=p.relax_s,
        stretch=p.stretch_s,
        rest_before=p.rest_calibration_s + 1.0,
        seed=seed,
        faults=SCENARIOS[name],
        mvc_capture=p.mvc_capture,
    )
    if name == "stopped":
        # the patient sits there long enough for the coach to give up
        script = replace(script, duration=script.duration + p.abandon_after_s + 3.0)
    if name == "disconnected":
        second = script.contractions[2 if p.mvc_capture else 1]
        start = second.hold_start + 2.0
        script = replace(script, disconnects=((start, start + DISCONNECT_S),))
    return script
