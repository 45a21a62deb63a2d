"""Pacing on a virtual clock: each item waits for its own target time from the start, so a
stall is caught up instead of delaying everything after it (drift correction)."""

from __future__ import annotations

from isofeedback.sources.pacing import paced
from isofeedback.types import Packet


class VirtualClock:
    """Time that moves only when the pacer sleeps or the test says so."""

    def __init__(self) -> None:
        self.t = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.t += delay


def _packets(n: int, period: float) -> list[Packet]:
    return [Packet("dev", "char", b"\x00", (i + 1) * period) for i in range(n)]


async def test_items_come_at_their_times_and_a_stall_is_caught_up() -> None:
    clock = VirtualClock()
    yielded: list[tuple[int, float]] = []
    async for _packet in paced(_packets(20, 0.1), 2.0, clock=clock, sleep=clock.sleep):
        k = len(yielded)
        yielded.append((k, clock.t - 100.0))
        if k == 5:
            clock.t += 0.42  # the consumer stalls (a slow sink): 0.42 s of real time lost
    due = [(k + 1) * 0.1 / 2.0 for k in range(20)]
    # before the stall every item comes exactly at its time at 2x real time
    assert all(abs(t - due[k]) < 1e-9 for k, t in yielded[:6])
    # the items already due when the stall ends come at once, without sleeping ...
    late = [t for k, t in yielded[6:] if due[k] < 0.3 + 0.42]
    assert late and all(t == yielded[6][1] for t in late)
    # ... and from then on every item is back on its original schedule: the stall did not
    # shift the rest of the session (no accumulated delay)
    back = [(k, t) for k, t in yielded[6:] if due[k] >= 0.3 + 0.42]
    assert back and all(abs(t - due[k]) < 1e-9 for k, t in back)
    assert abs(clock.t - 100.0 - due[-1]) < 1e-9


async def test_max_speed_never_waits() -> None:
    clock = VirtualClock()
    got = [p async for p in paced(_packets(600, 0.1), None, clock=clock, sleep=clock.sleep)]
    assert len(got) == 600 and clock.t == 100.0
    assert clock.sleeps == [0, 0, 0]  # a zero sleep every 256 items lets other tasks run
