"""BleSource against the virtual BlueZ through real bleak: the failures a patient meets."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from isofeedback.ble.private_bus import PrivateSystemBus
from isofeedback.ble.virtual_bluez import (
    BLUEZ_ERROR_FAILED,
    BLUEZ_ERROR_IN_PROGRESS,
    VirtualBluez,
)
from isofeedback.ble.wearable import VirtualWearable, WearableFaults
from isofeedback.coach.protocol import find_protocol
from isofeedback.errors import DeviceError
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.sim import packetize, protocol_script
from isofeedback.sources.ble import BleSource, DeviceStatus, DeviceTarget
from isofeedback.sources.simulated import simulate_for_profile
from isofeedback.types import Packet

MYO = find_profile("myo")


def myo_packets(seconds_of_rest: float = 3.0) -> list[Packet]:
    script = protocol_script("pir", reps=1, hold=1.0, relax=1.0, stretch=0.5,
                             rest_before=seconds_of_rest, seed=2, mvc_capture=False)
    return packetize(simulate_for_profile(script, MYO), MYO, device="arm")


async def collect(source: BleSource, n: int, timeout: float = 10.0) -> list[Packet]:
    out: list[Packet] = []

    async def take() -> None:
        async for p in source.packets():
            out.append(p)
            if len(out) >= n:
                return

    await asyncio.wait_for(take(), timeout)
    return out


async def test_no_matching_device_is_a_clear_device_error(virtual_bluez: VirtualBluez) -> None:
    with pytest.raises(DeviceError, match=r"no device matching profile 'myo' \(name Myo…"):
        async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=0.5):
            pass


def test_run_command_without_device_exits_2_with_one_line(mosquitto: Any) -> None:
    async def serve() -> subprocess.CompletedProcess[str]:
        async with PrivateSystemBus() as bus, VirtualBluez(bus.address):
            env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "isofeedback.cli", "run", "--profile", "myo",
                "--scan-timeout", "0.5", "--plain", "--broker",
                f"{mosquitto.host}:{mosquitto.port}",
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), 30)
            return subprocess.CompletedProcess([], proc.returncode or 0, out.decode(),
                                               err.decode())

    result = asyncio.run(serve())
    assert result.returncode == 2
    assert result.stderr.startswith("isofeedback: error: no device matching profile 'myo'")
    assert "--wait" in result.stderr and result.stderr.count("\n") == 1, result.stderr


async def test_missing_characteristic_names_it(virtual_bluez: VirtualBluez) -> None:
    missing = MYO.notify_characteristics[-1]
    w = VirtualWearable(virtual_bluez, MYO, myo_packets(),
                        faults=WearableFaults(missing=(missing,)))
    await w.start()
    with pytest.raises(DeviceError, match=f"lacks characteristic.*{missing}.*profile 'myo'"):
        async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=3):
            pass
    assert not w.device or not w.device.connected  # disconnected cleanly


async def test_rejected_start_command_is_reported(virtual_bluez: VirtualBluez) -> None:
    w = VirtualWearable(virtual_bluez, MYO, myo_packets(),
                        faults=WearableFaults(reject_start=True))
    await w.start()
    with pytest.raises(DeviceError, match="rejected start command 09 01 01"):
        async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=3):
            pass


async def test_polar_start_reply_is_checked(virtual_bluez: VirtualBluez) -> None:
    polar = find_profile("polar_h10")
    w = VirtualWearable(virtual_bluez, polar, [], address="C0:FF:EE:00:00:10")
    await w.start()
    async with BleSource([DeviceTarget("chest", polar)], scan_timeout=3) as src:
        assert src.stats["chest"].online
    # a device that answers with an error status
    bad = find_profile("polar_h10")
    object.__setattr__(bad.start[0], "expect", bytes.fromhex("f0 02 02 05"))
    w2 = VirtualWearable(virtual_bluez, polar, [], address="C0:FF:EE:00:00:11")
    await virtual_bluez.remove_device(w.address)
    await w2.start()
    with pytest.raises(DeviceError, match="replied f0 02 02 00 00, expected f0 02 02 05"):
        async with BleSource([DeviceTarget("chest", bad)], scan_timeout=3):
            pass


@pytest.mark.parametrize("error", [BLUEZ_ERROR_IN_PROGRESS, BLUEZ_ERROR_FAILED])
async def test_adapter_errors_on_connect_are_retried(virtual_bluez: VirtualBluez,
                                                     error: str) -> None:
    w = VirtualWearable(virtual_bluez, MYO, myo_packets(), speed=4.0)
    await w.start()
    virtual_bluez.fail_next("Connect", error, times=2)
    async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=3) as src:
        got = await collect(src, 50)
    assert virtual_bluez.calls["Connect"] >= 3
    assert {p.device for p in got} == {"arm"}
    assert src.stats["arm"].connects == 1


async def test_scan_in_progress_is_retried(virtual_bluez: VirtualBluez) -> None:
    w = VirtualWearable(virtual_bluez, MYO, myo_packets(), speed=4.0)
    await w.start()
    virtual_bluez.fail_next("StartDiscovery", BLUEZ_ERROR_IN_PROGRESS)
    async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=3) as src:
        assert len(await collect(src, 10)) == 10


async def test_short_packets_are_counted_and_the_session_goes_on(
    virtual_bluez: VirtualBluez,
) -> None:
    w = VirtualWearable(virtual_bluez, MYO, myo_packets(), speed=8.0,
                        faults=WearableFaults(corrupt_every=20))
    await w.start()
    statuses: list[DeviceStatus] = []
    async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=3,
                         on_status=statuses.append) as src:
        pipeline = Pipeline(src.profiles, find_protocol("pir"))
        for p in await collect(src, 400):
            pipeline.feed(p)
    assert pipeline.stats.bad_packets == 20
    assert "packet has 8 bytes, expected 16" in pipeline.stats.last_error or \
        "packet has 10 bytes, expected 20" in pipeline.stats.last_error
    assert pipeline.decoders["arm"].stats.packets == 380
    assert [s.kind for s in statuses][:2] == ["battery", "availability"]


async def test_notification_flood_is_bounded_and_counted(virtual_bluez: VirtualBluez) -> None:
    # nobody reads the queue while the device streams flat out: the queue stays bounded
    w = VirtualWearable(virtual_bluez, MYO, myo_packets(10.0), speed=None)
    await w.start()
    async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=3, queue_size=100) as src:
        await asyncio.wait_for(w.finished.wait(), 20)
        await virtual_bluez.drain()
        await asyncio.sleep(0.1)
        stats = src.stats["arm"]
        assert src._queue.qsize() == 100
        assert stats.notifications == 100
        assert stats.dropped == w.stats.sent - 100 > 0
        assert len(await collect(src, 100)) == 100


async def test_two_devices_share_one_clock(virtual_bluez: VirtualBluez) -> None:
    emg = find_profile("openemg")
    a = VirtualWearable(virtual_bluez, MYO, myo_packets(), speed=2.0)
    b = VirtualWearable(virtual_bluez, emg, [], address="C0:FF:EE:00:00:02")
    await a.start()
    await b.start()
    async with BleSource([DeviceTarget("arm", MYO), DeviceTarget("ref", emg)],
                         scan_timeout=3) as src:
        assert src.stats["arm"].online and src.stats["ref"].online
        assert src.stats["arm"].address != src.stats["ref"].address
        got = await collect(src, 20)
        assert all(0 < p.t_arrival < src.now() for p in got)
    assert not a.device or not a.device.connected
    assert b.device is not None and not b.device.connected
    assert ("4f70656e-454d-4700-8000-000000000004", bytes.fromhex("58")) in b.device.writes
