"""SIGINT and SIGTERM mid-hold end a session the normal way, for ``demo`` and ``run``.

Real processes, real signals: the command runs as a child process (``python -m
isofeedback``) against a private Mosquitto; ``run`` connects with the real bleak library
to a virtual Myo on a private D-Bus. When the subscriber sees the first hold begin, the
test sends the signal and then checks the one stop path: exit 0, the summary printed,
published and retained, ``offline`` retained, the patient's history stored, and the
recording replays exactly (``--verify``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from isofeedback.ble.private_bus import PrivateSystemBus
from isofeedback.ble.virtual_bluez import VirtualBluez, release_bleak_bluez_manager
from isofeedback.ble.wearable import VirtualWearable, WearableFaults
from isofeedback.commands.virtual_device import session_packets
from isofeedback.profiles.schema import find_profile
from isofeedback.recording.replay import replay_async
from isofeedback.sinks.mqtt import BrokerSettings

SPEED = 4.0


async def _retained(settings: BrokerSettings, topic: str) -> dict[str, dict[str, Any]]:
    """Every retained message under ``topic`` (a fresh subscriber gets only those)."""
    import aiomqtt

    found: dict[str, dict[str, Any]] = {}
    async with aiomqtt.Client(settings.host, settings.port) as client:
        await client.subscribe(topic, qos=1)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                async for msg in client.messages:
                    assert isinstance(msg.payload, bytes)
                    if msg.retain and msg.payload:
                        found[str(msg.topic)] = json.loads(msg.payload)
    return found


async def _signal_mid_hold(args: list[str], env: dict[str, str], mosquitto: Any, patient: str,
                           collector: Any, sig: signal.Signals) -> tuple[int, str, list[Any]]:
    received: list[dict[str, Any]] = []
    ready = asyncio.Event()
    settings = BrokerSettings(mosquitto.host, mosquitto.port)
    holding = asyncio.Event()

    def until(doc: dict[str, Any]) -> bool:
        if doc.get("kind") == "phase" and doc.get("phase") == "holding":
            holding.set()
        return False

    sub = asyncio.create_task(collector(settings, f"isofeedback/{patient}/#", received, ready,
                                        until))
    await asyncio.wait_for(ready.wait(), 5)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "isofeedback", *args, "--patient", patient, "--plain",
        "--broker", f"{mosquitto.host}:{mosquitto.port}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL, env=env)
    try:
        await asyncio.wait_for(holding.wait(), 90)
        await asyncio.sleep(1.0)  # mid-hold
        proc.send_signal(sig)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    await asyncio.sleep(0.3)
    sub.cancel()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), received


async def _check_stop_path(code: int, text: str, received: list[dict[str, Any]],
                           mosquitto: Any, patient: str, data_dir: Path, recordings: Path,
                           sig: signal.Signals) -> None:
    assert code == 0, text
    assert "Session " in text and "Ended early: stopped by the service" in text, text
    assert "mean hold" in text or "no repetition finished (0 of" in text, text
    summaries = [d for d in received if d.get("kind") == "summary"]
    assert len(summaries) == 1, text
    # the clinician's report must not read a shutdown as the patient giving up
    assert summaries[0]["stop_reason"] == f"stopped by the service ({sig.name})"
    retained = await _retained(BrokerSettings(mosquitto.host, mosquitto.port),
                               f"isofeedback/{patient}/#")
    assert retained[f"isofeedback/{patient}/status"]["state"] == "offline"
    assert retained[f"isofeedback/{patient}/status"]["reason"] == "stopped"
    assert retained[f"isofeedback/{patient}/summary"]["session"] == summaries[0]["session"]
    store = json.loads((data_dir / f"{patient}.json").read_text())
    assert [s["session"] for s in store["sessions"]] == [summaries[0]["session"]]
    (recording,) = recordings.glob("*.isorec")
    result = await replay_async(recording, verify=True)
    assert result.complete and result.verified, result.difference
    assert result.meta["end_stats"]["stopped_by"] == f"signal:{sig.name}"
    assert result.summary == {k: v for k, v in store["sessions"][0].items()
                              if k not in ("session", "wall")}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_demo_stops_cleanly_on_signal_mid_hold(
    sig: signal.Signals, mosquitto: Any, patient: str, tmp_path: Path, mqtt_collector: Any
) -> None:
    data_dir, recordings = tmp_path / "patients", tmp_path / "rec"
    args = ["demo", "--speed", str(SPEED), "--record", str(recordings),
            "--data-dir", str(data_dir)]
    code, text, received = await _signal_mid_hold(args, dict(os.environ), mosquitto, patient,
                                                  mqtt_collector, sig)
    await _check_stop_path(code, text, received, mosquitto, patient, data_dir, recordings, sig)


@pytest.fixture
async def virtual_myo(tmp_path: Path) -> AsyncIterator[tuple[str, VirtualWearable]]:
    async with PrivateSystemBus() as bus:
        try:
            async with VirtualBluez(bus.address, advertising_interval=0.05) as bluez:
                profile = find_profile("myo")
                packets, _ = session_packets(profile, "pir", seed=3, device="arm")
                wearable = VirtualWearable(bluez, profile, packets, speed=SPEED,
                                           faults=WearableFaults())
                await wearable.start()
                try:
                    yield bus.address, wearable
                finally:
                    await wearable.close()
        finally:
            await release_bleak_bluez_manager()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_run_stops_cleanly_on_signal_mid_hold(
    sig: signal.Signals, virtual_myo: tuple[str, VirtualWearable], mosquitto: Any,
    patient: str, tmp_path: Path, mqtt_collector: Any
) -> None:
    address, _ = virtual_myo
    data_dir, recordings = tmp_path / "patients", tmp_path / "rec"
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address}
    args = ["run", "--profile", "myo", "--time-scale", str(SPEED), "--record", str(recordings),
            "--data-dir", str(data_dir)]
    code, text, received = await _signal_mid_hold(args, env, mosquitto, patient,
                                                  mqtt_collector, sig)
    await _check_stop_path(code, text, received, mosquitto, patient, data_dir, recordings, sig)
    assert "> " in text and "phase: holding" in text, "run --plain prints phases and cues"
