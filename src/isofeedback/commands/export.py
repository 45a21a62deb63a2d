"""``isofeedback export FILE --format bdf|edf|csv``: a recording in a standard format.

BDF+ (24 bit, the default: EMG needs the resolution) or EDF+ (16 bit) with the session's
events, phases, cues and gaps as annotations (EMG-BIDS style), or CSV with an events file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from isofeedback.recording.export import EXPORT_FORMATS, export_recording
from isofeedback.recording.reader import RecordingReader

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="export a recording to BDF+/EDF+ or CSV",
        description="Write a recording's samples in a standard format, with events as "
        "annotations (BDF+/EDF+) or in a <name>.events.csv file (CSV).",
    )
    p.add_argument("file", type=Path, help="a native recording (.isorec)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="bdf",
                   help="bdf (24 bit, default), edf (16 bit) or csv")
    p.add_argument("--out", type=Path, metavar="FILE",
                   help="output file (default: FILE with the format's extension)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = args.out or args.file.with_suffix(f".{args.format}")
    with RecordingReader(args.file) as reader:
        export_recording(reader, out, args.format)
        damage = reader.damage
    print(f"wrote {out}")
    if damage:
        print(f"warning: {args.file}: {damage}")
    return 0
