"""A sink's slow delivery (a buzz, a spoken sentence) done by one task, one at a time.

Sinks must never block the session, but some outputs take long to deliver and cannot be
interleaved. Such a sink queues what ``submit`` accepts (its own policy decides what to
keep when the queue is full) and this base class runs the delivery task: it wakes when
something is queued, delivers in order, and on exit still delivers what is queued (the
last cue is usually "well done") before it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from types import TracebackType
from typing import Generic, Self, TypeVar

__all__ = ["OneAtATime"]

T = TypeVar("T")


class OneAtATime(Generic[T]):
    """Delivers queued items one at a time in a named task; subclasses define ``deliver``."""

    task_name = "deliveries"

    def __init__(self) -> None:
        self._queue: deque[T] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name=self.task_name)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing = True  # what is queued is still delivered
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _queued(self) -> None:
        """Call after changing the queue: wakes the delivery task."""
        self._wake.set()

    async def deliver(self, item: T) -> None:
        """Deliver one item; must handle (count, log) its own failures."""
        raise NotImplementedError

    async def _run(self) -> None:
        while True:
            while self._queue:
                await self.deliver(self._queue.popleft())
            if self._closing:
                return
            self._wake.clear()
            await self._wake.wait()
