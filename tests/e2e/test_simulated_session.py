"""A simulated session through the whole pipeline to a real Mosquitto and a subscriber."""

from __future__ import annotations

import asyncio
from typing import Any

from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.service import run_session
from isofeedback.sim import Faults
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.sources.simulated import SimulatedSource

ONSET_TOL_S = 0.06  # back-dated onset vs the first sample of the ramp (Myo: 200 Hz, int8)
RELEASE_TOL_S = 0.1  # back-dated release vs the last sample of activation (passes at 0.06)
MOVEMENT_TOL_S = 0.15  # movement event vs the moment the joint passed 5 degrees


async def test_session_events_match_simulator_labels(
    mosquitto: Any, patient: str, mqtt_collector: Any
) -> None:
    profile = find_profile("myo")
    protocol = find_protocol("pir")
    script = follow_protocol(protocol, level=0.18, rest_before=4.0, seed=3,
                             faults=Faults(move_in_rep=1))
    source = SimulatedSource(script, profile, speed=None)
    pipeline = Pipeline(source.profiles, protocol)
    settings = BrokerSettings(mosquitto.host, mosquitto.port)
    received: list[dict[str, Any]] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(mqtt_collector(
        settings, f"isofeedback/{patient}/#", received, ready,
        lambda d: d.get("kind") == "status" and d.get("state") == "offline"))
    await asyncio.wait_for(ready.wait(), 5)
    async with MqttPublisher(settings, Serializer(patient, "s1", 1.7e9)) as pub:
        assert await pub.wait_connected(5)
        await run_session(source, pipeline, [pub])
    await asyncio.wait_for(sub, 10)

    events = [d for d in received if d["_topic"].endswith("/events")]
    onsets = [d["t_event"] for d in events if d["type"] == "onset"]
    releases = [d["t_event"] for d in events if d["type"] == "release"]
    truth_on = [c.onset for c in script.contractions]
    truth_off = [c.release for c in script.contractions]
    assert len(onsets) == len(truth_on), (onsets, truth_on)
    assert len(releases) == len(truth_off), (releases, truth_off)
    for got, want in zip(onsets, truth_on, strict=True):
        assert abs(got - want) <= ONSET_TOL_S, (got, want)
    for got, want in zip(releases, truth_off, strict=True):
        assert abs(got - want) <= RELEASE_TOL_S, (releases, truth_off)
    crossing = source.session.movement_crossings(5.0)
    moves = [d["t_event"] for d in events if d["type"] == "movement"]
    assert len(crossing) == 1 and len(moves) == 1, (crossing, moves)
    assert abs(moves[0] - crossing[0]) <= MOVEMENT_TOL_S, (moves, crossing)
    cues = [d["id"] for d in received if d["_topic"].endswith("/cues")]
    assert "keep_still" in cues and cues[-1] == "done"
    summary = next(d for d in received if d["kind"] == "summary")
    assert summary["reps_done"] == 3 and summary["violations"] == ["moved"]
    statuses = [d["state"] for d in received if d["_topic"].endswith("/status")]
    assert statuses[0] == "online" and statuses[-1] == "offline"
    assert all(d["schema"] == 1 and d["session"] == "s1" for d in received)
