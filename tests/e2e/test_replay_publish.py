"""Replay --publish sends a recorded session's feedback to MQTT like a live session."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

from isofeedback.cli import build_parser
from isofeedback.commands import replay as replay_command
from isofeedback.sinks.mqtt import BrokerSettings

SAMPLE = Path(__file__).resolve().parents[2] / "recordings" / "myo-pir-sim.isorec"


async def test_replay_publishes_events_and_summary(mosquitto: Any, patient: str,
                                                   tmp_path: Path) -> None:
    rec = tmp_path / SAMPLE.name
    shutil.copy(SAMPLE, rec)
    settings = BrokerSettings(mosquitto.host, mosquitto.port)
    received: list[dict[str, Any]] = []
    ready, done = asyncio.Event(), asyncio.Event()

    async def collect() -> None:
        async with settings.client() as client:
            await client.subscribe(f"isofeedback/{patient}/#", qos=1)
            ready.set()
            async for msg in client.messages:
                assert isinstance(msg.payload, bytes)
                doc = json.loads(msg.payload)
                received.append(doc)
                if doc.get("kind") == "status" and doc.get("state") == "offline":
                    done.set()
                    return

    task = asyncio.create_task(collect())
    await asyncio.wait_for(ready.wait(), 5)
    args = build_parser().parse_args(["replay", str(rec), "--publish", "--patient", patient,
                                      "--broker", f"{mosquitto.host}:{mosquitto.port}"])
    assert await asyncio.wait_for(replay_command._one(args, None), 60) == 0
    await asyncio.wait_for(done.wait(), 10)
    task.cancel()
    kinds = {d["kind"] for d in received}
    assert {"event", "phase", "cue", "rep", "summary"} <= kinds
    assert all(d["session"] == "myo-pir-sim-replay" for d in received)
    # the apps can tell a replay from a live session (the page's badge)
    assert {d.get("source") for d in received if d["kind"] == "status"} == {"replay"}
    onsets = [d for d in received if d["kind"] == "event" and d["type"] == "onset"]
    assert len(onsets) == 4  # MVC capture + 3 reps


async def test_a_replay_never_publishes_under_the_patients_own_topics(
        mosquitto: Any, tmp_path: Path) -> None:
    """Without --patient the replay publishes under the recorded pseudonym + '-replay':
    under the patient's own, its retained status and summary replaced the ones the
    patient's phone and the clinician's dashboard show."""
    from isofeedback.recording.reader import RecordingReader

    rec = tmp_path / SAMPLE.name
    shutil.copy(SAMPLE, rec)
    with RecordingReader(rec) as reader:
        recorded = str(reader.meta["patient"])
    settings = BrokerSettings(mosquitto.host, mosquitto.port)
    topics: list[str] = []
    ready, done = asyncio.Event(), asyncio.Event()

    async def collect() -> None:
        async with settings.client() as client:
            await client.subscribe("isofeedback/#", qos=1)
            ready.set()
            async for msg in client.messages:
                if msg.retain:  # what earlier tests left on the broker
                    continue
                topics.append(str(msg.topic))
                if str(msg.topic).endswith("/summary"):
                    done.set()

    task = asyncio.create_task(collect())
    await asyncio.wait_for(ready.wait(), 5)
    args = build_parser().parse_args(["replay", str(rec), "--publish",
                                      "--broker", f"{mosquitto.host}:{mosquitto.port}"])
    assert await asyncio.wait_for(replay_command._one(args, None), 60) == 0
    await asyncio.wait_for(done.wait(), 10)
    task.cancel()
    assert topics and all(t.startswith(f"isofeedback/{recorded}-replay/") for t in topics)
