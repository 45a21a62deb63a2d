"""The notification queue between a radio's callbacks and the session loop, and the
session loop's wait on it: batches in arrival order, a bounded queue, failures and the
end of the stream, silence noticed — and a session fed through it gives the outputs of
the same packets fed one by one."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import Profile
from isofeedback.recording.format import encode_output
from isofeedback.service import IDLE_PERIOD_S, _with_idle_ticks, run_session
from isofeedback.sources.queued import NotificationQueue, QueuedSource
from isofeedback.types import Packet


def _packets(n: int, t0: float = 0.0) -> list[Packet]:
    return [Packet("dev", "char", bytes([i % 256]), t0 + i * 0.01) for i in range(n)]


async def test_queue_hands_over_in_order_in_batches_and_is_bounded() -> None:
    q = NotificationQueue(5)
    items = _packets(7)
    assert [q.put(p) for p in items] == [True] * 5 + [False] * 2  # the newest refused
    assert q.qsize() == 5
    assert q.take(limit=3) == items[:3]
    assert q.take() == items[3:5]
    assert q.take() == []
    assert q.put(items[5])
    assert q.take() == [items[5]]


async def test_ready_is_set_by_a_packet_and_a_given_up_wait_leaves_the_queue_as_it_was(
) -> None:
    q = NotificationQueue(10)
    ready = q.ready()
    assert not ready.done()
    assert q.ready() is ready  # one wait at a time shares it
    ready.set_result(False)  # the waiter's timer gave up
    p = _packets(1)[0]
    assert q.put(p)
    assert q.take() == [p]
    again = q.ready()
    assert again is not ready and not again.done()
    q.put(p)
    assert again.done() and again.result() is True
    assert q.ready().result() is True  # something waits: done at once


async def test_failure_comes_ahead_of_what_is_queued_and_close_after_it() -> None:
    q = NotificationQueue(10)
    q.put(_packets(1)[0])
    ready = q.ready()
    q.fail(RuntimeError("device lost for good"))
    assert ready.done()
    with pytest.raises(RuntimeError, match="for good"):
        q.take()
    closing = NotificationQueue(10)
    items = _packets(2)
    for p in items:
        closing.put(p)
    closing.close()
    assert not closing.ended
    assert closing.take() == items
    assert closing.ended and closing.ready().done()


class FedSource(QueuedSource):
    """A live source whose queue a test fills, on a clock the test moves."""

    def __init__(self, profiles: Mapping[str, Profile]) -> None:
        super().__init__(queue_size=100_000)
        self._profiles = profiles
        self.t = 0.0

    @property
    def profiles(self) -> Mapping[str, Profile]:
        return self._profiles

    def now(self) -> float:
        return self.t


async def test_the_session_loop_waits_on_the_queue_and_ticks_on_silence() -> None:
    source = FedSource({})
    q = source.notifications()
    got: list[list[Packet] | None] = []

    async def consume() -> None:
        async for batch in _with_idle_ticks(source):
            got.append(batch)

    task = asyncio.ensure_future(consume())
    items = _packets(3)
    await asyncio.sleep(0)
    q.put(items[0])
    q.put(items[1])  # both arrived before the loop took them: one batch
    await asyncio.sleep(0.01)
    assert got == [items[:2]]
    await asyncio.sleep(IDLE_PERIOD_S + 0.1)  # silence: one tick, the queue untouched
    assert got == [items[:2], None]
    q.put(items[2])
    await asyncio.sleep(0.01)
    assert got == [items[:2], None, [items[2]]]
    q.close()
    await asyncio.wait_for(task, 1.0)  # the end of the stream ends the loop
    assert len(got) == 3


async def test_a_session_fed_through_the_queue_gives_the_packet_by_packet_outputs() -> None:
    from isofeedback.coach.protocol import find_protocol
    from isofeedback.profiles.schema import find_profile
    from isofeedback.sim.scenarios import follow_protocol
    from isofeedback.sources.simulated import SimulatedSource

    profile, protocol = find_profile("myo"), find_protocol("pir")
    packets = [p for p in SimulatedSource(follow_protocol(protocol, seed=101, level=0.18),
                                          profile, speed=None).all_packets
               if p.t_arrival <= 20.0]
    one = Pipeline({"sim": profile}, protocol)
    expected = [encode_output(o) for p in packets for o in one.feed(p)]

    source = FedSource({"sim": profile})
    q = source.notifications()

    async def radio() -> None:  # bursts of 1-40 packets, as a busy process takes them
        i, k = 0, 0
        while i < len(packets):
            n = 1 + (k * 7) % 40
            for p in packets[i:i + n]:
                assert q.put(p)
            i, k = i + n, k + 1
            await asyncio.sleep(0)
        q.close()

    feeder = asyncio.ensure_future(radio())
    result = await asyncio.wait_for(run_session(source, Pipeline({"sim": profile}, protocol)),
                                    60)
    await feeder
    assert result.packets_fed == len(packets)
    assert [encode_output(o) for o in result.outputs[:result.automatic_stop_at]] == expected
