"""One cue arbiter: contradictory cues never go out together, every warning has an end.

The coach produces its feedback for one input (a tick, a detection, a command) as one list:
that list is one instant for the patient. The arbiter settles it before it leaves:

* when two cues that contradict each other fall in the same instant (e.g. "Let the muscle
  go completely." and "Now gently move further, to where you first feel the stretch."),
  only the one that dominates goes out — safety first, then the technique's warnings, then
  instructions;
* a warning stays *active* until its end, and its end is announced with a ``cleared`` cue
  (``{"id": "cleared", "clears": "<warning id>", "text": ""}``) so a display can take it
  down: either the coach clears it when the condition is over (the joint is still again,
  the intensity is back in the band, the muscle relaxed, the sensor is back), or at the
  latest when the session leaves the phases in which it applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from isofeedback.coach.phases import Phase
from isofeedback.types import Feedback

__all__ = ["CLEARED", "DOMINATES", "FINAL", "WARNING_SCOPE", "CueArbiter"]

CLEARED = "cleared"

_P = Phase
# warning id -> phases in which it stays true; leaving them ends it
WARNING_SCOPE: Mapping[str, frozenset[Phase]] = {
    "keep_still": frozenset({_P.CONTRACTING, _P.HOLDING}),
    "gentler": frozenset({_P.HOLDING}),
    "stronger": frozenset({_P.HOLDING}),
    "relax_fully": frozenset({_P.RELAXING}),
    "no_contraction": frozenset({_P.WAITING}),
    "released_early": frozenset({_P.CONTRACTING, _P.HOLDING, _P.RELEASING, _P.RELAXING}),
    "release": frozenset({_P.RELEASING, _P.RELAXING}),  # the no_release warning
    "signal_lost": frozenset({_P.PAUSED}),
    "mvc_retry": frozenset({_P.MVC, _P.MVC_CONTRACTING}),
    "reference_retry": frozenset({_P.REFERENCE, _P.REFERENCE_CONTRACTING}),
    "recalibrate": frozenset({_P.CALIBRATING, _P.MVC, _P.MVC_CONTRACTING, _P.RECOVERING}),
}
# the session's last words: nothing follows them, they stay shown
FINAL = frozenset({"session_stopped", "calibration_failed", "pain_stop", "session_ended",
                   "rom_plateau", "sensor_gone"})

_INSTRUCTIONS = frozenset({
    "contract", "contract_antagonist", "hold", "release", "stretch", "stretch_hold",
    "next_rep", "repeat_rep", "repeat_broken", "mvc", "mvc_retry", "reference",
    "stronger", "gentler", "relax_fully", "keep_still", "calibrate_rest",
})
# cue -> cues it silences when both fall in the same instant
DOMINATES: Mapping[str, frozenset[str]] = {
    **{final: _INSTRUCTIONS for final in FINAL},
    "signal_lost": _INSTRUCTIONS,
    "paused": _INSTRUCTIONS,
    "relax_fully": frozenset({"stretch", "stretch_hold", "contract", "contract_antagonist",
                              "hold"}),
    "keep_still": frozenset({"stretch", "stretch_hold"}),
    "pain_switch": _INSTRUCTIONS - {"contract_antagonist", "calibrate_rest"},
    "release": frozenset({"hold", "contract", "stronger"}),
}


@dataclass
class CueArbiter:
    """The active warnings of one session, and the rules above."""

    def __post_init__(self) -> None:
        self.active: dict[str, float] = {}  # warning id -> when it was (last) given

    def settle(self, out: list[Feedback], rep: int) -> list[Feedback]:
        """``out`` as it may go to the patient: silenced contradictions, warnings ended
        by a phase change announced just before it, new warnings remembered."""
        ids = {str(o.payload.get("id")) for o in out if o.kind == "cue"}
        silenced = set().union(*(DOMINATES.get(i, frozenset()) for i in ids)) & ids
        settled: list[Feedback] = []
        for o in out:
            if o.kind == "cue":
                cue_id = str(o.payload.get("id"))
                if cue_id in silenced:
                    continue
                if o.payload.get("severity") == "warning" and cue_id in WARNING_SCOPE:
                    self.active[cue_id] = o.t
            elif o.kind == "phase":
                phase = Phase(o.payload["phase"])
                ended = [w for w in self.active if phase not in WARNING_SCOPE[w]]
                settled += self._clear(ended, o.t, rep)
            settled.append(o)
        return settled

    def any_active(self, cue_ids: Iterable[str]) -> bool:
        """Whether any of these warnings is active (:meth:`clear` would say something)."""
        return any(c in self.active for c in cue_ids)

    def clear(self, cue_ids: Iterable[str], t: float, rep: int) -> list[Feedback]:
        """End these warnings now (those that are active)."""
        return self._clear([c for c in cue_ids if c in self.active], t, rep)

    def _clear(self, cue_ids: list[str], t: float, rep: int) -> list[Feedback]:
        out = []
        for cue_id in cue_ids:
            del self.active[cue_id]
            payload: dict[str, Any] = {"id": CLEARED, "text": "", "severity": "info",
                                       "rep": rep, "clears": cue_id}
            out.append(Feedback("cue", t, payload))
        return out
