"""A virtual wearable: a firmware profile's real GATT layout on the virtual BlueZ, streaming
the simulated patient's packets once a client writes the profile's start command.

The patient's timeline starts with the first start command and runs on whether or not a
client listens: while the link is down the packets are lost, exactly as samples a real
sensor takes out of range never arrive. Faults (a dropped connection, a rejected start,
a missing characteristic, corrupt packets) are injected here, so the service's handling of
each is tested through the real bleak code path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from isofeedback.ble.virtual_bluez import (
    BLUEZ_ERROR_FAILED,
    GattCharacteristicSpec,
    GattServiceSpec,
    VirtualBluez,
    VirtualDevice,
    VirtualDeviceSpec,
    VirtualGattError,
)
from isofeedback.profiles.schema import Profile
from isofeedback.sources.pacing import paced
from isofeedback.types import Packet

__all__ = ["VirtualWearable", "WearableFaults", "WearableStats", "device_spec"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WearableFaults:
    """What goes wrong: ``drop_at`` session times at which the peripheral drops the link and
    stays out of range (not advertising) for ``outage_s`` session seconds; ``reject_start``
    refuses the start command; ``missing`` characteristics are left out of the GATT table;
    every ``corrupt_every``-th packet is cut short (0 = never)."""

    drop_at: tuple[float, ...] = ()
    outage_s: float = 1.5
    reject_start: bool = False
    missing: tuple[str, ...] = ()
    corrupt_every: int = 0


@dataclass
class WearableStats:
    sent: int = 0
    lost_offline: int = 0
    corrupted: int = 0
    drops: int = 0
    starts: int = 0


def device_spec(
    profile: Profile,
    address: str,
    name: str | None = None,
    battery: int = 87,
    rssi: int = -55,
    missing: Sequence[str] = (),
) -> VirtualDeviceSpec:
    """The profile's GATT table as a virtual peripheral (``missing`` characteristics left out)."""
    services = []
    for s in profile.services:
        chars = tuple(
            GattCharacteristicSpec(
                c.uuid, c.flags, bytes([battery]) if c.uuid == profile.battery else b""
            )
            for c in s.characteristics
            if c.uuid not in missing
        )
        services.append(GattServiceSpec(s.uuid, chars))
    prefix = profile.name_prefixes[0] if profile.name_prefixes else profile.id
    return VirtualDeviceSpec(
        address=address,
        name=name or f"{prefix}-virtual",
        services=tuple(services),
        advertised_services=profile.advertised_services,
        rssi=rssi,
    )


@dataclass
class VirtualWearable:
    """Streams ``packets`` (from :func:`isofeedback.sim.packetize`) as ``profile``'s device.

    ``speed`` × real time; ``await wearable.start()`` adds it to ``bluez``;
    ``await wearable.finished.wait()`` returns when every packet was played.
    """

    bluez: VirtualBluez
    profile: Profile
    packets: Sequence[Packet]
    address: str = "C0:FF:EE:00:00:01"
    speed: float | None = 1.0
    name: str | None = None
    battery: int = 87
    faults: WearableFaults = field(default_factory=WearableFaults)
    stats: WearableStats = field(default_factory=WearableStats)

    def __post_init__(self) -> None:
        self.device: VirtualDevice | None = None
        self.finished = asyncio.Event()
        self.started = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._start_cmds = [c.data for c in self.profile.start]
        self._stop_cmds = {c.data for c in self.profile.stop}

    async def start(self) -> VirtualDevice:
        spec = device_spec(self.profile, self.address, self.name, self.battery,
                           missing=self.faults.missing)
        self.device = await self.bluez.add_device(spec)
        self.device.on_write = self._on_write
        return self.device

    async def _outage(self) -> None:
        """Out of range: the link drops and the device is not seen for ``outage_s``."""
        dev, self.device = self.device, None
        assert dev is not None
        self.stats.drops += 1
        await dev.drop_connection()
        await self.bluez.remove_device(self.address)
        await asyncio.sleep(self.faults.outage_s / (self.speed or 1.0))
        await self.start()

    async def close(self) -> None:
        for task in [self._task, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _on_write(self, uuid: str, data: bytes) -> None:
        cmd = next((c for c in self.profile.start if c.characteristic == uuid and
                    c.data == data), None)
        if cmd is not None:
            if self.faults.reject_start:
                raise VirtualGattError(BLUEZ_ERROR_FAILED, "Operation failed with ATT error: 0x80")
            if cmd.expect is not None and cmd.reply_characteristic is not None:
                reply = cmd.expect + b"\x00"
                self._spawn(self._reply(cmd.reply_characteristic, reply))
            if data == self._start_cmds[-1]:
                self.stats.starts += 1
                if self._task is None:
                    self._task = asyncio.get_running_loop().create_task(self._play())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reply(self, uuid: str, data: bytes) -> None:
        await asyncio.sleep(0.005)  # the device answers after the write's response
        assert self.device is not None
        await self.device.notify(uuid, data)

    async def _play(self) -> None:
        """The patient's timeline: packets at their arrival times, lost while offline."""
        self.started.set()
        drops = sorted(self.faults.drop_at)
        every = self.faults.corrupt_every
        try:
            async for i, p in _enumerate(paced(self.packets, self.speed)):
                while drops and p.t_arrival >= drops[0]:
                    drops.pop(0)
                    if self.device is not None and self.device.connected:
                        self._spawn(self._outage())
                        await asyncio.sleep(0)
                dev = self.device
                if dev is None:  # out of range
                    self.stats.lost_offline += 1
                    continue
                data = p.data
                if every and i % every == every - 1:
                    data = data[: len(data) // 2]
                    self.stats.corrupted += 1
                if await dev.notify(p.characteristic, data):
                    self.stats.sent += 1
                else:
                    self.stats.lost_offline += 1
        finally:
            self.finished.set()


async def _enumerate(packets: AsyncIterator[Packet]) -> AsyncIterator[tuple[int, Packet]]:
    i = 0
    async for p in packets:
        yield i, p
        i += 1
