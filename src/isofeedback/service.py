"""Asyncio wiring: a source feeds the pure pipeline; outputs go to the sinks.

Acquisition never waits for a sink: sinks take outputs with a non-blocking ``submit`` and
keep their own bounded queues. Packet taps (the recorder) see every raw packet first, so
a recording holds exactly what the pipeline saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from isofeedback.pipeline import Output, Pipeline, PipelineStats
from isofeedback.sources.base import PacketSource
from isofeedback.types import Event, Feedback, Packet

__all__ = ["OutputSink", "PacketTap", "SessionResult", "run_session"]


class OutputSink(Protocol):
    def submit(self, item: Event | Feedback) -> None: ...


class PacketTap(Protocol):
    def on_packet(self, packet: Packet) -> None: ...


@dataclass
class SessionResult:
    outputs: list[Output] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    stats: PipelineStats = field(default_factory=PipelineStats)
    wall_s: float = 0.0
    session_s: float = 0.0

    @property
    def events(self) -> list[Event]:
        return [o for o in self.outputs if isinstance(o, Event)]

    @property
    def feedback(self) -> list[Feedback]:
        return [o for o in self.outputs if isinstance(o, Feedback)]


IDLE_PERIOD_S = 0.25


async def _with_idle_ticks(source: PacketSource) -> AsyncIterator[Packet | None]:
    """The source's packets, with ``None`` whenever a live source stays silent for
    ``IDLE_PERIOD_S`` (replay and simulation get no ticks: their time is their packets')."""
    packets = source.packets()
    if source.now() is None:
        async for packet in packets:
            yield packet
        return
    it = aiter(packets)
    pending: asyncio.Future[Packet] = asyncio.ensure_future(anext(it))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=IDLE_PERIOD_S)
            if not done:
                yield None
                continue
            try:
                packet = pending.result()
            except StopAsyncIteration:
                return
            yield packet
            pending = asyncio.ensure_future(anext(it))
    finally:
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending


async def run_session(
    source: PacketSource,
    pipeline: Pipeline,
    sinks: Sequence[OutputSink] = (),
    taps: Sequence[PacketTap] = (),
    keep_outputs: bool = True,
) -> SessionResult:
    """Run until the source ends or the coach says the session is done.

    With a live source (one that tells the time) the pipeline is also told every
    ``IDLE_PERIOD_S`` that time passes without packets, so a vanished sensor is noticed
    and the patient told, instead of the display freezing."""
    result = SessionResult()
    started = time.perf_counter()
    last_t = 0.0
    async for packet in _with_idle_ticks(source):
        if packet is None:
            now = source.now()
            outputs = pipeline.idle(now) if now is not None else []
        else:
            for tap in taps:
                tap.on_packet(packet)
            outputs = pipeline.feed(packet)
            last_t = packet.t_arrival
        for item in outputs:
            if keep_outputs:
                result.outputs.append(item)
            for sink in sinks:
                sink.submit(item)
        if pipeline.coach.finished:
            break
    if not pipeline.coach.finished:
        summary = Feedback("summary", last_t, pipeline.coach.summary())
        if keep_outputs:
            result.outputs.append(summary)
        for sink in sinks:
            sink.submit(summary)
    result.summary = pipeline.coach.summary()
    result.stats = pipeline.stats
    result.wall_s = time.perf_counter() - started
    result.session_s = last_t
    return result
