"""Live sources fed by a radio's callbacks: one bounded queue, taken in batches.

A live link hands its notifications over from a callback (bleak's, run when the D-Bus
socket has data, several notifications per wake-up): the callback only timestamps and
:meth:`NotificationQueue.put` s them, and the session loop takes what has arrived as one
batch. The queue also tells its consumer when something is there (:meth:`ready`), so the
session loop can wait for the next batch and for silence with one timer of its own
(``service._with_idle_ticks``), without an ``asyncio`` task per batch around an async
generator that a timeout must not cancel.
"""

from __future__ import annotations

import abc
import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from isofeedback.sources.base import PacketSource
from isofeedback.sources.pacing import BATCH_MAX
from isofeedback.types import Packet

__all__ = ["NotificationQueue", "QueuedSource", "taken_batches"]


class NotificationQueue:
    """A bounded FIFO of packets between a radio's callbacks and the session loop.

    ``put`` never blocks: a full queue refuses the newest packet (the caller counts it).
    ``fail`` ends the stream with an error that ``take`` raises from then on, ahead of
    what is still queued (a fatal device error stops the session); ``close`` ends it
    after what is queued. Not thread-safe: callbacks run on the event loop's thread."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._items: deque[Packet] = deque()
        self._ready: asyncio.Future[bool] | None = None
        self._error: BaseException | None = None
        self.closed = False

    def qsize(self) -> int:
        return len(self._items)

    def put(self, packet: Packet) -> bool:
        """Queue ``packet``; False (and nothing queued) when the queue is full."""
        if len(self._items) >= self.maxsize:
            return False
        self._items.append(packet)
        if self._ready is not None:
            self._wake()
        return True

    def fail(self, exc: BaseException) -> None:
        """End the stream with ``exc`` (the first failure is kept)."""
        if self._error is None:
            self._error = exc
        self._wake()

    def close(self) -> None:
        """End the stream once what is queued has been taken."""
        self.closed = True
        self._wake()

    @property
    def ended(self) -> bool:
        """Closed and empty: nothing more will come (a failure raises from :meth:`take`)."""
        return self.closed and not self._items

    def take(self, limit: int = BATCH_MAX) -> list[Packet]:
        """What has arrived, oldest first, at most ``limit`` packets; ``[]`` when nothing
        has. Raises the failure given to :meth:`fail`."""
        if self._error is not None:
            raise self._error
        items = self._items
        if len(items) <= limit:
            batch = list(items)
            items.clear()
            return batch
        return [items.popleft() for _ in range(limit)]

    def ready(self) -> asyncio.Future[bool]:
        """A future set to True once a packet is queued, the stream failed or it was closed
        (at once when that is already so). Made for the one wait of whoever asked: a
        waiter that gives up first may complete it itself (the session loop's idle timer
        sets it to False), which leaves the queue as it was; the next call makes another."""
        ready = self._ready
        if ready is not None and not ready.done():
            return ready
        ready = asyncio.get_running_loop().create_future()
        if self._items or self._error is not None or self.closed:
            ready.set_result(True)
        else:
            self._ready = ready
        return ready

    def _wake(self) -> None:
        ready, self._ready = self._ready, None
        if ready is not None and not ready.done():
            ready.set_result(True)


class QueuedSource(PacketSource):
    """A live source whose packets arrive on a :class:`NotificationQueue` (the BLE
    source; a simulated radio in ``benchmarks/live_scale.py``). Its session clock is
    :meth:`now`, so the session loop notices silence."""

    def __init__(self, queue_size: int) -> None:
        self._queue = NotificationQueue(queue_size)

    @abc.abstractmethod
    def now(self) -> float:
        """Current session time in seconds."""

    def notifications(self) -> NotificationQueue:
        return self._queue

    async def packets(self) -> AsyncIterator[Packet]:
        async for batch in self.batches():
            for packet in batch:
                yield packet

    async def batches(self) -> AsyncIterator[list[Packet]]:
        """Each notification with those queued behind it (see :meth:`PacketSource.batches`)."""
        async for batch in taken_batches(self.notifications()):
            if batch is not None:  # (never: no wait to give up)
                yield batch


async def taken_batches(
    queue: NotificationQueue,
    wait: Callable[[asyncio.Future[bool]], Awaitable[bool]] | None = None,
) -> AsyncIterator[list[Packet] | None]:
    """The queue's packets as they arrive, what has arrived meanwhile as one batch, until
    it has ended (a failure raises). Between batches it waits for
    :meth:`NotificationQueue.ready`, through ``wait`` when given (the session loop's idle
    timer): ``wait`` returning False — it gave up, a silence — yields None."""
    while True:
        batch = queue.take()
        if batch:
            yield batch
        elif queue.ended:
            return
        elif wait is None:
            await queue.ready()
        elif not await wait(queue.ready()):
            yield None
