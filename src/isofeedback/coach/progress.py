"""Progress across sessions of one patient: range of motion and hold quality over time.

Pure: it reads the session summaries the coach produced (kept by the per-patient store)
and says, session by session, how far the stretch went and how well the holds were done,
with the change since the first session. A trend, not a diagnosis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["progress_report"]


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def progress_report(sessions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-session ROM and hold quality, and their change from the first to the last session.

    >>> s = [{"session": "a", "wall": "d1", "rom_deg": 8.0, "hold_quality": 0.7, "reps_done": 3},
    ...      {"session": "b", "wall": "d2", "rom_deg": 11.0, "hold_quality": 0.9, "reps_done": 3}]
    >>> r = progress_report(s)
    >>> r["sessions"], r["rom_change_deg"], r["hold_quality_change"]
    (2, 3.0, 0.2)
    """
    rows = []
    for s in sessions:
        rows.append(
            {
                "session": s.get("session", ""),
                "wall": s.get("wall", ""),
                "technique": s.get("technique", ""),
                "reps_done": s.get("reps_done", 0),
                "reps_planned": s.get("reps_planned", 0),
                "complete": bool(s.get("complete", False)),
                "rom_deg": _num(s.get("rom_deg")),
                "hold_quality": _num(s.get("hold_quality")),
                "violations": len(s.get("violations", []) or []),
            }
        )
    roms = [r["rom_deg"] for r in rows if r["rom_deg"] is not None]
    holds = [r["hold_quality"] for r in rows if r["hold_quality"] is not None]
    return {
        "sessions": len(rows),
        "history": rows,
        "rom_change_deg": round(roms[-1] - roms[0], 2) if len(roms) >= 2 else None,
        "hold_quality_change": round(holds[-1] - holds[0], 2) if len(holds) >= 2 else None,
        "best_rom_deg": max(roms) if roms else None,
    }
