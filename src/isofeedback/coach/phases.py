"""The coach's phases: one typed vocabulary for the coach, the report and the simulator.

The values are the ``phase`` strings of the session-state messages (``docs/mqtt.md``), so
a ``Phase`` compares equal to the string a display receives.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ACTIVE", "REP_PHASES", "Phase"]


class Phase(StrEnum):
    """Where the session is. ``MVC_CONTRACTING`` and ``REFERENCE_CONTRACTING`` are internal
    (the calibration contraction is under way; displays keep showing ``mvc``/``reference``).
    ``REFERENCE`` asks for the gentle reference contraction that sets the intensity scale
    when no maximal contraction may be asked (``intensity_unit = "%ref"``)."""

    CALIBRATING = "calibrating"
    MVC = "mvc"
    MVC_CONTRACTING = "mvc_contracting"
    REFERENCE = "reference"
    REFERENCE_CONTRACTING = "reference_contracting"
    RECOVERING = "recovering"
    WAITING = "waiting"
    CONTRACTING = "contracting"
    HOLDING = "holding"
    RELEASING = "releasing"
    RELAXING = "relaxing"
    STRETCHING = "stretching"
    PAUSED = "paused"
    DONE = "done"
    STOPPED = "stopped"
    DETECTING = "detecting"  # no coach: the pipeline only detects (foreign data, research)


# a contraction is under way: a pause cannot freeze it, the repetition is repeated
ACTIVE = frozenset({Phase.CONTRACTING, Phase.HOLDING, Phase.RELEASING})
# phases that belong to a repetition (skip_rep applies)
REP_PHASES = frozenset({Phase.WAITING, *ACTIVE, Phase.RELAXING, Phase.STRETCHING})
# the rest, the gentle reference or the maximal contraction is being measured: the level is
# in multiples of the rest noise and the protocol's band does not apply to it yet
MEASURING = frozenset({Phase.CALIBRATING, Phase.MVC, Phase.MVC_CONTRACTING, Phase.REFERENCE,
                       Phase.REFERENCE_CONTRACTING})
