"""Pacing of pre-timed items: real time with drift correction, N× faster, or max speed.

Sleeps only until each item's target time (computed from the start, never accumulated),
so scheduling delays do not add up over a long session. Packets are paced by their arrival
time; chunks of foreign data by the time just after their last sample.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

from isofeedback.types import Chunk, Packet

__all__ = ["paced"]

T = TypeVar("T", Packet, Chunk)


def _due(item: Packet | Chunk) -> float:
    return item.t_arrival if isinstance(item, Packet) else item.t_end


async def paced(items: Iterable[T], speed: float | None) -> AsyncIterator[T]:
    """Yield ``items`` at ``speed`` × real time (``None`` = as fast as possible)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, item in enumerate(items):
        if speed is None:
            if i % 256 == 0:
                await asyncio.sleep(0)  # let sinks and the broker link breathe
        else:
            delay = start + _due(item) / speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        yield item
