"""The session loop's wait for a live source's next batch (:class:`_IdleTimer`) ends as
``asyncio.wait`` with a ``IDLE_PERIOD_S`` timeout would — when the batch comes, or that
long after the wait began — with one timer moved on across waits. Driven on a virtual
clock: no wall-clock timing in the test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from isofeedback.service import IDLE_PERIOD_S, _IdleTimer


class _Handle:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when, self.callback, self.cancelled = when, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class _VirtualLoop:
    """The event loop as the timer sees it: the real loop's futures, a virtual clock and
    recorded timers."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.now, self.timers = loop, 0.0, []  # type: list[_Handle]

    def time(self) -> float:
        return self.now

    def create_future(self) -> asyncio.Future[Any]:
        return self.loop.create_future()

    def call_at(self, when: float, callback: Callable[[], None]) -> _Handle:
        handle = _Handle(when, callback)
        self.timers.append(handle)
        return handle

    def fire(self) -> None:
        """Run the armed timer at its time (as the loop would)."""
        armed = [h for h in self.timers if not h.cancelled]
        self.timers = []
        assert len(armed) == 1
        self.now = max(self.now, armed[0].when)
        armed[0].callback()


async def test_each_wait_ends_idle_period_after_it_began() -> None:
    loop = asyncio.get_running_loop()
    clock = _VirtualLoop(loop)
    timer = _IdleTimer(clock)  # type: ignore[arg-type]

    async def settle() -> None:
        for _ in range(3):
            await asyncio.sleep(0)

    # a batch that comes in time: the wait ends with it; the timer stays armed
    first: asyncio.Future[int] = loop.create_future()
    waiting = asyncio.ensure_future(timer.wait(first))
    await settle()
    assert [h.when for h in clock.timers] == [IDLE_PERIOD_S]
    first.set_result(1)
    await settle()
    assert waiting.result() is True
    # the next wait begins later: no second timer; when the first fires it moves on to
    # this wait's end instead of ending it early
    clock.now = 0.1
    second: asyncio.Future[int] = loop.create_future()
    waiting = asyncio.ensure_future(timer.wait(second))
    await settle()
    assert len(clock.timers) == 1
    clock.fire()
    await settle()
    assert not waiting.done() and [h.when for h in clock.timers] == [0.1 + IDLE_PERIOD_S]
    clock.fire()  # this wait's end: idle
    await settle()
    assert waiting.result() is False and clock.timers == []
    # waiting again for the same batch: a new end, and the batch still ends it
    clock.now = 0.5
    waiting = asyncio.ensure_future(timer.wait(second))
    await settle()
    assert [h.when for h in clock.timers] == [0.5 + IDLE_PERIOD_S]
    second.set_result(2)
    await settle()
    assert waiting.result() is True
    clock.fire()  # nobody waits: nothing happens, no timer until the next wait
    assert clock.timers == []
    timer.close()
