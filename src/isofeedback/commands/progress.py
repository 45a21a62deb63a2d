"""``isofeedback progress``: a patient's range of motion and hold quality, session by session."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from isofeedback.coach.calibration_store import PatientStore, default_data_dir
from isofeedback.coach.progress import hold_text, progress_report
from isofeedback.commands.common import add_data_dir, counted, patient_id
from isofeedback.errors import ConfigError

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "progress",
        help="show a patient's progress across sessions (range of motion, hold quality)",
        description="Read the patient's stored session summaries and show, per session, the "
        "range of motion gained in the stretches and how well the holds were done.",
    )
    p.add_argument("--patient", type=patient_id, required=True, help="pseudonymous patient id")
    add_data_dir(p, f"folder of the patient store (default: {default_data_dir()})")
    p.set_defaults(run=run)


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _signed(value: float | None, digits: int) -> str:
    """``+1.5``, ``-2``; a change that rounds to zero is ``+0``, never ``-0``."""
    if value is None:
        return "-"
    return format(round(float(value), digits) + 0.0, f"+.{digits}f")


def run(args: argparse.Namespace) -> int:
    folder = Path(args.data_dir) if args.data_dir else default_data_dir()
    store = PatientStore(folder, args.patient)
    sessions = store.sessions()
    if not sessions:
        raise ConfigError(
            f"no sessions stored for patient {args.patient!r} in {folder} "
            "(run a session with --data-dir first, or check the folder)"
        )
    report = progress_report(sessions, hold=True)
    table = Table(title=f"Progress of {args.patient}: {counted(report['sessions'], 'session')}")
    rows = []
    for r in report["history"]:
        quality = None if r["hold_quality"] is None else 100.0 * r["hold_quality"]
        rows.append((
            str(r["wall"])[:16].replace("T", " "), r["group"],
            f"{r['reps_credited']}/{r['reps_planned']}", hold_text(r),
            _fmt(r["rom_deg"], ".1f"), _fmt(quality, ".0f"), _fmt(r["pain_max"], "g"),
            r["violations_text"] or "none",
        ))
    # Nothing a clinician reads is cut to an ellipsis on an 80-column terminal: the date and
    # time (which session) keep their width, the other columns fold what does not fit.
    table.add_column("when (UTC)", no_wrap=True, min_width=len("YYYY-MM-DD hh:mm"))
    for head in ("technique · muscle", "reps credited / planned", "hold s", "ROM °",
                 "hold quality %", "pain 0–10", "violations"):
        table.add_column(head, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    for g in report["groups"]:  # trends only within one technique and muscle
        if g["sessions"] < 2:
            console.print(f"{g['group']}: 1 session, the first: no change to show yet")
            continue
        console.print(
            f"{g['group']}: {counted(g['sessions'], 'session')}; ROM change since the "
            f"first: {_signed(g['rom_change_deg'], 1)}°; hold quality change: "
            f"{_signed(g['hold_quality_change_pp'], 0)} percentage points"
        )
    return 0
