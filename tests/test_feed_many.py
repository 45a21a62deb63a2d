"""``Pipeline.feed_many`` gives exactly the outputs of ``feed`` packet by packet, whatever
the window, with lost packets, malformed ones and the coach finishing mid-window."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from isofeedback.pipeline import Pipeline
from isofeedback.recording.format import encode_output
from isofeedback.recording.reader import RecordingReader
from isofeedback.types import Packet

SAMPLES = Path(__file__).resolve().parent.parent / "recordings"


def _load(name: str) -> tuple[list[Packet], Pipeline, Pipeline]:
    with RecordingReader(SAMPLES / name) as r:
        packets = list(r.packets())
        make = (r.profiles(), r.protocol(), r.config())
    return packets, Pipeline(*make), Pipeline(*make)


def _docs(outputs: list) -> list[str]:  # type: ignore[type-arg]
    return [encode_output(o)[2] for o in outputs]


def _one_by_one(pipeline: Pipeline, packets: list[Packet]) -> tuple[list[str], int]:
    out = []
    for i, p in enumerate(packets):
        out += pipeline.feed(p)
        if pipeline.coach.finished:
            return _docs(out), i + 1
    return _docs(out), len(packets)


def _windows(pipeline: Pipeline, packets: list[Packet], size: int) -> tuple[list[str], int]:
    out, done = [], 0
    it = iter(packets)
    while window := list(itertools.islice(it, size)):
        more, used = pipeline.feed_many(window, until_finished=True)
        out += more
        done += used
        if pipeline.coach.finished:
            break
    return _docs(out), done


@pytest.mark.parametrize("name", ["myo-pir-sim.isorec", "openemg-met-sim.isorec"])
@pytest.mark.parametrize("size", [3, 333, 4096])
def test_windows_give_the_packet_by_packet_outputs(name: str, size: int) -> None:
    packets, a, b = _load(name)
    expected, used_a = _one_by_one(a, packets)
    got, used_b = _windows(b, packets, size)
    assert used_a == used_b and got == expected
    assert a.stats == b.stats


def test_lost_malformed_and_foreign_packets_too() -> None:
    packets, a, b = _load("myo-pir-sim.isorec")
    damaged = packets[:2500] + packets[2900:4000]  # ~4 s lost: gaps, signal lost, resume
    bad = Packet(packets[10].device, packets[10].characteristic, b"\x01", packets[4100].t_arrival)
    unknown = Packet("nobody", packets[10].characteristic, packets[10].data, 40.0)
    damaged += [bad, unknown, *packets[4000:]]
    expected, used_a = _one_by_one(a, damaged)
    got, used_b = _windows(b, damaged, 700)
    assert used_a == used_b and got == expected
    assert a.stats == b.stats and a.stats.bad_packets == 2 and a.stats.gaps > 0
    assert any('"kind":"gap"' in d or '"type":"gap"' in d for d in expected)
