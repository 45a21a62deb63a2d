"""The control topic end to end: a phone-like client pauses, resumes and stops a running
session over a real Mosquitto; bad commands are refused on the ack topic and change
nothing; every accepted command is recorded and a replay reproduces the session."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import aiomqtt

from isofeedback.recording.reader import RecordingReader
from isofeedback.recording.replay import replay_async
from isofeedback.session import RecordingPlan, SessionPlan, open_session
from tests.session.plans import simulated_plan


def _plan(patient: str, mosquitto: Any, folder: Path, out: io.StringIO) -> SessionPlan:
    return simulated_plan(patient, mosquitto, out,
                          recording=RecordingPlan(folder, "simulated", simulated=True))


async def test_pause_resume_stop_from_a_client_and_refusals(
    mosquitto: Any, patient: str, tmp_path: Path, payload_validator: Any
) -> None:
    out = io.StringIO()
    prefix = f"isofeedback/{patient}"
    # a command left on the broker, retained, before the session: refused, never applied
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as old_app:
        stale = {"schema": 1, "command": "skip_rep", "id": "stale"}
        await old_app.publish(f"{prefix}/control", json.dumps(stale).encode(), qos=1,
                              retain=True)
    session = asyncio.create_task(open_session(_plan(patient, mosquitto, tmp_path, out)))
    seen: list[dict[str, Any]] = []
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as phone:
        await phone.subscribe(f"{prefix}/#", qos=1)

        async def send(doc: Any) -> None:
            raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
            await phone.publish(f"{prefix}/control", raw, qos=1)

        async def wait_for(pred: Any, timeout: float = 60.0) -> dict[str, Any]:
            async with asyncio.timeout(timeout):
                async for msg in phone.messages:
                    assert isinstance(msg.payload, bytes)
                    if not msg.payload or str(msg.topic) == f"{prefix}/control":
                        continue  # our own commands come back too
                    doc = json.loads(msg.payload)
                    doc["_topic"] = str(msg.topic)
                    seen.append(doc)
                    if pred(doc):
                        return doc
            raise AssertionError("not seen")

        def ack(cid: str) -> Any:
            return lambda d: d.get("kind") == "control_ack" and d["id"] == cid

        a = await wait_for(ack("stale"))
        assert not a["accepted"] and "retained" in a["reason"], a
        await phone.publish(f"{prefix}/control", b"", qos=1, retain=True)  # clear it
        await wait_for(lambda d: d.get("kind") == "phase" and d["phase"] == "holding")
        # refused: each answered with a reason, none changes the session
        await send(b"not json")
        a = await wait_for(lambda d: d.get("kind") == "control_ack")
        assert not a["accepted"] and "JSON" in a["reason"]
        for cid, doc, words in [
            ("b1", {"schema": 1, "command": "dance", "id": "b1"}, "unknown command"),
            ("b2", {"schema": 1, "command": "pain", "id": "b2", "value": 11}, "0 to 10"),
            ("b3", {"schema": 1, "command": "pause", "id": "b3", "value": 1}, "no 'value'"),
            ("b4", {"schema": 9, "command": "stop", "id": "b4"}, "'schema'"),
        ]:
            await send(doc)
            a = await wait_for(ack(cid))
            assert not a["accepted"] and words in a["reason"], a
        # pause → the coach freezes; resume → it goes on
        await send({"schema": 1, "command": "pause", "id": "p1"})
        p1 = await wait_for(ack("p1"))
        assert p1["accepted"]
        paused = await wait_for(lambda d: d.get("kind") == "phase" and d["phase"] == "paused")
        # the ack says when: the session time the command takes effect at (it read 0.0)
        assert 0.0 < p1["t"] <= paused["t"] and paused["t"] - p1["t"] < 1.0, (p1, paused)
        await asyncio.sleep(1.0)
        await send({"schema": 1, "command": "resume", "id": "r1"})
        assert (await wait_for(ack("r1")))["accepted"]
        await wait_for(lambda d: d.get("kind") == "cue" and d["id"] == "resumed")
        await send({"schema": 1, "command": "stop", "id": "s1"})
        assert (await wait_for(ack("s1")))["accepted"]
        summary = await wait_for(lambda d: d.get("kind") == "summary")
    outcome = await asyncio.wait_for(session, 30)
    assert outcome.exit_code == 0 and outcome.stopped_by == "mqtt", out.getvalue()
    assert not summary["complete"]
    for doc in seen:
        payload_validator({k: v for k, v in doc.items() if not k.startswith("_")})
    payload_validator.schemas["control"].validate({"schema": 1, "command": "pain", "id": "x",
                                                   "value": 3})
    # every accepted command is in the recording, and replay reproduces the session
    assert outcome.recording is not None
    with RecordingReader(outcome.recording) as reader:
        commands = [c.command for _, c in reader.controls()]
    assert commands == ["pause", "resume", "stop"]
    result = await replay_async(outcome.recording, verify=True)
    assert result.verified, result.difference
