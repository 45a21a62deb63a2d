"""A running session keeps its set-up out of the garbage collector's full collections
(``gc.freeze``) and gives it back when it ends; sessions running together in one
process keep theirs frozen until the last one ends."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import pytest

from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import Profile
from isofeedback.recording.reader import RecordingReader
from isofeedback.service import frozen_set_up, run_session
from isofeedback.sources.base import PacketSource
from isofeedback.types import Packet

SAMPLE = Path(__file__).resolve().parent.parent / "recordings" / "myo-pir-sim.isorec"


@pytest.fixture(autouse=True)
def _nothing_frozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


class FewPackets(PacketSource):
    """The first packets of a recording, one batch at a time with a pause between."""

    def __init__(self, profiles: Mapping[str, Profile], packets: list[Packet],
                 gate: asyncio.Event | None = None) -> None:
        self._profiles, self._packets, self._gate = profiles, packets, gate
        self.frozen_seen: list[int] = []

    @property
    def profiles(self) -> Mapping[str, Profile]:
        return self._profiles

    async def packets(self) -> AsyncIterator[Packet]:
        for p in self._packets:
            self.frozen_seen.append(gc.get_freeze_count())
            yield p
            await asyncio.sleep(0)
        if self._gate is not None:
            await self._gate.wait()


def _session_parts(n: int) -> tuple[Mapping[str, Profile], list[Packet], Pipeline]:
    with RecordingReader(SAMPLE) as r:
        packets = [p for _, p in zip(range(n), r.packets(), strict=False)]
        return r.profiles(), packets, Pipeline(r.profiles(), r.protocol(), r.config())


async def test_a_session_runs_with_its_set_up_frozen_and_thaws_it_at_the_end() -> None:
    profiles, packets, pipeline = _session_parts(50)
    source = FewPackets(profiles, packets)
    assert gc.get_freeze_count() == 0
    result = await run_session(source, pipeline)
    assert result.packets_fed == 50
    assert min(source.frozen_seen) > 1000  # the pipeline, the modules: frozen
    assert gc.get_freeze_count() == 0


async def test_the_first_session_to_end_leaves_the_others_frozen() -> None:
    profiles, packets, pipeline = _session_parts(20)
    _, _, other_pipeline = _session_parts(20)
    gate = asyncio.Event()
    short = FewPackets(profiles, packets)
    long = FewPackets(profiles, packets, gate)
    running = asyncio.create_task(run_session(long, other_pipeline))
    await run_session(short, pipeline)
    assert gc.get_freeze_count() > 0  # the other session still runs
    gate.set()
    await running
    assert gc.get_freeze_count() == 0


def test_a_fault_thaws_too() -> None:
    with pytest.raises(RuntimeError), frozen_set_up():
        assert gc.get_freeze_count() > 0
        raise RuntimeError("the session failed")
    assert gc.get_freeze_count() == 0
