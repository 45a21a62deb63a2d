"""No broker installed: the built-in one starts and carries a whole session's feed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import aiomqtt

from isofeedback.broker import free_port, resolve_broker
from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.service import run_session
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.sources.simulated import SimulatedSource


async def test_builtin_broker_when_none_is_reachable(patient: str) -> None:
    nobody = BrokerSettings(port=free_port())  # nothing listens there
    protocol = dataclasses.replace(find_protocol("pir"), reps=1, hold_s=3.0, relax_s=2.0,
                                   stretch_s=2.0)
    script = follow_protocol(protocol, seed=2)
    source = SimulatedSource(script, find_profile("myo"), speed=None)
    async with resolve_broker(nobody, explicit=False) as (broker, where):
        assert "built-in" in where and broker.port != nobody.port and broker.protocol == "3.1.1"
        got: list[dict[str, Any]] = []
        ready = asyncio.Event()

        async def subscriber() -> None:
            async with aiomqtt.Client(broker.host, broker.port) as client:
                await client.subscribe(f"isofeedback/{patient}/#", qos=1)
                ready.set()
                async for msg in client.messages:
                    assert isinstance(msg.payload, bytes)
                    got.append(json.loads(msg.payload))
                    if got[-1].get("kind") == "summary":
                        return

        task = asyncio.create_task(subscriber())
        await asyncio.wait_for(ready.wait(), 5)
        async with MqttPublisher(broker, Serializer(patient, "s", 1.7e9)) as pub:
            assert await pub.wait_connected(5)
            await run_session(source, Pipeline(source.profiles, protocol), [pub])
        await asyncio.wait_for(task, 10)
    kinds = {d["kind"] for d in got}
    assert {"event", "cue", "phase", "summary"} <= kinds
    assert [d["type"] for d in got if d["kind"] == "event" and d["type"] == "onset"]
