"""``isofeedback export FILE --format bdf|edf|csv|bids``: a recording in a standard format.

BDF+ (24 bit, the default: EMG needs the resolution) or EDF+ (16 bit) with the session's
events, phases, cues and gaps as annotations; an EMG-BIDS dataset folder (the BDF+ file
with its JSON and TSV sidecars); or CSV with an events file.
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
        help="export a recording to BDF+/EDF+, an EMG-BIDS dataset or CSV",
        description="Write a recording's samples in a standard format, with events as "
        "annotations (BDF+/EDF+), as an EMG-BIDS dataset (sub-*/ses-*/emg/ with the BDF+ "
        "file and its _emg.json, _channels.tsv and _events.tsv sidecars; several sessions "
        "can share one dataset folder) or in a <name>.events.csv file (CSV).",
    )
    p.add_argument("file", type=Path, help="a native recording (.isorec)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="bdf",
                   help="bdf (24 bit, default), edf (16 bit), bids or csv")
    p.add_argument("--out", type=Path, metavar="PATH",
                   help="output file, or for bids the dataset folder (default: FILE with "
                   "the format's extension; for bids a folder 'bids' beside FILE)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    default = (args.file.parent / "bids" if args.format == "bids"
               else args.file.with_suffix(f".{args.format}"))
    out = args.out or default
    with RecordingReader(args.file) as reader:
        written = export_recording(reader, out, args.format)
        damage = reader.damage
    print(f"wrote {written}")
    if damage:
        print(f"warning: {args.file}: {damage}")
    return 0
