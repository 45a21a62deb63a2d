"""The wall clock jumps (NTP catching up after a laptop slept, a user fixing the time zone,
a Raspberry Pi without a real-time clock syncing after boot): the session clock must not.

Session time comes from the event loop's monotonic clock (BleSource) and sample indices
(StreamClock), never from ``time.time``. Here a live session runs through real bleak
against the virtual BlueZ while the process's wall clock jumps one hour forward and then
two hours back; arrival times, events and cues stay on the monotonic session time line.
Wall-clock fields (``wall`` in MQTT payloads) may jump: they say what the clock said.
"""

from __future__ import annotations

import asyncio
import time
from itertools import pairwise
from typing import Any

import pytest

from isofeedback.ble.virtual_bluez import VirtualBluez
from isofeedback.ble.wearable import VirtualWearable
from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.sim import packetize, protocol_script
from isofeedback.sources.ble import BleSource, DeviceTarget
from isofeedback.sources.simulated import simulate_for_profile
from isofeedback.types import Event, EventType, Packet

MYO = find_profile("myo")
SCALE = 4.0  # session seconds per real second, for the wearable and the source alike
HOUR = 3600.0


class JumpingWallClock:
    """``time.time`` that is right at first, then an hour fast, then an hour slow."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.start = time.monotonic()
        self.schedule = ((0.4, HOUR), (0.9, -HOUR))  # (real seconds in, offset)
        self.seen: list[float] = []

    def offset(self) -> float:
        elapsed = time.monotonic() - self.start
        return next(
            (off for at, off in reversed(self.schedule) if elapsed >= at), 0.0)

    def time(self) -> float:
        now = float(self.real()) + self.offset()
        self.seen.append(now)
        return now

    def time_ns(self) -> int:
        return int(self.time() * 1e9)


async def test_session_clock_ignores_wall_clock_jumps(
    virtual_bluez: VirtualBluez, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = protocol_script("pir", reps=1, hold=1.5, relax=1.0, stretch=0.5,
                             rest_before=3.0, seed=2, mvc_capture=False)
    packets = packetize(simulate_for_profile(script, MYO), MYO, device="arm")
    wearable = VirtualWearable(virtual_bluez, MYO, packets, speed=SCALE)
    await wearable.start()
    got: list[Packet] = []
    outputs: list[Any] = []
    before_source = time.monotonic()  # the session clock starts inside BleSource
    async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=3,
                         time_scale=SCALE) as src:
        pipeline = Pipeline(src.profiles, find_protocol("pir"))
        wall = JumpingWallClock(time.time)
        monkeypatch.setattr(time, "time", wall.time)
        monkeypatch.setattr(time, "time_ns", wall.time_ns)

        async def stream() -> None:
            async for p in src.packets():
                got.append(p)
                outputs.extend(pipeline.feed(p))
                if p.t_arrival >= packets[-1].t_arrival - 0.5:
                    return

        async def read_the_wall_clock() -> None:  # what a log line or payload would see
            while True:
                time.time()
                await asyncio.sleep(0.05)

        sampler = asyncio.create_task(read_the_wall_clock())
        await asyncio.wait_for(stream(), 30)  # a hang guard only
        sampler.cancel()
        session_now = src.now()
        monotonic_bound = (time.monotonic() - before_source) * SCALE
        monkeypatch.undo()
    arrivals = [p.t_arrival for p in got]
    assert arrivals == sorted(arrivals)
    # a stalled shared machine may pause delivery for a moment; a jump would be an hour
    assert max(b - a for a, b in pairwise(arrivals)) < 30.0
    jumped = [b - a for a, b in pairwise(wall.seen)]
    assert max(jumped) > 0.9 * HOUR and min(jumped) < -1.9 * HOUR  # the clock did jump
    assert 0 < arrivals[-1] <= session_now <= monotonic_bound
    events = [o for o in outputs if isinstance(o, Event)]
    assert events, "the hold should have been detected"
    times = [o.t_decided if isinstance(o, Event) else o.t for o in outputs]
    assert all(0 <= t <= arrivals[-1] + 0.5 for t in times), times
    assert [e.t_decided for e in events] == sorted(e.t_decided for e in events)
    onset = next(e for e in events if e.type == EventType.ONSET)
    # the onset is where the simulated patient started, counted from the first packet
    # (streaming starts once connected); a wall-clock time would be an hour off
    expected = script.contractions[0].onset - packets[0].t_arrival + arrivals[0]
    assert abs(onset.t - expected) < 2.0, (onset.t, expected)
