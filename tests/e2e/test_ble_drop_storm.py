"""A drop storm: the virtual Myo drops the link every few seconds for minutes of session.

The real service (bleak against the virtual BlueZ, a real Mosquitto, recording on) must
ride it out: every drop is noticed, reported (device offline/online, gaps) and survived;
the session is then stopped from the patient's app (the control topic) the normal way,
and the recording replays exactly. Nothing leaks: no asyncio task of the session is left.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import aiomqtt
from rich.console import Console

from isofeedback.ble.virtual_bluez import VirtualBluez
from isofeedback.ble.wearable import VirtualWearable, WearableFaults
from isofeedback.commands.run import live_session
from isofeedback.commands.virtual_device import session_packets
from isofeedback.profiles.schema import find_profile
from isofeedback.recording.replay import replay_async
from isofeedback.run_config import parse_run_config

SPEED = 10.0
EVERY_S = 5.0  # a drop every 5 session seconds, from 5 s to the end of a 2-minute session


async def test_drop_every_few_seconds_for_two_minutes(
    bluez: VirtualBluez, mosquitto: Any, patient: str, tmp_path: Path, payload_validator: Any
) -> None:
    profile = find_profile("myo")
    packets, _ = session_packets(profile, "pir", seed=6, device="arm", extra_reps=12)
    end = packets[-1].t_arrival
    assert end >= 120.0
    drops = tuple(EVERY_S * k for k in range(1, int(end // EVERY_S)))
    wearable = VirtualWearable(bluez, profile, packets, speed=SPEED,
                               faults=WearableFaults(drop_at=drops, outage_s=1.0))
    await wearable.start()
    cfg = parse_run_config({
        "patient": patient, "protocol": "pir",
        "devices": [{"name": "arm", "profile": "myo", "address": "auto"}],
        "broker": {"host": mosquitto.host, "port": mosquitto.port},
        "ble": {"scan_timeout": 5.0},
        "recording": {"folder": str(tmp_path / "recordings")},
    })
    before = {t for t in asyncio.all_tasks() if not t.done()}
    states: list[str] = []
    quality: list[dict[str, Any]] = []
    out = io.StringIO()
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as phone:
        await phone.subscribe(f"isofeedback/{patient}/device/arm/availability", qos=1)
        await phone.subscribe(f"isofeedback/{patient}/device/arm/quality", qos=1)
        session = asyncio.create_task(live_session(
            cfg, Console(file=out, width=120), view=False, time_scale=SPEED,
            data_dir=tmp_path / "patients"))

        async def watch() -> None:
            async for msg in phone.messages:
                assert isinstance(msg.payload, bytes)
                doc = json.loads(msg.payload)
                if doc["kind"] == "device_quality":
                    quality.append(doc)
                else:
                    states.append(doc["state"])

        watcher = asyncio.create_task(watch())
        await asyncio.wait_for(wearable.finished.wait(), end / SPEED + 90)
        await phone.publish(f"isofeedback/{patient}/control", qos=1, payload=json.dumps(
            {"schema": 1, "command": "stop", "id": "storm-over"}))
        code = await asyncio.wait_for(session, 60)
        await asyncio.sleep(0.3)
        watcher.cancel()
    text = out.getvalue()
    assert code == 0, text
    assert wearable.stats.drops >= 20, wearable.stats
    # every drop was noticed and announced, and each time the link came back
    assert states.count("offline") >= wearable.stats.drops, (states, wearable.stats)
    assert states.count("online") >= wearable.stats.drops
    assert f"{wearable.stats.drops} lost" in text, text
    assert "gap(s)" in text and "s of signal lost" in text
    # the stop path's summary
    assert "Session " in text and ("mean hold" in text or "no repetition finished" in text)
    # the signal light: link losses show as packet loss, and the light is not ok then
    for doc in quality:
        payload_validator(doc)
    losses = [d for d in quality if d["packet_loss"] is not None]
    assert max(d["packet_loss"] for d in losses) > 0.05, quality
    assert all(not d["ok"] for d in losses if d["packet_loss"] > 0.05), quality
    # no task of the session (BLE supervisors, publisher, receiver) outlives it
    await asyncio.sleep(0.2)
    left = {t for t in asyncio.all_tasks() if not t.done()} - before
    left.discard(asyncio.current_task())  # type: ignore[arg-type]
    # bleak's BlueZ manager is one per process (released by the fixture), not the session's
    left = {t for t in left if not t.get_coro().__qualname__.startswith("BlueZManager.")}
    assert not left, left
    (recording,) = (tmp_path / "recordings").glob("*.isorec")
    result = await replay_async(recording, verify=True)
    assert result.verified, result.difference
