"""The pipeline reports a flat line (electrode off) and saturation as signal-quality
events, never as contractions."""

from __future__ import annotations

import numpy as np

from isofeedback.coach.protocol import find_protocol
from isofeedback.config import PipelineConfig
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.types import Chunk, Event, EventType


def _pipeline() -> Pipeline:
    prof = find_profile("myo")
    cfg = PipelineConfig().updated({"detector.rest.calibration_s": 2.0, "chain.full_scale": 127.0})
    return Pipeline({"arm": prof}, find_protocol("pir"), cfg)


def test_electrode_off_and_saturation_are_quality_events() -> None:
    pipe = _pipeline()
    spec = pipe.profiles["arm"].stream("emg")
    fs, ch = spec.fs, len(spec.channels)
    x = np.random.default_rng(3).normal(0.0, 3.0, (int(12 * fs), ch)).round()
    x[int(4 * fs) : int(7 * fs), 2] = 0.0  # channel 2 lifted off: flat line
    x[int(9 * fs) : int(9 * fs) + 4, 5] = 127.0  # channel 5 saturates briefly
    names = tuple(spec.channels)
    out = []
    step = int(0.05 * fs)
    for i in range(0, x.shape[0], step):
        c = Chunk("emg", fs, i, i / fs, x[i : i + step], names, device="arm")
        out += pipe.process_chunk(c)
    events = [e for e in out if isinstance(e, Event)]
    quality = [e for e in events if e.type == EventType.SIGNAL_QUALITY]
    got = [(e.detail["issue"], e.detail["state"], e.detail["channel"]) for e in quality]
    assert got == [
        ("flat", "start", 2),
        ("flat", "end", 2),
        ("saturation", "start", 5),
        ("saturation", "end", 5),
    ]
    assert abs(quality[0].t - 4.0) < 1e-9 and abs(quality[2].t - 9.0) < 1e-9
    onsets = [e for e in events if e.type == EventType.ONSET]
    assert onsets == []  # neither problem is taken for a contraction


def test_quality_events_are_the_same_live_and_in_a_replay_s_bulk_pass() -> None:
    """A live session feeds packet by packet, each with its own arrival-derived start
    time; a replay feeds many packets as one chunk. A quality event's times were the
    chunk's start plus samples over the rate, so they differed in the last bits between
    the two (``replay --verify`` of a session with an electrode off would fail): the bulk
    pass now retimes each from the packet it was decided in."""
    import dataclasses

    from isofeedback.sim import packetize
    from isofeedback.sim.scenarios import follow_protocol
    from isofeedback.sources.simulated import simulate_for_profile

    prof = find_profile("myo")
    protocol = dataclasses.replace(find_protocol("pir"), reps=2)
    session = simulate_for_profile(follow_protocol(protocol, seed=5, level=0.18), prof)
    emg = session.emg.copy()
    fs = prof.stream("emg").fs
    emg[int(15 * fs) : int(17 * fs), 2] = 0.0  # channel 2 lifted off
    emg[int(20 * fs) : int(20 * fs) + 4, 5] = 127.0  # channel 5 at full scale
    packets = packetize(dataclasses.replace(session, emg=emg), prof)
    cfg = PipelineConfig().updated({"chain.full_scale": 127.0})
    live = Pipeline({"sim": prof}, protocol, cfg)
    one_by_one = [o for p in packets for o in live.feed(p)]
    replayed = Pipeline({"sim": prof}, protocol, cfg).feed_many(packets)[0]
    quality = [e for e in one_by_one if isinstance(e, Event)
               and e.type == EventType.SIGNAL_QUALITY]
    assert [(e.detail["issue"], e.detail["state"]) for e in quality] == [
        ("flat", "start"), ("flat", "end"), ("saturation", "start"), ("saturation", "end")]
    assert replayed == one_by_one
