"""``isofeedback report FILE``: a session report for the clinician (HTML) and for systems
(JSON), from the recorded live outputs, or by replaying when there are none."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from isofeedback.coach.protocol import find_protocol
from isofeedback.commands.common import sample_rate
from isofeedback.errors import RecordingError
from isofeedback.files import open_private
from isofeedback.recording.reader import RecordingReader
from isofeedback.recording.report import build_report, report_html
from isofeedback.research.replay import is_foreign, replay

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="write a session report (HTML page with a picture, and JSON)",
        description="Summarise a session for a clinician: reps, hold times, intensity, "
        "violations, relaxation and range of motion per rep, and a picture of intensity and "
        "joint angle over time with events and phases.",
    )
    p.add_argument("file", type=Path, help="a recording (.isorec), or CSV/EDF/BDF data")
    p.add_argument("--out", type=Path, metavar="BASE",
                   help="write BASE.html and BASE.json (default: next to FILE)")
    p.add_argument("--replay", action="store_true",
                   help="replay instead of using the recorded live outputs")
    p.add_argument("--fs", type=sample_rate, help="sample rate of a CSV file without a time column")
    p.add_argument("--protocol", default="pir", help="protocol for foreign data (default pir)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path: Path = args.file
    if is_foreign(path):
        result = replay(path, fs=args.fs, protocol=find_protocol(args.protocol))
        outputs, meta = result.outputs, {**result.meta, "session": result.session}
    else:
        with RecordingReader(path) as reader:
            meta = dict(reader.meta)
            outputs = [] if args.replay else reader.outputs()
            meta["protocol_name"] = reader.protocol().name
        if not any(getattr(o, "kind", "") == "level" for o in outputs):
            outputs = replay(path).outputs
    report = build_report(outputs, meta)
    base = args.out or path.with_suffix("")
    try:
        with open_private(base.with_suffix(".json")) as f:
            f.write(json.dumps(report, indent=1))
        with open_private(base.with_suffix(".html")) as f:
            f.write(report_html(report))
    except OSError as exc:
        raise RecordingError(f"cannot write the report next to {base}: {exc}") from None
    print(f"{report['reps_done']}/{report['reps_planned']} reps, mean hold "
          f"{report['mean_hold_s']} s, violations: {', '.join(report['violations']) or 'none'}")
    print(f"report: {base.with_suffix('.html')} (and .json)")
    return 0
