"""Service logs that read well in the journal: one line per event, a level, never a secret.

``text`` (default): ``LEVEL logger: message``. Under systemd (``JOURNAL_STREAM`` set: the
output goes to the journal) each line starts with the syslog priority ``<N>``, which
journald turns into the entry's priority (``journalctl -p warning`` then works) and strips;
elsewhere a time stamp leads. ``json``: one JSON object per line (``t``, ``level``,
``logger``, ``msg``), for log shippers.

Every line is made single-line (a multi-line message would become several journal
entries) and every known secret (the broker password) is replaced by ``***``.

The session's console output (what ``run`` prints for a person at a terminal) becomes log
lines through :class:`ConsoleLog`, so the service has one output: the log.

>>> import io
>>> out = io.StringIO()
>>> setup_logging("json", secrets=["s3cret"], stream=out, env={})
>>> logging.getLogger("isofeedback.test").warning("login with s3cret\\nfailed")
>>> json.loads(out.getvalue())["msg"]
'login with *** | failed'
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from typing import IO, Any

from isofeedback.checks import choice

__all__ = ["FORMATS", "ConsoleLog", "setup_logging"]

FORMATS = ("text", "json")

# logging level → syslog priority (sd-daemon(3) prefixes)
_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6,
             logging.DEBUG: 7}


class _Formatter(logging.Formatter):
    def __init__(self, fmt: str, journal: bool, secrets: Iterable[str]) -> None:
        super().__init__()
        self.fmt = fmt
        self.journal = journal
        self.secrets = tuple(s for s in secrets if s)

    def _clean(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        return " | ".join(part for part in text.splitlines() if part.strip()) or text.strip()

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.exc_info and record.levelno >= logging.ERROR:
            exc = record.exc_info[1]
            msg = f"{msg} ({type(exc).__name__}: {exc})"
        msg = self._clean(msg)
        if self.fmt == "json":
            return json.dumps({
                "t": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                + f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(), "logger": record.name, "msg": msg,
            }, ensure_ascii=False)
        line = f"{record.levelname} {record.name}: {msg}"
        if self.journal:
            return f"<{_PRIORITY.get(record.levelno, 6)}>{line}"
        return f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {line}"


def setup_logging(fmt: str, secrets: Iterable[str] = (), level: int = logging.INFO,
                  stream: IO[str] | None = None, env: Mapping[str, str] | None = None) -> None:
    """Replace the root logger's handlers with one service handler (``fmt``: text/json)."""
    choice(fmt, "--log-format", FORMATS)
    env = os.environ if env is None else env
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Formatter(fmt, bool(env.get("JOURNAL_STREAM")), secrets))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("amqtt", "transitions", "bleak", "dbus_fast"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


_BOX = re.compile("[\u2500-\u257f]")


def _plain(line: str) -> str:
    """A table row without its box drawing: cells joined by '|', spaces collapsed."""
    text = _BOX.sub("|", line).strip().strip("|").strip()
    return re.sub(r"\s*\|\s*", " | ", re.sub(r" {2,}", " ", text))


class ConsoleLog:
    """A text stream for ``rich.console.Console(file=...)``: what one ``print`` wrote is one
    INFO record of ``logger`` (rich writes a print's whole output at once), so a table is
    one journal entry ("rep | hold s | … / 1 | 6.8 | …"), its borders dropped.

    >>> import io
    >>> out = io.StringIO()
    >>> setup_logging("text", stream=out, env={"JOURNAL_STREAM": "8:1"})
    >>> _ = ConsoleLog().write("┏━━━━━┳━━━━┓\\n┃ rep ┃ hold ┃\\n│ 1   │ 6.8  │\\n└─────┴────┘\\n")
    >>> out.getvalue()
    '<6>INFO isofeedback.session: rep | hold / 1 | 6.8\\n'
    """

    def __init__(self, logger: str = "isofeedback.session") -> None:
        self.log = logging.getLogger(logger)
        self._buf = ""

    def write(self, text: str) -> int:
        self._buf += text
        done, sep, self._buf = self._buf.rpartition("\n")
        if sep:
            self._emit(done)
        return len(text)

    def _emit(self, text: str) -> None:
        lines = [_plain(x) for x in text.split("\n")]
        lines = [x for x in lines if x]
        if lines:
            self.log.info("%s", " / ".join(lines))

    def flush(self) -> None:
        if self._buf:
            self._emit(self._buf)
        self._buf = ""

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:  # fileno etc.: not a real file
        raise AttributeError(name)
