"""The native recording format: one SQLite file (WAL mode), described in one place.

Why SQLite: it is crash-safe by construction (a transaction is either in the file or not),
one file, readable from every language, and queryable by researchers with plain SQL. A
commit at most every half second bounds what a crash can lose. The tables:

``meta(key, value)``         format, version, ids, start time, protocol, config (JSON text)
``profiles(device, …, toml)`` the firmware profile *text* used, so a replay never depends on
                             the profile files of the day
``channels(id, device, characteristic)``  small ids, so a packet row does not repeat UUIDs
``packets(t, chan, data)``   every raw notification with its arrival time (session seconds)
``outputs(seq, t, kind, doc)`` every event and feedback the live run produced (lossless JSON)
``notes(t, wall, kind, doc)`` status notes: gaps, device availability, MQTT overflow, …

Outputs are stored losslessly here (exact floats), unlike the MQTT payloads that
``sinks.messages.Serializer`` rounds for display: the recording is what ``--verify``
compares a replay against, so it must be exact.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from isofeedback.types import Event, EventType, Feedback

__all__ = [
    "APPLICATION_ID",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SCHEMA",
    "SUFFIX",
    "decode_output",
    "encode_output",
]

FORMAT_NAME = "isofeedback-recording"
FORMAT_VERSION = 1
APPLICATION_ID = 0x49534F46  # "ISOF" in the SQLite header: tells our files from others
SUFFIX = ".isorec"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE profiles (device TEXT PRIMARY KEY, profile_id TEXT NOT NULL, toml TEXT NOT NULL);
CREATE TABLE channels (id INTEGER PRIMARY KEY, device TEXT NOT NULL,
                       characteristic TEXT NOT NULL);
CREATE TABLE packets (t REAL NOT NULL, chan INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE outputs (seq INTEGER PRIMARY KEY, t REAL NOT NULL, kind TEXT NOT NULL,
                      doc TEXT NOT NULL);
CREATE TABLE notes (t REAL NOT NULL, wall REAL NOT NULL, kind TEXT NOT NULL,
                    doc TEXT NOT NULL);
"""


def _plain(value: Any) -> Any:
    """JSON-ready copy; numpy scalars and arrays become Python numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def encode_output(item: Event | Feedback) -> tuple[str, float, str]:
    """``(kind, t, doc)`` for one output; the doc is canonical JSON with exact floats, so two
    outputs are equal exactly when their docs are equal strings."""
    if isinstance(item, Event):
        doc: dict[str, Any] = {
            "type": item.type.value,
            "t": item.t,
            "t_decided": item.t_decided,
            "source": item.source,
            "value": item.value,
            "detail": _plain(item.detail),
        }
        kind, t = "event", item.t_decided
    else:
        doc = {"kind": item.kind, "t": item.t, "payload": _plain(item.payload)}
        kind, t = item.kind, item.t
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return kind, (t if math.isfinite(t) else 0.0), text


def decode_output(kind: str, doc: str) -> Event | Feedback:
    """Inverse of :func:`encode_output` (lists stay lists). A doc that is not one of ours
    (altered by hand, a torn row) raises ValueError, never a half-built output that fails
    later in a report or an export."""
    d = json.loads(doc)
    if not isinstance(d, dict):
        raise ValueError("not a JSON object")
    if kind == "event":
        _time(d, "t")
        _time(d, "t_decided")
        if not isinstance(d["source"], str) or not isinstance(d["detail"], dict):
            raise ValueError("source must be text and detail an object")
        return Event(EventType(d["type"]), d["t"], d["t_decided"], d["source"], d["value"],
                     d["detail"])
    _time(d, "t")
    if not isinstance(d["kind"], str) or not isinstance(d["payload"], dict):
        raise ValueError("kind must be text and payload an object")
    return Feedback(d["kind"], d["t"], d["payload"])


def _time(doc: Mapping[str, Any], key: str) -> None:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number, got {value!r}")
