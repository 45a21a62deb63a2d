"""The one serializer: events and feedback → MQTT topics and JSON payloads.

Every payload carries the schema version, the session id, the session time ``t`` (seconds
since session start) and the wall-clock time ``wall`` (UTC, ISO 8601), so a phone app can
be written against ``docs/mqtt.md`` and the JSON Schemas in ``schemas/`` alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from isofeedback.types import Event, Feedback

__all__ = ["SCHEMA_VERSION", "MqttMessage", "Serializer", "topic_prefix"]

SCHEMA_VERSION = 1

# feedback kind → (topic suffix, qos, retain, droppable)
_ROUTES: dict[str, tuple[str, int, bool, bool]] = {
    "level": ("live", 0, False, True),
    "phase": ("session/state", 1, True, False),
    "cue": ("cues", 1, False, False),
    "rep": ("reps", 1, False, False),
    "summary": ("summary", 1, True, False),
    "status": ("status", 1, True, False),
}


@dataclass(frozen=True, slots=True)
class MqttMessage:
    """A ready-to-publish message. ``droppable`` ones (live levels) may be discarded when
    the broker is away or a sink is slow; the others are kept until delivered."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    droppable: bool
    expiry_s: int | None = None


def topic_prefix(patient: str, root: str = "isofeedback") -> str:
    """Per-patient topic prefix; the id is pseudonymous and must be a single topic level."""
    if not patient or any(c in patient for c in "/#+") or not patient.isprintable():
        raise ValueError(
            f"patient id {patient!r} must be a non-empty pseudonym without '/', '#' or '+'"
        )
    return f"{root}/{patient}"


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


class Serializer:
    """Builds messages for one session of one patient."""

    def __init__(self, patient: str, session_id: str, wall_start: float, root: str = "isofeedback"):
        self.prefix = topic_prefix(patient, root)
        self.patient = patient
        self.session_id = session_id
        self.wall_start = wall_start

    def wall(self, t: float) -> str:
        stamp = datetime.fromtimestamp(self.wall_start + t, tz=UTC)
        return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def envelope(self, kind: str, t: float, body: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "kind": kind,
            "session": self.session_id,
            "t": round(t, 4),
            "wall": self.wall(t),
            **_clean(body),
        }

    def encode(self, doc: Mapping[str, Any]) -> bytes:
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()

    def message(self, item: Event | Feedback) -> MqttMessage:
        """The message for one pipeline output."""
        if isinstance(item, Event):
            body = {
                "type": item.type.value,
                "t_event": round(item.t, 4),
                "t_decided": round(item.t_decided, 4),
                "source": item.source,
                "value": item.value,
                "detail": dict(item.detail),
            }
            doc = self.envelope("event", item.t_decided, body)
            return MqttMessage(f"{self.prefix}/events", self.encode(doc), 1, False, False)
        topic, qos, retain, droppable = _ROUTES.get(item.kind, (item.kind, 1, False, False))
        doc = self.envelope(item.kind, item.t, item.payload)
        return MqttMessage(f"{self.prefix}/{topic}", self.encode(doc), qos, retain, droppable,
                           expiry_s=2 if droppable else None)

    def availability(self, online: bool, t: float = 0.0) -> MqttMessage:
        """Service availability (retained); the ``offline`` one doubles as the will."""
        doc = self.envelope("status", t, {"state": "online" if online else "offline"})
        return MqttMessage(f"{self.prefix}/status", self.encode(doc), 1, True, False)

    def device(self, device: str, kind: str, t: float, body: Mapping[str, Any]) -> MqttMessage:
        """Per-device retained state: ``availability``, ``battery`` or ``quality``."""
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in device) or "device"
        doc = self.envelope(f"device_{kind}", t, {"device": device, **body})
        return MqttMessage(f"{self.prefix}/device/{safe}/{kind}", self.encode(doc), 1, True, False)
