"""Pacing of pre-timed items: real time with drift correction, N× faster, or max speed.

Sleeps only until each item's target time (computed from the start, never accumulated),
so scheduling delays do not add up over a long session. Packets are paced by their arrival
time; chunks of foreign data by the time just after their last sample.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

from isofeedback.types import Chunk, Packet

__all__ = ["paced"]

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
    now = clock or asyncio.get_running_loop().time
    start = now()
    for i, item in enumerate(items):
        if speed is None:
            if i % 256 == 0:
                await sleep(0)  # let sinks and the broker link breathe
        else:
            delay = start + _due(item) / speed - now()
            if delay > 0:
                await sleep(delay)
        yield item
