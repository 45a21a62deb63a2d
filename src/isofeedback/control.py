"""Control commands: what a patient's app, the terminal or a signal may ask of a session.

Commands are data (design contract 7): a command enters the pure pipeline as a timestamped
input and is recorded with the number of packets the pipeline had seen when it was applied,
so a replay applies it at exactly the same point and reproduces the session.

A payload from the network is untrusted: :func:`parse_control` turns the bytes published on
``isofeedback/<patient>/control`` into a :class:`Control` or raises :class:`ControlRefused`
with one sentence saying why (the service answers it on the ack topic; nothing changes).

>>> c = parse_control(b'{"schema": 1, "command": "pain", "id": "a1", "value": 6}')
>>> c.command, c.value, c.id
('pain', 6.0, 'a1')
>>> parse_control(b'{"schema": 1, "command": "dance", "id": "a2"}')  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
isofeedback.control.ControlRefused: unknown command 'dance' (known: start, pause, ...)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from isofeedback.errors import IsofeedbackError

__all__ = [
    "COMMANDS",
    "MAX_PAYLOAD",
    "Control",
    "ControlRefused",
    "parse_control",
]

#: Every command a client may send, in the order the docs list them.
COMMANDS = ("start", "pause", "resume", "stop", "skip_rep", "pain")
SCHEMA_VERSION = 1
MAX_PAYLOAD = 1024  # bytes: a command is a few dozen; anything larger is refused unread
_MAX_ID = 64


class ControlRefused(IsofeedbackError):
    """A control message that cannot be acted on; ``id`` is the client's, if readable."""

    def __init__(self, reason: str, id: str = "", command: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.id = id
        self.command = command


@dataclass(frozen=True, slots=True)
class Control:
    """One command as the pipeline applies it.

    ``t`` is the session time it takes effect (set when applied); ``origin`` says who
    asked (``mqtt``, ``keyboard``, ``signal:SIGTERM``, ``session``) for the record."""

    command: str
    id: str = ""
    value: float | None = None
    t: float = 0.0
    origin: str = ""

    def __post_init__(self) -> None:
        if self.command not in COMMANDS:
            raise ValueError(f"unknown control command {self.command!r}")

    def at(self, t: float) -> Control:
        """The same command, taking effect at session time ``t``."""
        return Control(self.command, self.id, self.value, t, self.origin)

    def as_dict(self) -> dict[str, Any]:
        return {"command": self.command, "id": self.id, "value": self.value, "t": self.t,
                "origin": self.origin}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Control:
        """A recorded control (see :meth:`as_dict`); ValueError/TypeError/KeyError when
        damaged — the recording reader turns those into a RecordingError."""
        value = doc.get("value")
        return cls(str(doc["command"]), str(doc.get("id", "")),
                   None if value is None else float(value), float(doc["t"]),
                   str(doc.get("origin", "")))


def parse_control(payload: bytes) -> Control:
    """The command in an MQTT control payload, validated; :class:`ControlRefused` if not."""
    if len(payload) > MAX_PAYLOAD:
        raise ControlRefused(f"message too large ({len(payload)} bytes; at most {MAX_PAYLOAD})")
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise ControlRefused("not a JSON object") from None
    if not isinstance(doc, dict):
        raise ControlRefused("not a JSON object")
    raw_id = doc.get("id", "")
    cid = raw_id if isinstance(raw_id, str) else ""
    command = doc.get("command")
    name = command if isinstance(command, str) else ""
    if not isinstance(raw_id, str) or not 1 <= len(raw_id) <= _MAX_ID or not raw_id.isprintable():
        raise ControlRefused(f"'id' must be a string of 1–{_MAX_ID} printable characters",
                             "", name)
    if doc.get("schema") != SCHEMA_VERSION:
        raise ControlRefused(f"'schema' must be {SCHEMA_VERSION}, got {doc.get('schema')!r}",
                             cid, name)
    if command not in COMMANDS:
        raise ControlRefused(f"unknown command {command!r} (known: {', '.join(COMMANDS)})",
                             cid, name)
    unknown = set(doc) - {"schema", "command", "id", "value"}
    if unknown:
        raise ControlRefused(f"unknown field(s): {', '.join(sorted(unknown))}", cid, name)
    value = doc.get("value")
    if command == "pain":
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or not 0 <= value <= 10):
            raise ControlRefused(f"pain needs 'value' from 0 to 10, got {value!r}", cid, name)
        return Control(command, cid, float(value), origin="mqtt")
    if value is not None:
        raise ControlRefused(f"'{command}' takes no 'value'", cid, name)
    return Control(command, cid, origin="mqtt")
