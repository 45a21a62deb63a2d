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

__all__ = ["COMMANDS", "build_parser", "main"]

# module names under isofeedback.commands, in the order --help lists them
COMMANDS = [
    "demo", "run", "scan", "virtual_device", "replay", "report", "export", "eval", "progress",
    "profiles", "doctor", "service",
]


class _Parser(argparse.ArgumentParser):
    """argparse that says what to do next on a usage error (exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="isofeedback",
        description="Live EMG/IMU biofeedback for isometric exercise (PIR, MET): BLE "
        "wearables in, coaching and MQTT feedback out, every session recorded.",
    )
    parser.add_argument("--version", action="version", version=f"isofeedback {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"isofeedback.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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
