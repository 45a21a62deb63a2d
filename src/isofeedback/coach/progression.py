"""Progression across sessions: lengthen the contraction, never push harder.

Pure: from the protocol (as the clinician prescribed it) and the patient's stored session
summaries, the hold of the next session of the same technique and muscle. The rule (the
protocol's keys; docs/coaching.md says which numbers come from a source and which are our
choice):

- no progression (``hold_step_s = 0``) or no earlier session of this technique and muscle:
  the prescribed ``hold_s``;
- the last such session had pain (any rating above 0): one step back;
- the last one was complete with a hold quality below ``regress_quality``: one step back;
- the last ``progress_after`` ones were all complete, pain-free, at today's hold, with a
  hold quality of at least ``progress_quality`` and every repetition credited (none where
  the joint moved or the hold in the band fell short): one step longer;
- otherwise the same hold as last time.

Steps never leave ``hold_s`` … ``hold_max_s``; the intensity band is never changed. The
decision travels with the session's protocol (``ExerciseProtocol.progression``), so the
coach announces it and a replay of the recording announces the same without the history.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from isofeedback.coach.protocol import ExerciseProtocol

__all__ = ["HoldPlan", "plan_hold", "progressed", "same_exercise"]


@dataclasses.dataclass(frozen=True, slots=True)
class HoldPlan:
    """The hold of the next session and why."""

    hold_s: float
    previous_s: float | None  # the hold of the last session of this exercise (None: first)
    change: str  # "first", "same", "longer", "shorter", "off"
    reason: str  # one sentence, for the clinician and the log

    def as_dict(self, prescribed_s: float) -> dict[str, Any]:
        return {"hold_s": self.hold_s, "previous_s": self.previous_s,
                "prescribed_s": prescribed_s, "change": self.change, "reason": self.reason}


def _key(technique: Any, variant: Any, muscle: Any, side: Any) -> tuple[str, str, str, str]:
    return (str(technique or ""), str(variant or "post_isometric"), str(muscle or ""),
            str(side or ""))


def same_exercise(protocol: ExerciseProtocol, summary: Mapping[str, Any]) -> bool:
    """``summary`` is a session of ``protocol``'s technique, variant, muscle and side. A
    session that pain switched to the antagonist still counts as the technique it began
    as (its pain must step the next one back)."""
    variant = summary.get("variant")
    if "switched_to_antagonist_t" in summary:
        variant = "post_isometric"
    return (_key(summary.get("technique"), variant, summary.get("muscle"), summary.get("side"))
            == _key(protocol.technique, protocol.variant, protocol.muscle, protocol.side))


def _pain(summary: Mapping[str, Any]) -> float:
    values = [p.get("value") for p in summary.get("pain", []) or [] if isinstance(p, Mapping)]
    return max((float(v) for v in values if isinstance(v, int | float)), default=0.0)


def _quality(summary: Mapping[str, Any]) -> float | None:
    q = summary.get("hold_quality")
    return float(q) if isinstance(q, int | float) and not isinstance(q, bool) else None


def _all_credited(summary: Mapping[str, Any]) -> bool:
    """Every repetition done was credited (summaries from before ``reps_credited`` was
    stored count as credited)."""
    done, credited = summary.get("reps_done"), summary.get("reps_credited")
    if not isinstance(done, int) or not isinstance(credited, int):
        return True
    return credited >= done


def plan_hold(protocol: ExerciseProtocol, history: Sequence[Mapping[str, Any]]) -> HoldPlan:
    """The next session's hold for ``protocol`` after ``history`` (oldest first).

    >>> from isofeedback.coach.protocol import find_protocol
    >>> pir = find_protocol("pir")
    >>> good = {"technique": "pir", "muscle": "wrist flexors", "side": "right",
    ...         "complete": True, "hold_quality": 0.9, "hold_target_s": 7.0}
    >>> plan_hold(pir, [good, good]).hold_s, plan_hold(pir, [good]).hold_s
    (8.0, 7.0)
    >>> plan_hold(pir, [good, {**good, "hold_target_s": 8.0, "pain": [{"value": 4}]}]).hold_s
    7.0
    >>> moved = {**good, "reps_done": 3, "reps_credited": 2}  # the joint moved in one rep
    >>> plan_hold(pir, [good, moved]).hold_s
    7.0
    """
    p = protocol
    base, step = p.hold_s, p.hold_step_s
    top = p.hold_longest_s
    if step <= 0:
        return HoldPlan(base, None, "off", "no progression in this protocol")
    same = [s for s in history if same_exercise(p, s)]
    if not same:
        return HoldPlan(base, None, "first", "first session of this exercise: the "
                        "prescribed hold")
    def hold_of(s: Mapping[str, Any]) -> float:
        h = s.get("hold_target_s")
        value = float(h) if isinstance(h, int | float) and not isinstance(h, bool) else base
        return round(min(max(value, base), top), 3)
    last = same[-1]
    current = hold_of(last)
    shorter = round(max(base, current - step), 3)
    longer = round(min(top, current + step), 3)
    quality = _quality(last)
    if _pain(last) > 0:
        return _plan(shorter, current, f"pain {_pain(last):g}/10 reported last session")
    if last.get("complete") and quality is not None and quality < p.regress_quality:
        return _plan(shorter, current, f"hold quality {100 * quality:.0f} % last session "
                     f"(below {100 * p.regress_quality:.0f} %)")
    recent = same[-p.progress_after:]
    good = len(recent) == p.progress_after and all(
        s.get("complete") and _pain(s) == 0 and hold_of(s) == current
        and (_quality(s) or 0.0) >= p.progress_quality and _all_credited(s) for s in recent)
    if good:
        return _plan(longer, current, f"{p.progress_after} complete, pain-free sessions in a "
                     f"row with hold quality of at least {100 * p.progress_quality:.0f} % "
                     "and every repetition credited")
    return HoldPlan(current, current, "same", "the same hold as last time")


def _plan(hold_s: float, current: float, why: str) -> HoldPlan:
    if hold_s > current:
        change = "longer"
    elif hold_s < current:
        change = "shorter"
    else:  # at the longest or the prescribed hold already
        return HoldPlan(hold_s, current, "same", f"{why}; the hold stays within its limits")
    return HoldPlan(hold_s, current, change, why)


def progressed(protocol: ExerciseProtocol,
               history: Sequence[Mapping[str, Any]]) -> ExerciseProtocol:
    """``protocol`` with this session's hold and the decision recorded in it (unchanged
    when the protocol has no progression)."""
    if protocol.hold_step_s <= 0:
        return protocol
    plan = plan_hold(protocol, history)
    return dataclasses.replace(protocol, hold_s=plan.hold_s,
                               progression=plan.as_dict(protocol.hold_s))
