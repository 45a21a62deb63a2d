"""Asyncio wiring: a source feeds the pure pipeline; outputs go to the sinks.

Acquisition never waits for a sink: sinks take outputs with a non-blocking ``submit`` and
keep their own bounded queues. Packet taps (the recorder) see every raw packet first, so
a recording holds exactly what the pipeline saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from isofeedback.coach.machine import SENSOR_GONE
from isofeedback.control import Control
from isofeedback.pipeline import Output, Pipeline, PipelineStats
from isofeedback.sources.base import PacketSource
from isofeedback.sources.queued import taken_batches
from isofeedback.types import Event, Feedback, Packet

__all__ = ["ControlInbox", "ControlTap", "OutputSink", "PacketTap", "SessionResult", "run_session"]


class OutputSink(Protocol):
    def submit(self, item: Event | Feedback) -> None: ...


class PacketTap(Protocol):
    def on_packet(self, packet: Packet) -> None: ...


class ControlTap(Protocol):
    """Sees every control command as it is applied (the recorder keeps them)."""

    def on_control(self, control: Control, after_packets: int) -> None: ...


class ControlInbox:
    """Commands waiting to be applied between two packets.

    Live commands (MQTT, keyboard, signals) are ``put`` at any time and take effect at the
    session time they are applied; recorded ones (a replay) take effect after the same
    number of packets as in the live session, at their recorded time, so the pipeline sees
    exactly the same inputs in the same order."""

    def __init__(self, recorded: Sequence[tuple[int, Control]] = ()) -> None:
        self._live: deque[Control] = deque()
        self._recorded = deque(sorted(recorded, key=lambda r: r[0]))

    def put(self, control: Control) -> None:
        self._live.append(control)

    def next_recorded(self) -> int | None:
        """After how many packets the next recorded command is due (None: none left)."""
        return self._recorded[0][0] if self._recorded else None

    def due(self, fed: int, now: float) -> list[Control]:
        """What to apply now that ``fed`` packets went through; live ones at ``now``."""
        out: list[Control] = []
        while self._recorded and self._recorded[0][0] <= fed:
            out.append(self._recorded.popleft()[1])
        while self._live:
            out.append(self._live.popleft().at(now))
        return out


@dataclass
class SessionResult:
    outputs: list[Output] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    stats: PipelineStats = field(default_factory=PipelineStats)
    wall_s: float = 0.0
    session_s: float = 0.0
    packets_fed: int = 0
    stopped_by: str = ""  # what ended it: "protocol", a control's origin, "end of data"
    # where the outputs of the stop the session made itself (data ended, fault) begin;
    # a replay of a cut recording compares only what comes before
    automatic_stop_at: int | None = None

    @property
    def events(self) -> list[Event]:
        return [o for o in self.outputs if isinstance(o, Event)]

    @property
    def feedback(self) -> list[Feedback]:
        return [o for o in self.outputs if isinstance(o, Feedback)]


IDLE_PERIOD_S = 0.25

#: batches at least this long go through :meth:`Pipeline.feed_many` (fewer: packet by
#: packet, which costs less below ~6 Myo packets; ``benchmarks/live_scale.py``)
BULK_MIN = 8


async def _with_idle_ticks(source: PacketSource) -> AsyncIterator[list[Packet] | None]:
    """The source's packets in batches (:meth:`PacketSource.batches`), with ``None``
    whenever a live source stays silent for ``IDLE_PERIOD_S`` (replay and simulation get
    no ticks: their time is their packets').

    Each wait for the next batch ends when it comes or ``IDLE_PERIOD_S`` after the wait
    began, as ``asyncio.wait`` with a timeout would end it — but with one timer for the
    whole stream, moved on only when it fires (:class:`_IdleTimer`), instead of
    ``asyncio.wait``'s own future, callbacks and timer per batch. A source with a
    notification queue (:meth:`PacketSource.notifications`, the BLE source) is waited on
    directly; any other live source's next batch is fetched in a task of its own (a
    timeout must not cancel the source's generator): a live wearable's batch is one or
    two packets, and that task and the generator behind it cost more than the wait."""
    queue = source.notifications()
    if queue is not None:
        timer = _IdleTimer(asyncio.get_running_loop())
        try:
            async for batch in taken_batches(queue, timer.wait_ready):
                yield batch
        finally:
            timer.close()
        return
    batches = source.batches()
    if source.now() is None:
        async for batch in batches:
            yield batch
        return
    it = aiter(batches)
    pending: asyncio.Future[list[Packet]] = asyncio.ensure_future(anext(it))
    timer = _IdleTimer(asyncio.get_running_loop())
    try:
        while True:
            if not await timer.wait(pending):
                yield None
                continue
            try:
                batch = pending.result()
            except StopAsyncIteration:
                return
            yield batch
            pending = asyncio.ensure_future(anext(it))
    finally:
        timer.close()
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending


_CLOCK_RESOLUTION = time.get_clock_info("monotonic").resolution


class _IdleTimer:
    """Waits for a future, at most ``IDLE_PERIOD_S`` from when the wait begins, with one
    timer handle that lives across waits: it fires at the earliest end a wait may have,
    and is set again for the current wait's end if that is later (or not at all when
    nobody waits), so a stream of short waits costs no timer each."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self._wake: asyncio.Future[bool] | None = None  # the current wait's
        self._until = 0.0  # the current wait's end (loop time)
        self._watched: asyncio.Future[Any] | None = None  # has our done callback

    async def wait(self, fut: asyncio.Future[Any]) -> bool:
        """True when ``fut`` is done, False when ``IDLE_PERIOD_S`` passed first."""
        if fut.done():
            return True
        loop = self._loop
        wake = self._wake = loop.create_future()
        self._until = loop.time() + IDLE_PERIOD_S
        if self._watched is not fut:
            self._watched = fut
            fut.add_done_callback(self._done)
        if self._handle is None:
            self._handle = loop.call_at(self._until, self._fire)
        done: bool = await wake
        return done

    async def wait_ready(self, ready: asyncio.Future[bool]) -> bool:
        """:meth:`wait` for a future made for this one wait, which the timer may complete
        (:meth:`NotificationQueue.ready`): awaited itself, and set to False when
        ``IDLE_PERIOD_S`` passed first, instead of a future and a done callback of the
        timer's own, and a pass of the event loop between them, per wait."""
        if ready.done():
            return ready.result()
        loop = self._loop
        self._wake = ready
        self._until = loop.time() + IDLE_PERIOD_S
        if self._handle is None:
            self._handle = loop.call_at(self._until, self._fire)
        return await ready

    def _done(self, fut: asyncio.Future[Any]) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(True)

    def _fire(self) -> None:
        self._handle = None
        wake = self._wake
        if wake is None or wake.done():
            return  # nobody waits: the next wait sets the timer again
        # as the event loop runs a timer: due within the clock's resolution
        if self._until <= self._loop.time() + _CLOCK_RESOLUTION:
            wake.set_result(False)
        else:
            self._handle = self._loop.call_at(self._until, self._fire)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


_frozen_sessions = 0  # sessions of this process under way with their set-up frozen


@contextlib.contextmanager
def frozen_set_up() -> Iterator[None]:
    """While a session runs, what existed when it started (imported modules, the
    pipeline, the connections: tens of thousands of objects in a one-wearable service)
    is out of the garbage collector's full collections (``gc.freeze``), which then walk
    only what the session made: each full collection paused the event loop, and with it
    every wearable's packets, for the walk over all of them (benchmarks/README.md has the
    figures). Full collections come when enough objects have survived two younger ones,
    seconds to minutes apart in a session.

    Undone (``gc.unfreeze``) when the last session under way in the process ends: a frozen
    object that became cyclic garbage during the session is collected then, so nothing
    stays frozen across sessions and a day of sessions does not grow. Sessions running
    together in one process (a benchmark's wearables) count: the first to end does not
    unfreeze the others' set-up."""
    global _frozen_sessions
    gc.freeze()
    _frozen_sessions += 1
    try:
        yield
    finally:
        _frozen_sessions -= 1
        if not _frozen_sessions:
            gc.unfreeze()


async def run_session(
    source: PacketSource,
    pipeline: Pipeline,
    sinks: Sequence[OutputSink] = (),
    taps: Sequence[PacketTap] = (),
    keep_outputs: bool = True,
    controls: ControlInbox | None = None,
    control_taps: Sequence[ControlTap] = (),
    result: SessionResult | None = None,
) -> SessionResult:
    """Run until the source ends, the coach says the session is done, or a ``stop``
    command arrives in ``controls``.

    However it ends — also by an exception from the source or a cancellation — the coach is
    stopped the same way (a ``stop`` command, recorded like any other), so the summary is
    produced, published and recorded, and a replay reproduces it. Pass ``result`` to keep
    what was done when an exception escapes.

    With a live source (one that tells the time) the pipeline is also told every
    ``IDLE_PERIOD_S`` that time passes without packets, so a vanished sensor is noticed
    and the patient told, instead of the display freezing; pending commands are applied
    on those ticks too."""
    result = result if result is not None else SessionResult()
    inbox = controls if controls is not None else ControlInbox()
    started = time.perf_counter()
    last_t = 0.0
    fed = 0

    def emit(outputs: Sequence[Output]) -> None:
        for item in outputs:
            if keep_outputs:
                result.outputs.append(item)
            for sink in sinks:
                sink.submit(item)

    def apply(control: Control, now: float) -> None:
        for tap in control_taps:
            tap.on_control(control, fed)
        emit(pipeline.control_at(control, now))
        if control.command == "stop" and not result.stopped_by:
            result.stopped_by = control.origin or "stop"

    def apply_due(now: float) -> None:
        for control in inbox.due(fed, now):
            if pipeline.coach.finished:
                break
            apply(control, now)

    end = "end of data"
    with frozen_set_up():
        try:
            apply_due(last_t)
            async for batch in _with_idle_ticks(source):
                if batch is None:
                    now = last_t
                    live_now = source.now()
                    if live_now is not None:
                        now = max(last_t, live_now)
                        emit(pipeline.idle(live_now))
                        gone = pipeline.sensor_gone_at(live_now)
                        if gone is not None:  # recorded: a replay ends the session there too
                            apply(Control("stop", t=gone, origin=SENSOR_GONE), now)
                    apply_due(now)
                while batch and not pipeline.coach.finished:
                    # a recorded command falls between two pieces, after its packet count
                    due = inbox.next_recorded()
                    cut = len(batch) if due is None or due <= fed else min(due - fed, len(batch))
                    piece, batch = batch[:cut], batch[cut:]
                    if len(piece) < BULK_MIN:
                        for packet in piece:
                            for tap in taps:
                                tap.on_packet(packet)
                            emit(pipeline.feed(packet))
                            fed += 1
                            last_t = packet.t_arrival
                            apply_due(last_t)
                            if pipeline.coach.finished:
                                break
                        continue
                    # fell behind: what waited goes through at once, with the same outputs
                    outputs, used = pipeline.feed_many(piece, until_finished=True)
                    for packet in piece[:used]:
                        for tap in taps:
                            tap.on_packet(packet)
                    emit(outputs)
                    fed += used
                    last_t = piece[used - 1].t_arrival
                    apply_due(last_t)
                if pipeline.coach.finished:
                    break
            else:
                apply_due(last_t)
        except BaseException as exc:
            end = "cancelled" if isinstance(exc, asyncio.CancelledError) else f"fault: {exc}"
            raise
        finally:
            if pipeline.coach.finished and not result.stopped_by:
                result.stopped_by = "protocol"
            if not pipeline.coach.finished:
                result.automatic_stop_at = len(result.outputs)
                apply(Control("stop", t=last_t, origin=end), last_t)
            result.summary = pipeline.coach.summary()
            result.stats = pipeline.stats
            result.wall_s = time.perf_counter() - started
            result.session_s = last_t
            result.packets_fed = fed
    return result
