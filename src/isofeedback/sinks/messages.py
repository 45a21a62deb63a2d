"""The one serializer: events, feedback and service state → MQTT topics and JSON payloads.

Everything isofeedback says over MQTT is built here, so the topic tree, the QoS/retain
policy and the payload shapes live in one place and match ``docs/mqtt.md`` and the JSON
Schemas in ``schemas/`` (one file per ``kind``). Every payload carries:

- ``schema``: the payload schema version (an integer, bumped on incompatible changes),
- ``kind``: which schema the payload follows (``event``, ``cue``, ``level`` …),
- ``patient`` and ``session``: the pseudonymous patient id and the session id,
- ``t``: session time in seconds (0 = session start),
- ``wall``: UTC wall-clock time, ISO 8601 with milliseconds.

Reliable messages (events, cues, session state, reps, summary) also carry ``seq``, one
counter for the whole reliable stream of a session: a subscriber drops a message whose
``seq`` it has already seen (delivery is at-least-once) and knows it missed messages when
``seq`` jumps. Live levels carry their own ``seq`` so a display can count what it missed.

>>> s = Serializer("p01", "p01-s1", wall_start=1_700_000_000.0)
>>> m = s.message(Feedback("cue", 12.5, {"id": "hold", "text": "Hold", "severity": "info"}))
>>> m.topic, m.qos, m.retain, m.droppable
('isofeedback/p01/cues', 1, False, False)
>>> doc = json.loads(m.payload)
>>> doc["schema"], doc["kind"], doc["seq"], doc["t"], doc["wall"]
(1, 'cue', 1, 12.5, '2023-11-14T22:13:32.500Z')
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from isofeedback.detectors.retraction import OnsetNames
from isofeedback.sinks.signal_words import signal_words
from isofeedback.types import Event, Feedback

__all__ = [
    "KINDS",
    "LIVE_EXPIRY_S",
    "SCHEMA_VERSION",
    "MqttMessage",
    "Serializer",
    "topic_prefix",
]

SCHEMA_VERSION = 1
LIVE_EXPIRY_S = 2  # MQTT v5 message expiry of live levels: a late level is useless

#: where the session's set-up instruction is retained
SETUP_TOPIC = "setup"

# feedback kind → (topic below the patient prefix, qos, retain, droppable)
_ROUTES: dict[str, tuple[str, int, bool, bool]] = {
    "level": ("live", 0, False, True),
    "phase": ("session/state", 1, True, False),
    "cue": ("cues", 1, False, False),
    "rep": ("reps", 1, False, False),
    "summary": ("summary", 1, True, False),
    "progress": ("progress", 1, True, False),
}

#: Every payload kind, each with a JSON Schema ``schemas/<kind>.json``.
KINDS = (
    "status", "service", "event", "level", "phase", "cue", "rep", "summary", "progress",
    "device_availability", "device_battery", "device_quality", "control_ack",
    "prescription_ack", "schedule", "reminder", "setup",
)

DeviceState = Literal["online", "offline", "connecting"]


@dataclass(frozen=True, slots=True)
class MqttMessage:
    """A ready-to-publish message. ``droppable`` ones (live levels) may be discarded when
    the broker is away or the link is slow; the others are kept until delivered.
    ``expiry_s`` becomes the MQTT v5 message expiry interval (ignored under 3.1.1)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    droppable: bool
    expiry_s: int | None = None


def topic_prefix(patient: str, root: str = "isofeedback") -> str:
    """Per-patient topic prefix; the id is pseudonymous and must be a single topic level,
    so a broker ACL like ``pattern readwrite isofeedback/%u/#`` can isolate patients.

    >>> topic_prefix("p01")
    'isofeedback/p01'
    """
    for name, value in (("patient id", patient), ("topic root", root)):
        if (not value or any(c in value for c in "/#+") or not value.isprintable()
                or value.startswith("$")):
            raise ValueError(
                f"{name} {value!r} must be a non-empty pseudonym without '/', '#', '+' "
                "or a leading '$'"
            )
    return f"{root}/{patient}"


def device_topic_id(device: str) -> str:
    """A device name as one safe topic level (``AA:BB:…`` → ``AA_BB_…``)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in device) or "device"


def _clean(value: Any) -> Any:
    """JSON-ready copy: non-finite floats become null (JSON has no NaN), tuples lists.

    The plain types of a payload are answered first, by exact type: the ``Mapping``
    check is an ABC's (~0.3 µs a value), and a live level's dozen values made this half
    of building its message."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int or kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    return value


#: compact, sorted keys, no NaN: what ``json.dumps(doc, separators=(",", ":"),
#: sort_keys=True, allow_nan=False)`` uses, built once
_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True, allow_nan=False)


def iso_wall(seconds: float) -> str:
    """UTC ISO 8601 with milliseconds and a ``Z``."""
    stamp = datetime.fromtimestamp(seconds, tz=UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Serializer:
    """Builds the messages of one session of one patient.

    ``wall_start`` is the wall-clock time (Unix seconds) of session time 0; a message's
    ``wall`` is ``wall_start + t``, except for ``status`` and ``service`` which say when
    they were sent. The reliable ``seq`` counter and the last onset's ``seq`` are the only
    state (see ``_reset``).

    ``source`` (``live``, ``simulated`` or ``replay``) and ``joint_checked`` (whether a
    motion sensor measures the joint) describe the session; when given they go into every
    ``status`` message, so an app shows a "simulated data" badge, or says that joint
    movement is not checked, from the retained status alone. ``recording_problem`` is set
    when the session's recording failed (e.g. the disk is full): it goes into ``status``
    as ``recording`` so the apps can say that the session is no longer being saved.
    """

    def __init__(
        self, patient: str, session_id: str, wall_start: float, root: str = "isofeedback",
        *, source: Literal["live", "simulated", "replay"] | None = None,
        joint_checked: bool | None = None,
    ) -> None:
        if source not in (None, "live", "simulated", "replay"):
            raise ValueError(f"session source must be live, simulated or replay, got {source!r}")
        self.prefix = topic_prefix(patient, root)
        self.patient = patient
        self.session_id = session_id
        self.wall_start = wall_start
        self.source = source
        self.joint_checked = joint_checked
        self.recording_problem: str | None = None
        self._reset()

    def _reset(self) -> None:
        self.seq = 0
        self.live_seq = 0
        # the last onset's seq per source, so that a ``retracted`` or ``onset_refined``
        # event can name the onset message it is about
        self._onset_names = OnsetNames()

    # -- helpers -------------------------------------------------------------------------
    def topic(self, suffix: str) -> str:
        return f"{self.prefix}/{suffix}"

    def wall(self, t: float) -> str:
        return iso_wall(self.wall_start + t)

    def envelope(
        self, kind: str, t: float, body: Mapping[str, Any], wall: float | None = None
    ) -> dict[str, Any]:
        doc = _clean(body)
        doc.update({
            "schema": SCHEMA_VERSION,
            "kind": kind,
            "patient": self.patient,
            "session": self.session_id,
            "t": round(t, 4),
            "wall": self.wall(t) if wall is None else iso_wall(wall),
        })
        return doc  # type: ignore[no-any-return]

    @staticmethod
    def encode(doc: Mapping[str, Any]) -> bytes:
        # json.dumps with these options builds this encoder on every call
        return _ENCODER.encode(doc).encode()

    # -- the session stream ----------------------------------------------------------------
    def message(self, item: Event | Feedback) -> MqttMessage:
        """The message for one pipeline output. Unknown feedback kinds raise ValueError:
        the contract is closed, a new kind needs a route, a schema and documentation."""
        if isinstance(item, Event):
            body: dict[str, Any] = {
                "type": item.type.value,
                "t_event": round(item.t, 4),
                "t_decided": round(item.t_decided, 4),
                "source": item.source,
                "value": item.value,
                "detail": dict(item.detail),
            }
            self.seq += 1
            # the onset it withdraws or re-times, by that message's seq
            named = self._onset_names.named(item, self.seq)
            if named is not None:
                body[named[0]] = named[1]
            doc = self.envelope("event", item.t_decided, {**body, "seq": self.seq})
            return MqttMessage(self.topic("events"), self.encode(doc), 1, False, False)
        route = _ROUTES.get(item.kind)
        if route is None:
            raise ValueError(f"no MQTT route for feedback kind {item.kind!r} "
                             f"(known: {', '.join(sorted(_ROUTES))})")
        suffix, qos, retain, droppable = route
        if droppable:
            self.live_seq += 1
            seq = self.live_seq
        else:
            self.seq += 1
            seq = self.seq
        doc = self.envelope(item.kind, item.t, {**item.payload, "seq": seq})
        return MqttMessage(self.topic(suffix), self.encode(doc), qos, retain, droppable,
                           expiry_s=LIVE_EXPIRY_S if droppable else None)

    def follow_up(self, item: Event | Feedback) -> MqttMessage | None:
        """What ``item`` also publishes: with the session's set-up instruction (the
        ``setup`` cue: how to place the limb and the sensor), a retained ``setup``
        document, so a phone opened after the start still shows it (cues are not
        retained: a late "hold" would be wrong). It has no ``seq``: the instruction came
        in the reliable stream as the cue, and a copy with the cue's ``seq`` would be a
        duplicate there."""
        if (isinstance(item, Feedback) and item.kind == "cue"
                and item.payload.get("id") == "setup"):
            doc = self.envelope("setup", item.t, {"text": item.payload.get("text", ""),
                                                  "rep": item.payload.get("rep", 0)})
            return MqttMessage(self.topic(SETUP_TOPIC), self.encode(doc), 1, True, False)
        return None

    # -- service state ------------------------------------------------------------------
    def status(
        self,
        online: bool,
        t: float,
        *,
        reason: str,
        connection: int,
        wall: float | None = None,
    ) -> MqttMessage:
        """Service availability, retained. ``reason``: ``connected``, ``reconnected``,
        ``stopped`` (clean end) or ``connection lost`` (the will). ``connection`` counts
        the publisher's broker connections, so a subscriber can tell a reconnect."""
        now = time.time() if wall is None else wall
        body: dict[str, Any] = {
            "state": "online" if online else "offline",
            "reason": reason,
            "connection": connection,
        }
        if self.source is not None:
            body["source"] = self.source
        if self.joint_checked is not None:
            body["joint_checked"] = self.joint_checked
        if self.recording_problem is not None:
            body["recording"] = self.recording_problem
        doc = self.envelope("status", t, body, wall=now)
        return MqttMessage(self.topic("status"), self.encode(doc), 1, True, False)

    def service(self, t: float, counters: Mapping[str, Any], interval_s: float,
                wall: float | None = None) -> MqttMessage:
        """The publisher's own counters (drops, overflow, pending, reconnects), retained,
        so a dashboard sees what was lost without reading logs."""
        now = time.time() if wall is None else wall
        doc = self.envelope("service", t, {"interval_s": interval_s, **counters}, wall=now)
        return MqttMessage(self.topic("service"), self.encode(doc), 1, True, False)

    def control_ack(self, t: float, *, id: str, command: str, accepted: bool,
                    reason: str = "") -> MqttMessage:
        """The answer to one control message (``…/control/ack``, QoS 1, not retained):
        accepted, or refused with one sentence saying why (nothing changed then)."""
        self.seq += 1
        doc = self.envelope("control_ack", t, {
            "id": id, "command": command, "accepted": accepted, "reason": reason,
            "seq": self.seq,
        })
        return MqttMessage(self.topic("control/ack"), self.encode(doc), 1, False, False)

    def prescription_ack(self, t: float, *, accepted: bool, reason: str,
                         prescription: Mapping[str, Any] | None = None) -> MqttMessage:
        """The answer to the clinician's prescription (``…/prescription/ack``, QoS 1,
        retained so the clinician sees it whenever they look): accepted (stored; applies
        from the next session, never mid-session) or refused with one sentence."""
        self.seq += 1
        doc = self.envelope("prescription_ack", t, {
            "accepted": accepted, "reason": reason, "prescription": prescription,
            "seq": self.seq})
        return MqttMessage(self.topic("prescription/ack"), self.encode(doc), 1, True, False)

    def schedule(self, t: float, body: Mapping[str, Any], wall: float | None = None
                 ) -> MqttMessage:
        """The patient's programme today (``…/schedule``, QoS 1, retained): next reminder,
        sessions done and due today, adherence (see ``coach.prescription.schedule_status``)."""
        now = time.time() if wall is None else wall
        doc = self.envelope("schedule", t, body, wall=now)
        return MqttMessage(self.topic("schedule"), self.encode(doc), 1, True, False)

    def reminder(self, t: float, *, due: str, text: str, wall: float | None = None
                 ) -> MqttMessage:
        """Time for a prescribed session (``…/reminder``, QoS 1, not retained: a reminder
        is for now, not for whoever subscribes later)."""
        now = time.time() if wall is None else wall
        doc = self.envelope("reminder", t, {"due": due, "text": text}, wall=now)
        return MqttMessage(self.topic("reminder"), self.encode(doc), 1, False, False)

    # -- per-device state (retained) ------------------------------------------------------
    def _device(self, device: str, kind: str, t: float, body: Mapping[str, Any]) -> MqttMessage:
        doc = self.envelope(f"device_{kind}", t, {"device": device, **body})
        topic = self.topic(f"device/{device_topic_id(device)}/{kind}")
        return MqttMessage(topic, self.encode(doc), 1, True, False)

    def device_availability(
        self, device: str, state: DeviceState, t: float, *, name: str = "",
        detail: str = "",
    ) -> MqttMessage:
        """Whether a wearable is connected (``connecting`` while the service searches)."""
        if state not in ("online", "offline", "connecting"):
            raise ValueError(f"device state must be online, offline or connecting, got {state!r}")
        return self._device(device, "availability", t,
                            {"state": state, "name": name, "detail": detail})

    def device_battery(self, device: str, percent: float, t: float) -> MqttMessage:
        """Battery level in percent (0–100)."""
        if not 0.0 <= percent <= 100.0:
            raise ValueError(f"battery percent must be 0–100, got {percent}")
        return self._device(device, "battery", t, {"percent": percent})

    def device_quality(
        self, device: str, t: float, *, ok: bool, packet_loss: float | None = None,
        rssi_dbm: float | None = None, issues: tuple[str, ...] = (),
    ) -> MqttMessage:
        """Signal quality: ``ok`` for a simple green/red light, the numbers for a clinic.
        ``packet_loss`` is the lost fraction (0–1) over the last reporting interval;
        ``issues`` names problems such as ``flat``, ``saturated``, ``mains``, ``noisy``;
        ``words`` says each in a patient's words (what the page shows, and the terminal)."""
        if packet_loss is not None and not 0.0 <= packet_loss <= 1.0:
            raise ValueError(f"packet loss must be a fraction 0–1, got {packet_loss}")
        return self._device(device, "quality", t, {
            "ok": ok, "packet_loss": packet_loss, "rssi_dbm": rssi_dbm, "issues": list(issues),
            "words": [signal_words(issue) for issue in issues],
        })
