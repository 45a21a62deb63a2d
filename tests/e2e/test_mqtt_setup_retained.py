"""The set-up instruction is retained: a phone opened after the session started still
shows how to place the limb and the sensor (cues themselves are not retained). It stays a
JSON document (a display shows it until a phase with ``rep`` ≥ 1: the page's test)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiomqtt

from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.types import Feedback

SETUP = {"id": "setup", "text": "Sit with the left foot flat; strap the sensor below the knee.",
         "severity": "info", "rep": 0}


async def _retained(settings: BrokerSettings, topic: str) -> list[bytes]:
    """What a subscriber that connects now receives on ``topic`` at once."""
    got: list[bytes] = []
    async with aiomqtt.Client(settings.host, settings.port) as client:
        await client.subscribe(topic, qos=1)
        try:
            async with asyncio.timeout(1.0):
                async for message in client.messages:
                    assert message.retain
                    assert isinstance(message.payload, bytes)
                    got.append(message.payload)
        except TimeoutError:
            pass
    return got


async def _drained(pub: MqttPublisher) -> None:
    async with asyncio.timeout(10):
        while pub.pending:
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)


async def test_a_late_phone_gets_the_set_up_instruction(
    tmp_path: Path, patient: str, mosquitto_control: Any
) -> None:
    start, stop = mosquitto_control
    broker = start(tmp_path)
    settings = BrokerSettings(broker.host, broker.port)
    topic = f"isofeedback/{patient}/setup"
    try:
        async with MqttPublisher(settings, Serializer(patient, "s-setup", 1.7e9)) as pub:
            assert await pub.wait_connected(5)
            pub.submit(Feedback("phase", 0.0, {"phase": "calibrating", "rep": 0, "reps": 3}))
            pub.submit(Feedback("cue", 0.0, SETUP))
            pub.submit(Feedback("cue", 0.1, {"id": "calibrate_rest", "text": "Relax.",
                                             "severity": "info", "rep": 0}))
            pub.submit(Feedback("phase", 3.0, {"phase": "reference", "rep": 0, "reps": 3}))
            await _drained(pub)
            early = await _retained(settings, topic)
            assert len(early) == 1
            doc = json.loads(early[0])
            assert (doc["kind"], doc["text"], doc["rep"]) == ("setup", SETUP["text"], 0)
            assert doc["session"] == "s-setup" and "seq" not in doc
            # the ordinary cues stay unretained
            assert await _retained(settings, f"isofeedback/{patient}/cues") == []
            pub.submit(Feedback("phase", 9.0, {"phase": "waiting", "rep": 1, "reps": 3}))
            await _drained(pub)
            assert await _retained(settings, topic) == early  # every payload is JSON
    finally:
        stop(broker)
