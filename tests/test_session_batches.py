"""A session that falls behind takes what waited in batches (``PacketSource.batches``):
the pipeline, the recorder and the commands see exactly what they see packet by packet."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from isofeedback.control import Control
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import Profile
from isofeedback.recording.format import encode_output
from isofeedback.recording.reader import RecordingReader
from isofeedback.service import BULK_MIN, ControlInbox, run_session
from isofeedback.sources.base import PacketSource
from isofeedback.sources.pacing import paced_batches
from isofeedback.types import Packet

SAMPLES = Path(__file__).resolve().parent.parent / "recordings"


class ListSource(PacketSource):
    """The packets of a recording, in batches of the given sizes (cycled)."""

    def __init__(self, profiles: Mapping[str, Profile], packets: list[Packet],
                 sizes: tuple[int, ...]) -> None:
        self._profiles, self.all, self.sizes = profiles, packets, sizes
        self.batch_sizes: list[int] = []

    @property
    def profiles(self) -> Mapping[str, Profile]:
        return self._profiles

    async def packets(self) -> AsyncIterator[Packet]:
        for p in self.all:
            yield p

    async def batches(self) -> AsyncIterator[list[Packet]]:
        it = iter(self.all)
        for size in itertools.cycle(self.sizes):
            batch = list(itertools.islice(it, size))
            if not batch:
                return
            self.batch_sizes.append(len(batch))
            yield batch


class Taps:
    def __init__(self) -> None:
        self.packets: list[Packet] = []
        self.controls: list[tuple[int, str]] = []

    def on_packet(self, packet: Packet) -> None:
        self.packets.append(packet)

    def on_control(self, control: Control, after_packets: int) -> None:
        self.controls.append((after_packets, control.command))


async def _run(name: str, sizes: tuple[int, ...]) -> tuple[list[str], Taps, int, list[int]]:
    with RecordingReader(SAMPLES / name) as r:
        packets = list(r.packets())
        make = (r.profiles(), r.protocol(), r.config())
    t_pause, t_resume = packets[2500].t_arrival, packets[3100].t_arrival
    # commands recorded after packet 2500 and 3100: each falls inside a batch
    inbox = ControlInbox([(2500, Control("pause", t=t_pause)),
                          (3100, Control("resume", t=t_resume))])
    source = ListSource(make[0], packets, sizes)
    taps = Taps()
    result = await run_session(source, Pipeline(*make), taps=[taps], controls=inbox,
                               control_taps=[taps])
    docs = [encode_output(o)[2] for o in result.outputs]
    return docs, taps, result.packets_fed, source.batch_sizes


@pytest.mark.parametrize("name", ["myo-pir-sim.isorec", "openemg-met-sim.isorec"])
async def test_batches_give_the_packet_by_packet_session(name: str) -> None:
    one, taps_one, fed_one, _ = await _run(name, (1,))
    sizes = (1, BULK_MIN + 1, 40, 3, 200, 1000)
    many, taps_many, fed_many, batch_sizes = await _run(name, sizes)
    assert max(batch_sizes) >= 200  # the bulk path was taken
    assert many == one
    assert fed_many == fed_one == len(taps_one.packets)
    assert [p.t_arrival for p in taps_many.packets] == [p.t_arrival for p in taps_one.packets]
    assert taps_many.controls == taps_one.controls
    assert (2500, "pause") in taps_one.controls and (3100, "resume") in taps_one.controls


class VirtualClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    async def sleep(self, delay: float) -> None:
        self.t += delay


async def test_a_consumer_that_fell_behind_gets_what_waited_in_one_batch() -> None:
    clock = VirtualClock()
    items = [Packet("dev", "char", b"\x00", (i + 1) * 0.01) for i in range(100)]
    got: list[list[float]] = []
    async for batch in paced_batches(items, 1.0, clock=clock, sleep=clock.sleep):
        got.append([p.t_arrival for p in batch])
        if len(got) == 10:
            clock.t += 0.205  # a stall: the packets of 0.11–0.30 s came in the meantime
    assert all(len(b) == 1 for b in got[:10])
    assert len(got[10]) == 20 and got[10][0] == pytest.approx(0.11)
    assert all(len(b) == 1 for b in got[11:])
    assert [t for b in got for t in b] == [p.t_arrival for p in items]
    # at full speed there is no schedule to fall behind: one at a time
    full = [b async for b in paced_batches(items, None, clock=clock, sleep=clock.sleep)]
    assert [len(b) for b in full] == [1] * 100
