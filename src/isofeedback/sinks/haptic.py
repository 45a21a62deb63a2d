"""Haptic cues on the wearable itself: "release now" felt, not only heard or seen.

A sink like the others: ``submit`` never blocks. A feedback item with ``haptic: true`` in
its payload makes a named task send the firmware profile's ``[commands] haptic`` writes
(the Myo's vibrate command) through ``writer``, an async callable ``(characteristic
uuid, bytes)`` provided by whoever holds the BLE connection. A buzz that cannot be sent
at once is useless later, so at most ``max_pending`` wait; extra ones are dropped and
counted, and a failing write is counted and logged, never raised into the session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from isofeedback.profiles.schema import Profile
from isofeedback.sinks.one_at_a_time import OneAtATime
from isofeedback.types import Event, Feedback

__all__ = ["HapticSink", "HapticStats", "HapticWriter"]

log = logging.getLogger(__name__)

HapticWriter = Callable[[str, bytes], Awaitable[None]]


@dataclass
class HapticStats:
    requested: int = 0
    sent: int = 0
    dropped: int = 0
    failed: int = 0


class HapticSink(OneAtATime[float]):
    """Sends ``profile``'s haptic command for every feedback item marked ``haptic``.

    Use as ``async with HapticSink(profile, writer) as sink:``; a profile without a
    haptic command makes the sink a no-op (``supported`` is false).
    """

    task_name = "haptic-cues"

    def __init__(self, profile: Profile, writer: HapticWriter, max_pending: int = 2) -> None:
        super().__init__()
        self.profile = profile
        self.writer = writer
        self.max_pending = max_pending
        self.stats = HapticStats()

    @property
    def supported(self) -> bool:
        return bool(self.profile.haptic)

    def submit(self, item: Event | Feedback) -> None:
        """Queue a buzz for a haptic cue; never blocks."""
        if not isinstance(item, Feedback) or not item.payload.get("haptic"):
            return
        if not self.supported:
            return
        self.stats.requested += 1
        if len(self._queue) >= self.max_pending:
            self.stats.dropped += 1
            return
        self._queue.append(item.t)
        self._queued()

    async def deliver(self, item: float) -> None:
        try:
            for cmd in self.profile.haptic:
                await self.writer(cmd.characteristic, cmd.data)
                if cmd.delay_s:
                    await asyncio.sleep(cmd.delay_s)
            self.stats.sent += 1
        except Exception as exc:  # a device error must not end the session
            self.stats.failed += 1
            log.warning("haptic cue not delivered: %s", exc)
