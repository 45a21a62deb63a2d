"""Scripted patients for the coach, one per path through a session.

Each scenario follows a protocol's timing (:func:`protocol_script`) and gets one thing
wrong in the second repetition (index 1), so the coach's reaction to it can be checked
exactly: a clean session, a joint moved mid-hold, pushed too hard, too weak, never relaxed
fully, released early, stopped half-way, and a sensor that drops out mid-rep (the patient
then repeats the repetition, as the coach asks).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from isofeedback.sim.script import Artifacts, Faults, PatientScript, protocol_script

if TYPE_CHECKING:
    from isofeedback.coach.protocol import ExerciseProtocol

__all__ = [
    "COMMANDED",
    "DISCONNECT_S",
    "REPEATED",
    "SCENARIOS",
    "WEAK_LATE_S",
    "WEAK_LEVEL",
    "delayed",
    "first_rep",
    "follow_protocol",
    "noise_rise_script",
    "pain_at",
    "pain_switch_script",
    "scenario_script",
    "too_weak",
    "with_noise_rise",
]

DISCONNECT_S = 2.0  # how long the sensor is out of range in "disconnected"
# "too_weak": the second repetition at 5 % MVC: a third of the gentle reference (0.15),
# below the band's floor of 50 % (%ref); half the floor of the 10-25 % MVC band (%MVC)
WEAK_LEVEL = 0.05
WEAK_LATE_S = 1.0  # the coach holds "contracting" this long when the band is never reached
LET_GO_S = 0.8  # "not_relaxed": the patient lets go this long after "relax fully"
RELAX_LATE_S = 2.5  # ... and the coach's stretch cue comes about this much later than planned
NEVER_LATE_S = 2.0  # "never_relaxed": margin for the next rep after the coach gives up

SCENARIOS: dict[str, Faults] = {
    "clean": Faults(),
    "moved": Faults(move_in_rep=1),
    "too_strong": Faults(too_strong_rep=1),
    "too_weak": Faults(),
    "not_relaxed": Faults(residual_rep=1),
    "never_relaxed": Faults(residual_rep=1),
    "released_early": Faults(early_release_rep=1),
    "stopped": Faults(stop_after_rep=1),
    "disconnected": Faults(),
    "plateau": Faults(),  # the stretch gains 4 degrees, then nothing
}
# patients whose fault is a control command (pain at pain_at()), not in the script alone
COMMANDED: dict[str, Faults] = {
    "pain": Faults(),  # a clean patient who reports pain mid-hold
    "pain_switch": Faults(),  # ... and then works with the antagonist
}
# faults that break a repetition: repeated when the protocol says so
REPEATED = frozenset({"moved", "too_weak", "too_strong", "released_early"})
PLATEAU_GAINS = (4.0, 0.0)
PAIN_INTO_HOLD_S = 2.0  # the "pain" patient reports pain this far into the second hold
PAIN_LET_GO_S = 0.3  # ... and lets go this much later


def scenario_script(name: str, protocol: ExerciseProtocol, seed: int = 1,
                    mvc_capture: bool | None = None) -> PatientScript:
    """The scripted patient ``name`` (a key of :data:`SCENARIOS`) for ``protocol``: its
    calibration contraction (maximal, or the gentle reference), its timing, the muscle that
    contracts (the antagonist for reciprocal inhibition), one fault in the second
    repetition, and the extra repetition the patient does when the protocol repeats a
    broken one. ``mvc_capture`` overrides the protocol's (no MVC asked when a stored one
    is reused). The one function the demo and the tests build patients with.

    >>> from isofeedback.coach.protocol import find_protocol
    >>> s = scenario_script("disconnected", find_protocol("pir"))
    >>> len(s.contractions), [round(a, 2) for a in s.disconnects[0]]
    (5, [30.49, 32.49])
    """
    if name not in SCENARIOS and name not in COMMANDED:
        known = ", ".join([*SCENARIOS, *COMMANDED])
        raise ValueError(f"unknown scenario {name!r}; known: {known}")
    p = protocol
    mvc = p.mvc_capture if mvc_capture is None else mvc_capture
    if name == "pain_switch":
        return pain_switch_script(p, seed)
    reps = p.reps + 1 if name == "disconnected" else p.reps
    if p.repeat_broken and name in REPEATED:
        reps += 1  # the patient does the broken repetition again, as the coach asks
    script = follow_protocol(p, seed=seed, reps=reps, mvc_capture=mvc,
                             faults=SCENARIOS.get(name) or COMMANDED[name],
                             gains_deg=PLATEAU_GAINS if name == "plateau" else ())
    second = first_rep(p, mvc) + 1
    if name == "stopped":
        # the patient sits there long enough for the coach to give up
        script = replace(script, duration=script.duration + p.abandon_after_s + 3.0)
    if name == "disconnected":
        start = script.contractions[second].hold_start + 2.0
        script = replace(script, disconnects=((start, start + DISCONNECT_S),))
    if name == "too_weak":
        script = too_weak(script, second)
    if name == "not_relaxed":
        script = lets_go_when_told(script, second, p.relax_s)
    if name == "never_relaxed":
        script = never_lets_go(script, second, p)
    return script


def follow_protocol(protocol: ExerciseProtocol, *, seed: int = 0, reps: int | None = None,
                    level: float | None = None, faults: Faults | None = None,
                    mvc_capture: bool | None = None, rest_before: float | None = None,
                    gains_deg: tuple[float, ...] = (),
                    artifacts: Artifacts | None = None) -> PatientScript:
    """A patient who follows ``protocol``: its calibration contraction (a maximal one when
    the protocol captures an MVC, the gentle reference for ``%ref``, none for ``x_rest``),
    its timing (hold, relaxation, stretch), the muscle that contracts (the antagonist for
    reciprocal inhibition) and, for ``%MVC``, a level in the middle of the band.
    ``mvc_capture`` overrides the protocol's (no MVC asked when a stored one is reused).

    >>> from isofeedback.coach.protocol import find_protocol
    >>> s = follow_protocol(find_protocol("pir"), reps=2)
    >>> [(round(c.level, 2), c.hold) for c in s.contractions]  # the gentle reference first
    [(0.15, 3.0), (0.14, 7.0), (0.14, 7.0)]
    """
    p = protocol
    mvc = p.mvc_capture if mvc_capture is None else mvc_capture
    if level is None:
        level = ((p.intensity_low + p.intensity_high) / 200.0 if p.intensity_unit == "%MVC"
                 else 0.15)
    script = protocol_script(
        p.technique,
        reps=p.reps if reps is None else reps,
        level=level,
        hold=p.hold_s,
        relax=p.relax_s,
        stretch=p.stretch_s,
        rest_before=p.rest_calibration_s + 1.0 if rest_before is None else rest_before,
        seed=seed,
        faults=faults,
        mvc_capture=mvc,
        reference=p.intensity_unit == "%ref",
        channel=_middle(p.antagonist_channels) if p.reciprocal else None,
        gains_deg=gains_deg,
        artifacts=artifacts,
    )
    if p.channels:
        script = replace(script, target_channel=p.channels[len(p.channels) // 2])
    return script


def first_rep(protocol: ExerciseProtocol, mvc_capture: bool | None = None) -> int:
    """Index of the first repetition's contraction (after the calibration ones)."""
    mvc = protocol.mvc_capture if mvc_capture is None else mvc_capture
    return int(mvc) + int(protocol.intensity_unit == "%ref")


def noise_rise_script(protocol: ExerciseProtocol, seed: int = 0, rise: float = 2.5,
                      after_s: float = 3.0) -> PatientScript:
    """A relaxed patient who follows ``protocol`` while the sensor noise's power rises
    ``rise`` × ``after_s`` into the first repetition's hold and stays up (sweat under
    the electrodes, a strap that moved): no repetition should be faulted for it."""
    return with_noise_rise(follow_protocol(protocol, seed=seed), protocol, rise=rise,
                           after_s=after_s)


def with_noise_rise(script: PatientScript, protocol: ExerciseProtocol,
                    mvc_capture: bool | None = None, rise: float = 2.5,
                    after_s: float = 3.0) -> PatientScript:
    """``script`` with the sensor noise's power rising ``rise`` × ``after_s`` into the
    first repetition's hold (``mvc_capture`` as for :func:`first_rep`)."""
    at = script.contractions[first_rep(protocol, mvc_capture)].hold_start + after_s
    return replace(script, artifacts=replace(script.artifacts, noise_rise_at=at,
                                             noise_rise=rise))


def pain_at(script: PatientScript, protocol: ExerciseProtocol) -> float:
    """When the "pain" patient reports pain: 2 s into the second repetition's hold."""
    return script.contractions[first_rep(protocol) + 1].hold_start + PAIN_INTO_HOLD_S


def pain_switch_script(protocol: ExerciseProtocol, seed: int = 1) -> PatientScript:
    """Pain 2 s into the second hold; the patient lets go at once, rests while the coach
    measures rest on the antagonist, makes the gentle reference contraction with the
    antagonist and then the whole set with it (reciprocal inhibition)."""
    p = protocol
    before = scenario_script("clean", replace(p, reps=2), seed)
    k = first_rep(p) + 1
    c = before.contractions[k]
    t_pain = c.hold_start + PAIN_INTO_HOLD_S
    cut = replace(c, hold=t_pain + PAIN_LET_GO_S - c.hold_start)
    head = (*before.contractions[:k], cut)
    moves = tuple(m for m in before.movements if m.start < t_pain)
    after = protocol_script(
        p.technique, reps=p.reps, level=0.15, hold=p.hold_s, relax=p.relax_s,
        stretch=p.stretch_s, rest_before=p.rest_calibration_s + 1.5, seed=seed + 1,
        mvc_capture=False, reference=True, channel=_middle(p.antagonist_channels),
    )
    offset = cut.release + 0.5
    tail = tuple(replace(x, onset=x.onset + offset) for x in after.contractions)
    tail_moves = tuple(replace(m, start=m.start + offset) for m in after.movements)
    return replace(before, duration=offset + after.duration, contractions=(*head, *tail),
                   movements=(*moves, *tail_moves))


def _middle(channels: tuple[int, ...]) -> int | None:
    return channels[len(channels) // 2] if channels else None


def delayed(script: PatientScript, after: float, dt: float) -> PatientScript:
    """``script`` with everything that starts after ``after`` happening ``dt`` later: the
    patient waits for the coach."""
    contractions = tuple(replace(c, onset=c.onset + dt) if c.onset > after else c
                         for c in script.contractions)
    movements = tuple(replace(m, start=m.start + dt) if m.start > after else m
                      for m in script.movements)
    return replace(script, duration=script.duration + dt, contractions=contractions,
                   movements=movements)


def lets_go_when_told(script: PatientScript, k: int, relax_s: float) -> PatientScript:
    """Contraction ``k`` is still tense at the end of the relaxation; the patient lets go
    ``LET_GO_S`` after the coach's "Let the muscle go completely." and waits for the stretch
    cue, which comes once the coach has confirmed the relaxation (about a second later)."""
    c = script.contractions[k]
    script = replace(script, contractions=tuple(
        replace(x, residual_s=relax_s + LET_GO_S) if x is c else x for x in script.contractions))
    return delayed(script, c.release + relax_s - 0.01, RELAX_LATE_S)


def never_lets_go(script: PatientScript, k: int, protocol: ExerciseProtocol) -> PatientScript:
    """Contraction ``k`` stays tense until the next repetition: the coach leaves out the
    stretch after ``relax_confirm_s``; the patient does not stretch either and starts the
    next repetition when the coach asks."""
    c = script.contractions[k]
    stretch = next(m for m in script.movements if m.passive and m.start >= c.release)
    script = replace(script, movements=tuple(m for m in script.movements if m is not stretch))
    wait = protocol.relax_confirm_s - protocol.stretch_s + NEVER_LATE_S
    return delayed(script, c.release + 0.01, wait)


def too_weak(clean: PatientScript, k: int) -> PatientScript:
    """The clean patient with contraction ``k`` (the second repetition) held at
    ``WEAK_LEVEL``.

    The patient follows the coach's cues: a contraction below the band reaches the hold
    phase only after ``WEAK_LATE_S`` in "contracting", so the release cue comes that much
    later and the patient holds that much longer (everything after it moves later). The
    sensor noise stays that of the clean session (the simulator sets it from the weakest
    contraction), so only the intensity is wrong."""
    weak = clean.contractions[k]
    shifted = replace(weak, level=WEAK_LEVEL, hold=weak.hold + WEAK_LATE_S)
    contractions = (*clean.contractions[:k], shifted,
                    *(replace(c, onset=c.onset + WEAK_LATE_S) for c in clean.contractions[k + 1:]))
    movements = tuple(replace(m, start=m.start + WEAK_LATE_S) if m.start >= weak.release else m
                      for m in clean.movements)
    old_floor = min(c.level for c in clean.contractions)
    snr_db = clean.artifacts.snr_db + 20.0 * math.log10(WEAK_LEVEL / old_floor)
    return replace(clean, duration=clean.duration + WEAK_LATE_S, contractions=contractions,
                   movements=movements).with_artifacts(snr_db=snr_db)
