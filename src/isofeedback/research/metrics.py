"""Per-replay metrics: one flat row per recording, the columns of the summary table.

The row is what a folder replay writes to CSV and what a Dask run returns, so it holds
plain values only (str, int, float, bool) and pickles to any worker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from isofeedback.detectors.retraction import confirmed
from isofeedback.types import EventType

if TYPE_CHECKING:
    from isofeedback.research.replay import ReplayResult

__all__ = ["COLUMNS", "error_row", "row"]

COLUMNS = ["file", "session", "kind", "simulated", "duration_s", "wall_s", "speed_x",
           "packets", "bad_packets", "gaps", "lost_s", "onsets", "releases", "retracted",
           "movements",
           "reps_done", "reps_planned", "mean_hold_s", "violations", "complete", "damage",
           "verified", "file_s", "stopped", "error"]


def row(result: ReplayResult) -> dict[str, Any]:
    """The summary-table row of one replay."""
    events = result.events
    # contractions: the onsets and releases no ``retracted`` event withdrew (a blip
    # shorter than a contraction); how many were withdrawn in a column of its own
    counts: dict[str, int] = {}
    for ev in confirmed(events):
        counts[ev.type.value] = counts.get(ev.type.value, 0) + 1
    retracted = sum(ev.type == EventType.RETRACTED for ev in events)
    s = result.summary
    coached = result.protocol is not None
    return {
        "file": result.path.name, "session": result.session, "kind": result.kind,
        "simulated": result.simulated, "duration_s": round(result.session_s, 3),
        "wall_s": round(result.wall_s, 3),
        "speed_x": round(result.session_s / result.wall_s, 1) if result.wall_s > 0 else "",
        "packets": result.stats.packets, "bad_packets": result.stats.bad_packets,
        "gaps": result.stats.gaps, "lost_s": round(result.stats.lost_s, 3),
        "onsets": counts.get("onset", 0), "releases": counts.get("release", 0),
        "retracted": retracted, "movements": counts.get("movement", 0),
        # detection only (foreign data without --protocol): no reps to count; no rep
        # done: no hold to average. Blank, not 0 or 0.0, which a column's mean would take
        # for values (a folder's mean hold pulled down by every file without one)
        "reps_done": s.get("reps_done", 0) if coached else "",
        "reps_planned": s.get("reps_planned", 0) if coached else "",
        "mean_hold_s": s.get("mean_hold_s", "") if coached and s.get("reps_done") else "",
        "violations": ";".join(s.get("violations", [])),
        "complete": result.complete, "damage": result.damage or "",
        "verified": "" if result.verified is None else result.verified,
        "file_s": "" if result.file_s is None else round(result.file_s, 3),
        "stopped": result.stopped or "",
        "error": "",
    }


def error_row(file: str, error: str) -> dict[str, Any]:
    """The row of a recording that could not be replayed: its name and the reason."""
    return {**dict.fromkeys(COLUMNS, ""), "file": file, "error": error}
