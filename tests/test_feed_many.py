"""``Pipeline.feed_many`` gives exactly the outputs of ``feed`` packet by packet, whatever
the window, with lost packets, malformed ones and the coach finishing mid-window."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from isofeedback.coach.calibration import Calibration
from isofeedback.coach.machine import Coach
from isofeedback.coach.protocol import ExerciseProtocol, find_protocol
from isofeedback.pipeline import Output, Pipeline
from isofeedback.recording.format import encode_output
from isofeedback.recording.reader import RecordingReader
from isofeedback.types import Feedback, Packet, PacketColumns

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


class _TickLog(Coach):
    """The coach, noting what the pipeline tells it on every tick (the joint's rotation,
    angle and speed, the tilt from the neutral pose, the rest baseline): outputs round
    some of these or use them only now and then, so the bulk path is compared on the
    inputs themselves, bit for bit."""

    def __init__(self, protocol: ExerciseProtocol) -> None:
        super().__init__(protocol)
        self.ticks: list[tuple[object, ...]] = []

    def tick(self, t: float, activity: float, angle_deg: float, speed_dps: float = 0.0,
             rotation: tuple[float, float, float] | None = None,
             tilt_from_neutral_deg: float | None = None,
             rest_baseline: float | None = None) -> list[Feedback]:
        self.ticks.append((t, activity, angle_deg, speed_dps, rotation, tilt_from_neutral_deg,
                           rest_baseline))
        return super().tick(t, activity, angle_deg, speed_dps, rotation, tilt_from_neutral_deg,
                            rest_baseline)


@pytest.mark.parametrize("name", ["myo-pir-sim.isorec", "openemg-met-sim.isorec"])
@pytest.mark.parametrize("neutral", [None, (0.3, -0.2, 0.93)])
def test_windows_tell_the_coach_the_same_joint_and_tilt(
        name: str, neutral: tuple[float, float, float] | None) -> None:
    with RecordingReader(SAMPLES / name) as r:
        packets = list(r.packets())
        profiles, protocol, config = r.profiles(), r.protocol(), r.config()
    assert protocol is not None
    calibration = Calibration("p", "d", 0.0, 1.0, 0.1, neutral_gravity=neutral)
    pipelines = [Pipeline(profiles, protocol, config, calibration=calibration) for _ in "ab"]
    for p in pipelines:
        p.coach = _TickLog(protocol)
    a, b = pipelines
    expected, _ = _one_by_one(a, packets)
    got, _ = _windows(b, packets, 1500)
    assert got == expected
    ticks_a, ticks_b = (p.coach.ticks for p in pipelines)  # type: ignore[attr-defined]
    assert len(ticks_a) > 1000 and ticks_a == ticks_b
    assert sum(t[5] is not None for t in ticks_a) > 1000  # the tilt was known and compared
    assert len({t[4] for t in ticks_a}) > 100  # the joint moved
    assert len({t[6] for t in ticks_a}) > 20  # the rest baseline was told and followed


def test_the_2khz_onset_detector_runs_in_pieces_across_its_time_base_moves() -> None:
    """At 2 kHz the clock anchor follows the fastest packets, so one by one the detector
    moves its time base a few times a second; the bulk pass cuts its pieces there too and
    still runs it in far fewer calls than packets, with the same outputs."""
    packets, a, b = _load("openemg-met-sim.isorec")
    expected, _ = _one_by_one(a, packets)
    calls: list[float | None] = []
    assert b.onset is not None
    process = b.onset.process

    def counted(chunk):  # type: ignore[no-untyped-def]
        out = process(chunk)
        calls.append(getattr(b.onset, "_t0", None))
        return out

    b.onset.process = counted  # type: ignore[method-assign]
    got, _ = _windows(b, packets, 4096)
    assert got == expected
    emg = sum(1 for p in packets if p.characteristic.endswith("2"))
    assert len(calls) < emg / 4  # pieces, not packets
    assert len(set(calls)) > 20  # the time base moved within the bulk pass


@pytest.mark.parametrize("name", ["myo-pir-sim.isorec", "openemg-met-sim.isorec"])
@pytest.mark.parametrize("size", [333, 4096])
def test_the_coach_finishing_inside_a_window_ends_it_there(name: str, size: int) -> None:
    """The sample sessions end with the coach's last packet; with more data after it
    (the last seconds again, later) a window stops at the packet that finished the coach,
    and counts only the packets it consumed."""
    packets, a, b = _load(name)
    end = packets[-1].t_arrival
    packets += [Packet(p.device, p.characteristic, p.data, p.t_arrival - end + 5.0 + end)
                for p in packets[-1500:]]
    expected, used_a = _one_by_one(a, packets)
    got, used_b = _windows(b, packets, size)
    assert used_a == used_b < len(packets) and got == expected
    assert a.stats == b.stats


@pytest.mark.parametrize("name", ["myo-pir-sim.isorec", "openemg-met-sim.isorec"])
@pytest.mark.parametrize("calibration_s", [
    2.5, 3.0,
    # not on a 0.25 s block's end: the bulk pass cuts a piece where the calibration ends,
    # and the chain counts its weight-learning blocks from there in any chunking
    2.13,
])
@pytest.mark.parametrize("size", [333, 4096])
def test_the_rest_calibration_in_pieces_ends_where_one_by_one_ends(
        name: str, calibration_s: float, size: int) -> None:
    """The bulk pass runs the onset detector through its rest calibration in block pieces,
    and a piece ends where the calibration does: the baseline appears after the packet
    holding the calibration's last sample and the ticks' activity uses it from that packet
    on, as one by one. A calibration that ends inside a block (2.13 s) once gave other
    envelopes from ~5 s on: the chain's weight-learning blocks were cut at multiples of
    the block from sample 0 but counted from the calibration's end, so a window cutting
    at the one and packets at the other learnt different weights."""
    with RecordingReader(SAMPLES / name) as r:
        packets = list(r.packets())
        profiles, protocol, config = r.profiles(), r.protocol(), r.config()
    assert protocol is not None
    config = config.updated({"detector.rest.calibration_s": calibration_s}, "test")
    pipelines = [Pipeline(profiles, protocol, config) for _ in "ab"]
    for p in pipelines:
        p.coach = _TickLog(protocol)
    a, b = pipelines
    expected, used_a = _one_by_one(a, packets)
    got, used_b = _windows(b, packets, size)
    assert used_a == used_b and got == expected
    ticks_a, ticks_b = (p.coach.ticks for p in pipelines)  # type: ignore[attr-defined]
    assert ticks_a == ticks_b
    assert any('"type":"calibrated"' in d for d in expected)


def _joint_state(p: Pipeline, detector: bool = True) -> tuple[object, ...]:
    """What the pipeline carries from one packet to the next besides its processors, and
    (``detector``) the movement detector's time base, sample count, last angle and arming:
    a bulk pass runs it in pieces cut where one by one moves its time base. (Not after a
    coach finished inside a window: the bulk pass's chains and detectors took the whole
    window, one by one stops at the packet that finished it.)"""
    m = p.movement
    moving = None if m is None or not detector else (m.time_base, m._n, m.last_angle, m.armed)
    return (p.rotation, p.angle_deg, p.speed_dps, p.neutral_gravity, p.emg_last_t,
            p.signal_lost, p.stats, moving)


def _coach_state(coach: Coach) -> list[tuple[str, str]]:
    return [(k, repr((v.start, v.farthest) if k == "_reach" else v))  # type: ignore[attr-defined]
            for k, v in vars(coach).items() if k not in ("_tick_handlers", "arbiter")]


@pytest.mark.parametrize("name", ["myo-pir-sim.isorec", "openemg-met-sim.isorec"])
@pytest.mark.parametrize("protocol", ["recorded", None])
def test_after_every_window_the_pipeline_and_coach_stand_where_one_by_one_does(
        name: str, protocol: str | None) -> None:
    """Not only the outputs: the joint, speed and neutral pose the next packet starts
    from, and the coach's every attribute, after each window (detection only too)."""
    with RecordingReader(SAMPLES / name) as r:
        packets = list(r.packets())
        make = (r.profiles(), r.protocol() if protocol else None, r.config())
    a, b = Pipeline(*make), Pipeline(*make)
    done = 0
    for size in itertools.cycle((700, 3, 1300, 41)):
        window = packets[done : done + size]
        if not window:
            break
        got, used = b.feed_many(window, until_finished=True)
        expected: list[Output] = []
        for p in window[:used]:
            expected += a.feed(p)
        assert _docs(got) == _docs(expected)
        assert _joint_state(b) == _joint_state(a)
        assert _coach_state(b.coach) == _coach_state(a.coach)
        done += used
        if b.coach.finished:
            break
    assert done > len(packets) // 2


def test_a_coach_that_finishes_on_an_event_hears_the_rest_of_that_packet() -> None:
    """A stored MVC that today's rest calibration rejects, in a protocol that may not
    capture another: the coach stops on the ``calibrated`` event, inside a window. One
    by one, the packet's EMG tick still reaches the (finished) coach after the event,
    which keeps the tilt; the window ends with that packet."""
    with RecordingReader(SAMPLES / "myo-pir-sim.isorec") as r:
        packets = list(r.packets())
        profiles, config = r.profiles(), r.config()
    protocol = dataclasses.replace(find_protocol("pir-mvc"), mvc_capture=False)
    calibration = Calibration("myo", "d", 0.0, 1.0, 1000.0, mvc=1e-6,
                              neutral_gravity=(0.3, -0.2, 0.93))
    a, b = (Pipeline(profiles, protocol, config, calibration=calibration) for _ in "ab")
    expected, used_a = _one_by_one(a, packets)
    got, used_b = _windows(b, packets, 4096)
    assert used_a == used_b < 4096 and got == expected
    assert any('"calibration_failed"' in d for d in expected)
    assert a.coach._tilt is not None  # the packet's tick came after the stop
    assert _joint_state(b, detector=False) == _joint_state(a, detector=False)
    assert _coach_state(b.coach) == _coach_state(a.coach)


def test_one_link_drop_is_one_gap_of_its_length() -> None:
    """A Myo dropout of ~1.5 s loses every stream of the device (four EMG characteristics,
    quaternion, accelerometer, gyroscope): the session's figures count the EMG, once; they
    read "4 gap(s), 6.35 s of signal lost" for a 1.6 s drop."""
    packets, a, _ = _load("myo-pir-sim.isorec")
    start = next(i for i, p in enumerate(packets) if p.t_arrival >= 20.0)
    end = next(i for i, p in enumerate(packets) if p.t_arrival >= 21.5)
    dropped = packets[:start] + packets[end:]
    for p in dropped:
        a.feed(p)
    assert a.stats.gaps == 1, a.stats
    assert 1.4 <= a.stats.lost_s <= 1.6, a.stats


@pytest.mark.parametrize("size", [7, 2048])
def test_windows_as_columns_give_what_windows_as_lists_give(size: int) -> None:
    """A replay hands feed_many its reader's columns (PacketColumns), a live batch a list:
    the same outputs, packets used and counts."""
    packets, a, b = _load("myo-pir-sim.isorec")
    got = []
    for pipeline, wrap in ((a, list), (b, PacketColumns.of)):
        out, used = [], 0
        for i in range(0, len(packets), size):
            more, n = pipeline.feed_many(wrap(packets[i : i + size]), until_finished=True)
            out += more
            used += n
            if pipeline.coach.finished:
                break
        got.append((_docs(out), used, pipeline.stats.packets, dict(pipeline.stats.by_device),
                    pipeline.coach.summary()))
    assert got[0] == got[1]
