"""The haptic hook sends the profile's vibrate command through the writer callable it is given."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from isofeedback.profiles.schema import find_profile
from isofeedback.sinks.haptic import HapticSink
from isofeedback.types import Feedback


async def test_release_cue_sends_the_myo_vibrate_command() -> None:
    writes: list[tuple[str, bytes]] = []

    async def writer(characteristic: str, data: bytes) -> None:
        writes.append((characteristic, data))

    profile = find_profile("myo")
    async with HapticSink(profile, writer) as sink:
        sink.submit(Feedback("cue", 1.0, {"id": "hold"}))
        sink.submit(Feedback("cue", 2.0, {"id": "release", "haptic": True}))
        await asyncio.sleep(0)
    assert writes == [("d5060401-a904-deb9-4748-2c7f4a124842", bytes([3, 1, 1]))]
    assert sink.stats.sent == 1 and sink.stats.requested == 1


async def test_a_failing_writer_is_counted_not_raised() -> None:
    async def writer(characteristic: str, data: bytes) -> None:
        raise OSError("not connected")

    async with HapticSink(find_profile("myo"), writer) as sink:
        sink.submit(Feedback("cue", 2.0, {"id": "release", "haptic": True}))
    assert sink.stats.failed == 1 and sink.stats.sent == 0


async def test_bursts_beyond_the_queue_are_dropped() -> None:
    gate = asyncio.Event()

    async def writer(characteristic: str, data: bytes) -> None:
        await gate.wait()

    async with HapticSink(find_profile("myo"), writer, max_pending=1) as sink:
        for k in range(4):
            sink.submit(Feedback("cue", float(k), {"id": "release", "haptic": True}))
        gate.set()
    assert sink.stats.requested == 4 and sink.stats.dropped == 3 and sink.stats.sent == 1


async def test_profile_without_haptics_is_a_no_op() -> None:
    async def writer(characteristic: str, data: bytes) -> None:
        raise AssertionError("must not be called")

    profile = replace(find_profile("myo"), haptic=())
    async with HapticSink(profile, writer) as sink:
        sink.submit(Feedback("cue", 2.0, {"id": "release", "haptic": True}))
    assert not sink.supported and sink.stats.requested == 0
