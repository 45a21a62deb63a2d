"""Service mode (``run --wait``): no sensor yet is not an error; the source keeps scanning
and connects as soon as the sensor appears."""

from __future__ import annotations

import asyncio

from isofeedback.ble.virtual_bluez import VirtualBluez
from isofeedback.ble.wearable import VirtualWearable
from isofeedback.profiles.schema import find_profile
from isofeedback.sim import packetize, protocol_script
from isofeedback.sources.ble import BleSource, DeviceStatus, DeviceTarget
from isofeedback.sources.simulated import simulate_for_profile

MYO = find_profile("myo")


async def test_wait_keeps_scanning_until_the_sensor_appears(virtual_bluez: VirtualBluez) -> None:
    script = protocol_script("pir", reps=1, hold=1.0, relax=1.0, stretch=0.5,
                             rest_before=2.0, seed=2, mvc_capture=False)
    wearable = VirtualWearable(virtual_bluez, MYO,
                               packetize(simulate_for_profile(script, MYO), MYO, device="arm"),
                               speed=4.0)
    statuses: list[DeviceStatus] = []
    source = BleSource([DeviceTarget("arm", MYO)], scan_timeout=0.3, wait=True,
                       on_status=statuses.append)
    entered = asyncio.Event()
    packets = []

    async def consume() -> None:
        async with source:
            entered.set()
            async for p in source.packets():
                packets.append(p)
                if len(packets) >= 50:
                    return

    task = asyncio.create_task(consume())
    # several scans find nothing (each 0.3 s); without --wait the source would have failed
    await asyncio.sleep(1.5)
    assert not task.done() and not entered.is_set()
    assert virtual_bluez.calls["StartDiscovery"] >= 2
    await wearable.start()
    await asyncio.wait_for(task, 30)
    assert {p.device for p in packets} == {"arm"} and len(packets) == 50
    assert source.stats["arm"].connects == 1
    assert any(s.kind == "availability" and s.body.get("state") == "online" for s in statuses)
