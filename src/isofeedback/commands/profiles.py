"""``isofeedback profiles``: list the firmware profiles or validate one file."""

from __future__ import annotations

import argparse
from typing import Any

from isofeedback.profiles.schema import available_profiles, find_profile, load_profile

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "profiles",
        help="list firmware profiles, or validate a profile file",
        description="List the firmware profiles isofeedback knows, with their streams; "
        "with --check FILE, validate a profile you wrote for a new device.",
    )
    p.add_argument("--check", metavar="FILE", help="validate this profile file and show it")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.check:
        profiles = [load_profile_path(args.check)]
    else:
        profiles = [find_profile(name) for name in sorted(available_profiles())]
    for prof in profiles:
        streams = ", ".join(f"{s.name} {s.fs:g} Hz x{len(s.channels)} [{s.unit}]"
                            for s in prof.streams)
        print(f"{prof.id:10s} {prof.name} (confidence: {prof.confidence})\n{'':10s} {streams}")
    if args.check:
        print(f"{args.check}: valid")
    return 0


def load_profile_path(path: str) -> Any:
    from pathlib import Path

    return load_profile(Path(path))
