"""Command line: ``isofeedback <command>``.

Each command lives in its own module under ``isofeedback.commands`` with ``register``
(adds its sub-parser) and ``run`` (returns an exit code). Expected failures raise an
:class:`IsofeedbackError` and become one clear line on stderr with a non-zero exit code,
never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from isofeedback import __version__
from isofeedback.errors import IsofeedbackError

__all__ = ["COMMANDS", "SUMMARIES", "build_parser", "main"]

# module names under isofeedback.commands, in the order --help lists them
COMMANDS = [
    "demo", "run", "scan", "virtual_device", "replay", "report", "export", "eval", "progress",
    "profiles", "doctor", "service",
]

# Each command's one-line help, so that ``isofeedback --help`` (and any one command) does
# not import every command module: they pull in numpy, scipy and asyncio, which took 1 s
# before anything was printed. Only the command on the line is imported. A command missing
# here is imported to list it; a test keeps these equal to the help the modules register.
SUMMARIES = {
    "demo": "run a simulated PIR/MET session end to end (no hardware, no broker needed)",
    "run": "run the live service with real (or virtual) BLE wearables",
    "scan": "list nearby Bluetooth devices and the firmware profile each matches",
    "virtual_device": "simulate a BLE wearable (no radio) for 'isofeedback run' in another "
    "shell",
    "replay": "replay a recording (or a folder of them) through the pipeline",
    "report": "write a session report (HTML page with a picture, and JSON)",
    "export": "export a recording to BDF+/EDF+, an EMG-BIDS dataset or CSV",
    "eval": "measure onset, release and movement detection on labelled data",
    "progress": "show a patient's progress across sessions (range of motion, hold quality)",
    "profiles": "list firmware profiles, or validate a profile file",
    "doctor": "check that this computer can run the service (Bluetooth, broker, disk, clock)",
    "service": "run as the home gateway's service, or install it (systemd)",
}


class _Parser(argparse.ArgumentParser):
    """argparse that says what to do next on a usage error (exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _chosen(argv: Sequence[str]) -> str | None:
    """The command module named on the line (the first word that is not an option)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    if word is None:
        return None
    name = word.replace("-", "_")
    return name if name in COMMANDS else None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full parser (``argv`` None), or one for ``argv`` that imports only the command
    it names and lists the others by their :data:`SUMMARIES`."""
    parser = _Parser(
        prog="isofeedback",
        description="Live EMG/IMU biofeedback for isometric exercise (PIR, MET): BLE "
        "wearables in, coaching and MQTT feedback out, every session recorded.",
    )
    parser.add_argument("--version", action="version", version=f"isofeedback {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    chosen = None if argv is None else _chosen(argv)
    for name in COMMANDS:
        if argv is not None and name != chosen and name in SUMMARIES:
            sub.add_parser(name.replace("_", "-"), help=SUMMARIES[name])
        else:
            importlib.import_module(f"isofeedback.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    # force: each call writes to the standard error of its time (a second main() in one
    # process, as in tests, must not log into a stream that has since been closed)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
        force=True,
    )
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except IsofeedbackError as exc:
        print(f"isofeedback: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("isofeedback: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last handler: one sentence, the details in a file
        where = _log_crash(exc)
        print(f"isofeedback: unexpected error ({type(exc).__name__}: {exc}); this is a bug. "
              f"{where}", file=sys.stderr)
        return 70  # EX_SOFTWARE


def _log_crash(exc: BaseException) -> str:
    """Write the traceback to an owner-only file under the state folder; return a sentence
    saying where (or that it could not be written)."""
    import os
    import time
    import traceback
    from pathlib import Path

    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    folder = Path(base) / "isofeedback"
    path = folder / f"crash-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
    text = "".join(traceback.format_exception(exc))
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"isofeedback {__version__}: {' '.join(sys.argv)}\n{text}")
    except OSError:
        logging.getLogger(__name__).debug("crash log not written", exc_info=True)
        return "Run it again with -v to see the details."
    return f"The details were written to {path}; please include that file in a report."


if __name__ == "__main__":
    sys.exit(main())
