"""Home Assistant MQTT discovery: the patient's gateway appears on the home's dashboard.

Home Assistant's MQTT integration reads retained JSON configs on
``<discovery_prefix>/<component>/<node_id>/<object_id>/config`` (ids from
``[a-zA-Z0-9_-]``) and creates one entity per config, grouped under the ``device`` block.
Every entity here reads one of our existing retained topics (docs/mqtt.md) with a
``value_template`` - nothing new is published for Home Assistant besides the configs - and
is available while our ``status`` topic says ``online``. An empty retained payload on the
same config topic removes the entity again (:func:`removal_messages`).

Entities per patient: session state (the coach's phase), current repetition, last
repetition's hold, last session (time, with the summary as attributes), reps done in the
last session; per wearable: connected, battery, signal problem (with the quality numbers
as attributes).

>>> msgs = discovery_messages("p01", ["arm"])
>>> msgs[0].topic, msgs[0].retain
('homeassistant/sensor/isofeedback_p01/session_state/config', True)
>>> removal_messages("p01", ["arm"])[0].payload
b''
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from isofeedback import __version__
from isofeedback.sinks.messages import MqttMessage, device_topic_id, topic_prefix
from isofeedback.sinks.mqtt import BrokerSettings

__all__ = ["discovery_messages", "node_id", "publish", "removal_messages"]

_ID = re.compile(r"[^a-zA-Z0-9_-]")


def node_id(patient: str) -> str:
    """The patient's node id in discovery topics (only ``[a-zA-Z0-9_-]`` allowed)."""
    return "isofeedback_" + _ID.sub("_", patient)


def _entities(patient: str, devices: Sequence[str], root: str) -> list[tuple[str, str,
                                                                            dict[str, Any]]]:
    """(component, object_id, config without the shared keys) for every entity."""
    p = topic_prefix(patient, root)
    out: list[tuple[str, str, dict[str, Any]]] = [
        ("sensor", "session_state", {
            "name": "Session state", "state_topic": f"{p}/session/state",
            "value_template": "{{ value_json.phase }}", "icon": "mdi:arm-flex"}),
        ("sensor", "repetition", {
            "name": "Repetition", "state_topic": f"{p}/session/state",
            "value_template": "{{ value_json.rep }}", "icon": "mdi:counter",
            "json_attributes_topic": f"{p}/session/state"}),
        ("sensor", "last_rep_hold", {
            "name": "Last repetition hold", "state_topic": f"{p}/reps",
            "value_template": "{{ value_json.hold_s }}", "device_class": "duration",
            "unit_of_measurement": "s", "json_attributes_topic": f"{p}/reps"}),
        ("sensor", "last_session", {
            "name": "Last session", "state_topic": f"{p}/summary",
            "value_template": "{{ value_json.wall }}", "device_class": "timestamp",
            "json_attributes_topic": f"{p}/summary",
            "json_attributes_template": "{{ {'technique': value_json.technique, "
                                        "'complete': value_json.complete, "
                                        "'mean_hold_s': value_json.mean_hold_s} | tojson }}"}),
        ("sensor", "last_session_reps", {
            "name": "Last session repetitions", "state_topic": f"{p}/summary",
            "value_template": "{{ value_json.reps_done }}", "icon": "mdi:counter",
            "state_class": "measurement"}),
    ]
    for dev in devices:
        d = device_topic_id(dev)
        obj = _ID.sub("_", d)
        base = f"{p}/device/{d}"
        out += [
            ("binary_sensor", f"{obj}_connected", {
                "name": f"{dev} connected", "state_topic": f"{base}/availability",
                "value_template": "{{ 'ON' if value_json.state == 'online' else 'OFF' }}",
                "device_class": "connectivity"}),
            ("sensor", f"{obj}_battery", {
                "name": f"{dev} battery", "state_topic": f"{base}/battery",
                "value_template": "{{ value_json.percent }}", "device_class": "battery",
                "unit_of_measurement": "%", "state_class": "measurement"}),
            ("binary_sensor", f"{obj}_signal_problem", {
                "name": f"{dev} signal problem", "state_topic": f"{base}/quality",
                "value_template": "{{ 'OFF' if value_json.ok else 'ON' }}",
                "device_class": "problem", "json_attributes_topic": f"{base}/quality"}),
        ]
    return out


def _topic(prefix: str, component: str, node: str, obj: str) -> str:
    return f"{prefix}/{component}/{node}/{obj}/config"


def discovery_messages(patient: str, devices: Sequence[str], prefix: str = "homeassistant",
                       root: str = "isofeedback") -> list[MqttMessage]:
    """The retained discovery configs for a patient and their wearables (by name)."""
    node = node_id(patient)
    shared = {
        "availability": [{"topic": f"{topic_prefix(patient, root)}/status",
                          "value_template": "{{ value_json.state }}",
                          "payload_available": "online", "payload_not_available": "offline"}],
        "device": {"identifiers": [node], "name": f"isofeedback {patient}",
                   "manufacturer": "isofeedback", "model": "home gateway",
                   "sw_version": __version__},
        "origin": {"name": "isofeedback", "sw_version": __version__},
        "qos": 1,
    }
    out = []
    for component, obj, config in _entities(patient, devices, root):
        doc = {**config, **shared, "unique_id": f"{node}_{obj}"}
        payload = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        out.append(MqttMessage(_topic(prefix, component, node, obj), payload, 1, True, False))
    return out


def removal_messages(patient: str, devices: Sequence[str], prefix: str = "homeassistant",
                     root: str = "isofeedback") -> list[MqttMessage]:
    """Empty retained payloads on every config topic: Home Assistant removes the entities
    and the broker forgets the retained configs."""
    node = node_id(patient)
    return [MqttMessage(_topic(prefix, c, node, o), b"", 1, True, False)
            for c, o, _ in _entities(patient, devices, root)]


async def publish(settings: BrokerSettings, messages: Sequence[MqttMessage]) -> None:
    """Publish ``messages`` once (QoS 1, acknowledged) with a short-lived client."""
    async with settings.client() as client:
        for m in messages:
            await client.publish(m.topic, m.payload, m.qos, m.retain)
