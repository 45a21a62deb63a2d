"""The retained ``progress`` message is the patient's history: published only when it is
kept (docs/mqtt.md); without a data folder it would be this one session, with no id."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from isofeedback.session import StorePlan, open_session
from tests.session.plans import simulated_plan


@pytest.mark.parametrize("kept", [False, True])
async def test_progress_is_published_only_when_the_history_is_kept(
        mosquitto: Any, patient: str, tmp_path: Path, kept: bool) -> None:
    options = {"store": StorePlan(tmp_path, "myo", "sim")} if kept else {}
    plan = simulated_plan(patient, mosquitto, io.StringIO(), speed=8.0, **options)
    prefix = f"isofeedback/{patient}"
    kinds: list[str] = []
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as app:
        await app.subscribe(f"{prefix}/#", qos=1)
        session = asyncio.create_task(open_session(plan))

        async def read() -> None:
            async for msg in app.messages:
                if not msg.payload or str(msg.topic) == f"{prefix}/control":
                    continue
                assert isinstance(msg.payload, bytes)
                doc = json.loads(msg.payload)
                kinds.append(doc.get("kind", ""))
                if doc.get("kind") == "phase" and doc["phase"] == "holding":
                    await app.publish(f"{prefix}/control", json.dumps(
                        {"schema": 1, "command": "stop", "id": "s"}).encode(), qos=1)
                if doc.get("kind") == "status" and doc.get("state") == "offline":
                    return

        reader = asyncio.create_task(read())
        outcome = await asyncio.wait_for(session, 60)
        assert outcome.exit_code == 0
        await asyncio.sleep(1.0)  # what is still in flight
        reader.cancel()
    assert "summary" in kinds
    assert ("progress" in kinds) == kept, kinds
