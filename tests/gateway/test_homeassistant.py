"""Home Assistant MQTT discovery on a real Mosquitto: the retained configs follow what Home
Assistant's MQTT integration documents (topic ``<prefix>/<component>/<node_id>/<object_id>/
config`` with ids from [a-zA-Z0-9_-]; component, unique_id, state_topic, availability, device
block), every state_topic is one of our own retained topics and its value_template (Jinja,
as Home Assistant renders it) extracts the value from a real, schema-valid payload; an empty
retained payload removes them again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jsonschema import Draft202012Validator

from isofeedback.cli import main
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings
from isofeedback.types import Feedback

_ID = "[a-zA-Z0-9_-]+"
_AVAILABILITY = {
    "type": "array", "minItems": 1,
    "items": {"type": "object", "required": ["topic"],
              "properties": {"topic": {"type": "string", "minLength": 1},
                             "value_template": {"type": "string"},
                             "payload_available": {"type": "string"},
                             "payload_not_available": {"type": "string"}}},
}
_DEVICE = {
    "type": "object", "required": ["identifiers", "name"],
    "properties": {"identifiers": {"type": "array", "minItems": 1,
                                   "items": {"type": "string", "minLength": 1}},
                   "name": {"type": "string"}, "manufacturer": {"type": "string"},
                   "model": {"type": "string"}, "sw_version": {"type": "string"}},
}
_COMMON = {
    "name": {"type": "string", "minLength": 1},
    "unique_id": {"type": "string", "pattern": f"^{_ID}$"},
    "state_topic": {"type": "string", "pattern": "^[^#+]+$"},
    "value_template": {"type": "string", "pattern": r"^\{\{.*\}\}$"},
    "json_attributes_topic": {"type": "string"},
    "json_attributes_template": {"type": "string"},
    "availability": _AVAILABILITY,
    "device": _DEVICE,
    "origin": {"type": "object", "required": ["name"]},
    "qos": {"enum": [0, 1, 2]},
    "icon": {"type": "string", "pattern": "^mdi:"},
}
# the keys Home Assistant's MQTT sensor / binary_sensor document (subset we may use)
SCHEMAS = {
    "sensor": {
        "type": "object", "additionalProperties": False,
        "required": ["name", "unique_id", "state_topic", "availability", "device"],
        "properties": {**_COMMON,
                       "device_class": {"enum": ["battery", "duration", "timestamp"]},
                       "unit_of_measurement": {"type": "string"},
                       "state_class": {"enum": ["measurement", "total", "total_increasing"]}},
    },
    "binary_sensor": {
        "type": "object", "additionalProperties": False,
        "required": ["name", "unique_id", "state_topic", "availability", "device"],
        "properties": {**_COMMON, "device_class": {"enum": ["connectivity", "problem"]},
                       "payload_on": {"type": "string"}, "payload_off": {"type": "string"}},
    },
}


def our_payloads(patient: str, payload_validator: Any) -> dict[str, dict[str, Any]]:
    """topic → a real payload, made by the one serializer and valid against its schema."""
    s = Serializer(patient, "s1", 1.7e9)
    msgs = [
        s.status(True, 0.0, reason="connected", connection=1),
        s.message(Feedback("phase", 5.0, {"phase": "holding", "rep": 2, "reps": 3,
                                          "duration_s": 7.0})),
        s.message(Feedback("rep", 12.0, {
            "rep": 2, "onset_t": 5.1, "hold_s": 6.8, "mean_intensity": 0.2,
            "peak_intensity": 0.3, "violations": [], "relax_residual": None, "rom_deg": None,
            "rom_gain_deg": None, "max_movement_deg": 1.0})),
        s.message(Feedback("summary", 60.0, {
            "technique": "pir", "reps_done": 3, "reps_planned": 3, "mean_hold_s": 6.9,
            "violations": [], "mvc": None, "reps": [], "complete": True})),
        s.device_availability("arm", "online", 1.0, name="C0:FF:EE:00:00:01"),
        s.device_battery("arm", 87.0, 1.0),
        s.device_quality("arm", 2.0, ok=False, packet_loss=0.1, issues=("noisy",)),
    ]
    out = {}
    for m in msgs:
        doc = json.loads(m.payload)
        payload_validator(doc)
        out[m.topic] = doc
    return out


async def _retained(settings: BrokerSettings, topic: str) -> dict[str, bytes]:
    """Every retained message under ``topic`` (they arrive at once on subscribe)."""
    got: dict[str, bytes] = {}
    async with settings.client() as client:
        await client.subscribe(topic, qos=1)
        try:
            while True:
                msg = await asyncio.wait_for(anext(client.messages), 1.0)
                assert isinstance(msg.payload, bytes) and msg.retain
                got[str(msg.topic)] = msg.payload
        except TimeoutError:
            return got


def test_discovery_configs_on_mosquitto_and_removal(
        mosquitto: Any, patient: str, write_config: Callable[..., Path],
        payload_validator: Any, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(patient=patient, broker={"host": mosquitto.host,
                                                   "port": mosquitto.port})
    settings = BrokerSettings(mosquitto.host, mosquitto.port)
    assert main(["service", "homeassistant", str(config)]) == 0
    assert "Home Assistant discovery: 8 entities published under homeassistant/" in \
        capsys.readouterr().out
    node = "isofeedback_" + patient.replace(".", "_")
    configs = asyncio.run(_retained(settings, f"homeassistant/+/{node}/+/config"))
    assert len(configs) == 8
    payloads = our_payloads(patient, payload_validator)
    env = jinja2.Environment()
    ids = set()
    for topic, raw in configs.items():
        prefix, component, node_id, object_id, last = topic.split("/")
        assert (prefix, node_id, last) == ("homeassistant", node, "config")
        doc = json.loads(raw)
        Draft202012Validator(SCHEMAS[component]).validate(doc)
        assert doc["device"]["identifiers"] == [node]
        ids.add(doc["unique_id"])
        # availability is our retained status topic
        avail = doc["availability"][0]
        status = payloads[avail["topic"]]
        assert env.from_string(avail["value_template"]).render(value_json=status) == "online"
        # the state comes from one of our topics, extracted by the template
        value = env.from_string(doc["value_template"]).render(
            value_json=payloads[doc["state_topic"]])
        expected = {"session_state": "holding", "repetition": "2", "last_rep_hold": "6.8",
                    "last_session": "2023-11-14T22:14:20.000Z", "last_session_reps": "3",
                    "arm_connected": "ON", "arm_battery": "87.0",
                    "arm_signal_problem": "ON"}[object_id]
        assert value == expected, (object_id, value)
        if "json_attributes_template" in doc:
            attrs = env.from_string(doc["json_attributes_template"]).render(
                value_json=payloads[doc["json_attributes_topic"]])
            assert json.loads(attrs)["technique"] == "pir"
    assert len(ids) == 8  # unique ids are unique
    # removable again: empty retained payloads clear every config
    assert main(["service", "homeassistant", str(config), "--remove"]) == 0
    assert "8 entities removed" in capsys.readouterr().out
    assert asyncio.run(_retained(settings, f"homeassistant/+/{node}/+/config")) == {}


def test_discovery_not_reachable_is_reported(write_config: Callable[..., Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import _free_port

    port = _free_port()
    config = write_config(broker={"port": port})
    assert main(["service", "homeassistant", str(config)]) == 1
    out = capsys.readouterr().out
    assert f"WARNING isofeedback.service: Home Assistant discovery not published on " \
           f"127.0.0.1:{port}:" in out
