"""Pacing of pre-timed items: real time with drift correction, N× faster, or max speed.

Sleeps only until each item's target time (computed from the start, never accumulated),
so scheduling delays do not add up over a long session. Packets are paced by their arrival
time; chunks of foreign data by the time just after their last sample.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

from isofeedback.sources.base import PacketSource
from isofeedback.types import Chunk, Packet

__all__ = ["BATCH_MAX", "PacedSource", "paced", "paced_batches"]

T = TypeVar("T", Packet, Chunk)


def _due(item: Packet | Chunk) -> float:
    return item.t_arrival if isinstance(item, Packet) else item.t_end


async def paced(
    items: Iterable[T],
    speed: float | None,
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[T]:
    """Yield ``items`` at ``speed`` × real time (``None`` = as fast as possible).
    ``clock`` (default: the event loop's) and ``sleep`` are the time source, replaceable
    so a test can drive the pacing on a virtual clock."""
    async for batch in paced_batches(items, speed, clock=clock, sleep=sleep):
        for item in batch:
            yield item


#: the most items one batch of :func:`paced_batches` holds
BATCH_MAX = 256


async def paced_batches(
    items: Iterable[T],
    speed: float | None,
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[list[T]]:
    """:func:`paced`, each item with those after it that are already due when it is: a
    consumer that fell behind (a stall, an overloaded process) gets what it missed in
    one batch, as a live link's queue would hand it over. At full speed every item
    comes alone (nothing is "due": there is no schedule)."""
    now = clock or asyncio.get_running_loop().time
    start = now()
    it = iter(items)
    item = next(it, None)
    i = 0
    while item is not None:
        if speed is None:
            if i % 256 == 0:
                await sleep(0)  # let sinks and the broker link breathe
            i += 1
            yield [item]
            item = next(it, None)
            continue
        delay = start + _due(item) / speed - now()
        if delay > 0:
            await sleep(delay)
        batch = [item]
        item = next(it, None)
        while (item is not None and len(batch) < BATCH_MAX
               and start + _due(item) / speed <= now()):
            batch.append(item)
            item = next(it, None)
        yield batch


class PacedSource(PacketSource):
    """A source of pre-timed packets (a simulation, a recording) played at ``speed`` ×
    real time (None = as fast as possible): :meth:`packets` and :meth:`batches` both come
    from :meth:`timed_packets`, so the two can never pace differently."""

    speed: float | None

    @abc.abstractmethod
    def timed_packets(self) -> Iterable[Packet]:
        """The packets, in arrival order, with their arrival times."""

    async def packets(self) -> AsyncIterator[Packet]:
        async for p in paced(self.timed_packets(), self.speed):
            yield p

    async def batches(self) -> AsyncIterator[list[Packet]]:
        async for batch in paced_batches(self.timed_packets(), self.speed):
            yield batch
