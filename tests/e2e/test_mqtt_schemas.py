"""Every message of a simulated session, as a subscriber receives it through Mosquitto,
validates against its JSON Schema, and the reliable stream arrives complete and in order."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import replace
from typing import Any

import pytest

from isofeedback.coach.prescription import prescription_message, schedule_status
from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.service import run_session
from isofeedback.sim import Faults
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.sources.simulated import SimulatedSource
from isofeedback.types import Event


def _stopped(doc: dict[str, Any]) -> bool:
    return doc["kind"] == "status" and doc["state"] == "offline"


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_every_published_message_validates(
    mosquitto: Any, patient: str, payload_validator: Any, mqtt_collector: Any, protocol: str
) -> None:
    technique = find_protocol("pir")
    script = follow_protocol(technique, level=0.18, rest_before=4.0, seed=5,
                             faults=Faults(move_in_rep=1, too_strong_rep=2))
    source = SimulatedSource(script, find_profile("myo"), speed=None)
    settings = BrokerSettings(mosquitto.host, mosquitto.port, protocol=protocol)
    received: list[dict[str, Any]] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(mqtt_collector(replace(settings, protocol="5"),
                                             f"isofeedback/{patient}/#", received, ready,
                                             _stopped))
    await asyncio.wait_for(ready.wait(), 5)
    serializer = Serializer(patient, "s-schema", 1.7e9)
    async with MqttPublisher(settings, serializer, stats_interval_s=0.2) as pub:
        assert await pub.wait_connected(5)
        pub.submit_message(serializer.device_availability("AA:BB:CC:00:11:22", "online", 0.0,
                                                          name="Myo"))
        pub.submit_message(serializer.device_battery("AA:BB:CC:00:11:22", 87.0, 0.0))
        pub.submit_message(serializer.device_quality("AA:BB:CC:00:11:22", 0.0, ok=True,
                                                      packet_loss=0.0, rssi_dbm=-61.0))
        pub.submit_message(serializer.control_ack(0.0, id="a1", command="pause",
                                                  accepted=False,
                                                  reason="no session is running"))
        # the clinician's loop: a prescription received, the schedule and a reminder
        rx, ack = prescription_message(json.dumps({"prescription": {
            "patient": patient, "protocol": "hamstrings-met", "times_per_day": 2,
            "days": 14, "start": "2026-12-07", "reminders": ["08:00", "18:00"]}}).encode(),
            patient)
        assert rx is not None and ack["accepted"]
        pub.submit_message(serializer.prescription_ack(0.0, accepted=True,
                                                       reason=ack["reason"],
                                                       prescription=ack.get("prescription")))
        now = dt.datetime(2026, 12, 8, 12, 0)
        pub.submit_message(serializer.schedule(0.0, schedule_status(rx, [], now)))
        pub.submit_message(serializer.reminder(0.0, due="2026-12-08T18:00",
                                               text="Time for your exercises."))
        result = await run_session(source, Pipeline(source.profiles, technique), [pub])
        await asyncio.sleep(0.3)  # at least one periodic service message mid-session
    await asyncio.wait_for(sub, 10)

    for doc in received:
        body = {k: v for k, v in doc.items() if not k.startswith("_")}
        payload_validator(body)
        assert body["patient"] == patient and body["session"] == "s-schema"
    kinds = {d["kind"] for d in received}
    assert kinds == payload_validator.kinds, payload_validator.kinds - kinds

    reliable = [d for d in received if "seq" in d and d["kind"] != "level"]
    seqs = [d["seq"] for d in reliable]
    assert seqs == list(range(1, len(seqs) + 1))  # complete, in order, no duplicates
    got_events = [(d["type"], d["t_event"]) for d in reliable if d["kind"] == "event"]
    want_events = [(e.type.value, round(e.t, 4)) for e in result.events]
    assert got_events == want_events
    got_cues = [d["id"] for d in reliable if d["kind"] == "cue"]
    assert got_cues == [f.payload["id"] for f in result.feedback if f.kind == "cue"]
    assert {"moved", "too_strong"} <= set(next(d for d in received
                                               if d["kind"] == "summary")["violations"])
    assert any(isinstance(o, Event) for o in result.outputs)
    assert pub.stats.events_overflowed == 0 and pub.stats.rejected == 0
    statuses = [(d["state"], d["reason"]) for d in received if d["kind"] == "status"]
    assert statuses == [("online", "connected"), ("offline", "stopped")]

    # the live stream: 10–25 levels per second of session, QoS 0, not retained, and under
    # MQTT 5 an expiry so a broker never hands a late display stale levels; the reliable
    # kinds arrive with QoS 1
    produced = [f.t for f in result.feedback if f.kind == "level"]
    rate = (len(produced) - 1) / (produced[-1] - produced[0])
    assert 10.0 <= rate <= 25.0, rate
    levels = [d for d in received if d["kind"] == "level"]
    assert levels and all(d["_qos"] == 0 and not d["_retain"] for d in levels)
    if protocol == "5":
        assert all(d["_expiry"] is not None and 0 < d["_expiry"] <= 5 for d in levels)
    assert all(d["_qos"] == 1 for d in reliable)
