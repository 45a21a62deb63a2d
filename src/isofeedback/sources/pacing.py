"""Pacing of pre-timed packets: real time with drift correction, N× faster, or max speed.

Sleeps only until each packet's target time (computed from the start, never accumulated),
so scheduling delays do not add up over a long session.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from isofeedback.types import Packet

__all__ = ["paced"]


async def paced(packets: Iterable[Packet], speed: float | None) -> AsyncIterator[Packet]:
    """Yield ``packets`` at ``speed`` × real time (``None`` = as fast as possible)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, packet in enumerate(packets):
        if speed is None:
            if i % 256 == 0:
                await asyncio.sleep(0)  # let sinks and the broker link breathe
        else:
            delay = start + packet.t_arrival / speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        yield packet
