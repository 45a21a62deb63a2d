"""Progress across sessions of one patient: range of motion and hold quality over time.

Pure: it reads the session summaries the coach produced (kept by the per-patient store)
and says, session by session, how far the stretch went and how well the holds were done.
Trends are kept apart per technique (PIR, MET, MET with reciprocal inhibition) and muscle:
a ROM reached with one technique on one muscle says nothing about another. Hold quality
is a fraction (0–1); its change is given in percentage points. A trend, not a diagnosis.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["count_violations", "group_key", "hold_text", "progress_report"]


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def group_key(summary: Mapping[str, Any]) -> str:
    """``technique[/ri] · muscle [side]``: the sessions whose trends may be compared."""
    technique = str(summary.get("technique") or "?").upper()
    if summary.get("variant") == "reciprocal_inhibition":  # a MET variant, also after pain
        technique = "MET (reciprocal inhibition)"
    muscle = str(summary.get("muscle") or "muscle not named")
    side = str(summary.get("side") or "")
    return f"{technique} · {muscle}{' ' + side if side else ''}"


def count_violations(names: Sequence[Any]) -> str:
    """``too_strong ×3, moved ×1`` (most frequent first); ``""`` when there are none.

    >>> count_violations(["too_strong", "moved", "too_strong"])
    'too_strong ×2, moved ×1'
    """
    return ", ".join(f"{k} ×{n}" for k, n in Counter(map(str, names)).most_common())


def _hold_change(summary: Mapping[str, Any]) -> float | None:
    prog = summary.get("hold_progression") or {}
    hold, before = _num(prog.get("hold_s")), _num(prog.get("previous_s"))
    if prog.get("change") not in ("longer", "shorter") or hold is None or before is None:
        return None
    return round(hold - before, 2)


def hold_text(row: Mapping[str, Any]) -> str:
    """``8 (+1)``: a session's hold in seconds and its change by the progression rule.

    >>> hold_text({"hold_s": 8.0, "hold_change_s": 1.0}), hold_text({"hold_s": 7.0})
    ('8 (+1)', '7')
    """
    hold, change = row.get("hold_s"), row.get("hold_change_s")
    if hold is None:
        return "-"
    return f"{hold:g}" + (f" ({change:+g})" if change else "")


def _change(values: list[float]) -> float | None:
    return round(values[-1] - values[0], 2) if len(values) >= 2 else None


def progress_report(sessions: Sequence[Mapping[str, Any]], *, hold: bool = False
                    ) -> dict[str, Any]:
    """Per-session ROM and hold quality, grouped by technique and muscle, with the change
    from the first to the last session of each group. The top-level changes are those of
    the latest session's group. ``hold``: also each session's contraction hold and its
    change by the progression rule (the clinician's report and ``progress`` show it; the
    coach's end-of-session ``progress`` message keeps its fields, so recordings replay).

    >>> s = [{"session": "a", "wall": "d1", "rom_deg": 8.0, "hold_quality": 0.7, "reps_done": 3},
    ...      {"session": "b", "wall": "d2", "rom_deg": 11.0, "hold_quality": 0.9, "reps_done": 3}]
    >>> r = progress_report(s)
    >>> r["sessions"], r["rom_change_deg"], r["hold_quality_change_pp"]
    (2, 3.0, 20.0)
    """
    rows = []
    for s in sessions:
        names = list(s.get("violations", []) or [])
        pain = [_num(p.get("value")) for p in s.get("pain", []) or [] if isinstance(p, Mapping)]
        rows.append(
            {
                "session": s.get("session", ""),
                "wall": s.get("wall", ""),
                "technique": s.get("technique", ""),
                "group": group_key(s),
                "reps_done": s.get("reps_done", 0),
                "reps_credited": s.get("reps_credited", s.get("reps_done", 0)),
                "reps_planned": s.get("reps_planned", 0),
                "complete": bool(s.get("complete", False)),
                "rom_deg": _num(s.get("rom_deg")),
                "hold_quality": _num(s.get("hold_quality")),
                "violations": len(names),
                "violations_text": count_violations(names),
                "pain_max": max((p for p in pain if p is not None), default=None),
                # the prescribed contraction of that session and how the progression rule
                # changed it from the last one (seconds; None: not changed)
                **({"hold_s": _num(s.get("hold_target_s")), "hold_change_s": _hold_change(s)}
                   if hold else {}),
                "stop_reason": s.get("stop_reason", "") or s.get("early_end", ""),
            }
        )
    groups: dict[str, dict[str, Any]] = {}
    for r in rows:
        g = groups.setdefault(r["group"], {"group": r["group"], "sessions": 0, "rom": [],
                                            "quality": [], "hold": []})
        g["sessions"] += 1
        if r.get("hold_s") is not None:
            g["hold"].append(r["hold_s"])
        if r["rom_deg"] is not None:
            g["rom"].append(r["rom_deg"])
        if r["hold_quality"] is not None:
            g["quality"].append(r["hold_quality"])
    trends = [
        {
            "group": g["group"],
            "sessions": g["sessions"],
            "rom_change_deg": _change(g["rom"]),
            "best_rom_deg": max(g["rom"]) if g["rom"] else None,
            # the contraction's hold: where the progression rule has taken it (seconds)
            **({"hold_first_s": g["hold"][0] if g["hold"] else None,
                "hold_last_s": g["hold"][-1] if g["hold"] else None} if hold else {}),
            "hold_quality_change_pp": (None if _change(g["quality"]) is None
                                       else round(100.0 * (g["quality"][-1] - g["quality"][0]),
                                                  1)),
        }
        for g in groups.values()
    ]
    latest = next((t for t in trends if rows and t["group"] == rows[-1]["group"]), None)
    roms = [r["rom_deg"] for r in rows if r["rom_deg"] is not None]
    return {
        "sessions": len(rows),
        "history": rows,
        "groups": trends,
        "rom_change_deg": latest["rom_change_deg"] if latest else None,
        "hold_quality_change_pp": latest["hold_quality_change_pp"] if latest else None,
        # the same as a fraction (0–1), kept for clients of the first schema
        "hold_quality_change": (None if not latest or latest["hold_quality_change_pp"] is None
                                else round(latest["hold_quality_change_pp"] / 100.0, 3)),
        "best_rom_deg": max(roms) if roms else None,
        "violations": count_violations([v for s in sessions for v in s.get("violations", [])
                                        or []]),
    }
