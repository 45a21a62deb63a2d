"""The Lab Streaming Layer outlet, with real LSL on loopback (pylsl and its bundled liblsl).

A consumer (a ``StreamInlet``, as LabRecorder uses) resolves the streams by source id,
connects before the session starts, and must receive every marker in session order and one
level sample per level feedback, on the documented clock mapping.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

# the test extra installs pylsl: a machine without it must fail these tests, not skip them
import pylsl
import pytest

from isofeedback.cli import build_parser
from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.recording.reader import RecordingReader
from isofeedback.service import SessionResult, run_session
from isofeedback.sim import Faults
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sinks.lsl import LEVEL_RATE_HZ, LslOutlet
from isofeedback.sinks.messages import Serializer
from isofeedback.sources.simulated import SimulatedSource
from isofeedback.types import Event, Feedback

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "recordings" / "myo-pir-sim.isorec"
HANG_GUARD_S = 60.0  # only so a broken test cannot hang; nothing asserts on elapsed time


def unique_patient() -> str:
    return f"lsl{uuid.uuid4().hex[:10]}"


def connect(source_id: str) -> Any:
    """A consumer of the stream ``source_id``, connected (the outlet sees it)."""
    found = pylsl.resolve_byprop("source_id", source_id, timeout=HANG_GUARD_S)
    assert found, f"LSL stream {source_id} not found on loopback"
    # recover=False: once the outlet is gone, pulling raises LostError instead of blocking
    inlet = pylsl.StreamInlet(found[0], max_buflen=360, recover=False)
    inlet.open_stream(timeout=HANG_GUARD_S)
    return inlet


def pull_until(inlet: Any, done: Callable[[list[tuple[float, list[Any]]]], bool]
               ) -> list[tuple[float, list[Any]]]:
    got: list[tuple[float, list[Any]]] = []
    deadline = time.monotonic() + HANG_GUARD_S
    while not done(got) and time.monotonic() < deadline:
        try:
            samples, stamps = inlet.pull_chunk(timeout=0.2)
        except pylsl.util.LostError:  # the outlet closed: everything it delivered is in ``got``
            break
        got += list(zip(stamps, samples, strict=True))
    return got


def channels(info: Any) -> list[tuple[str, str]]:
    ch = info.desc().child("channels").child("channel")
    out = []
    while not ch.empty():
        out.append((ch.child_value("label"), ch.child_value("unit")))
        ch = ch.next_sibling()
    return out


def split_outputs(outputs: list[Event | Feedback]) -> tuple[list[Feedback], list[Any]]:
    levels = [o for o in outputs if isinstance(o, Feedback) and o.kind == "level"]
    others = [o for o in outputs if not (isinstance(o, Feedback) and o.kind == "level")]
    return levels, others


def simulated_session() -> tuple[SimulatedSource, Pipeline]:
    protocol = dataclasses.replace(find_protocol("pir"), reps=2, hold_s=4.0, relax_s=3.0,
                                   stretch_s=3.0)
    script = follow_protocol(protocol, level=0.18, rest_before=4.0, seed=3,
                             faults=Faults(move_in_rep=0))
    source = SimulatedSource(script, find_profile("myo"), speed=None)
    return source, Pipeline(source.profiles, protocol)


def test_simulated_session_streams_markers_and_levels() -> None:
    patient, session, wall = unique_patient(), "s-lsl-1", 1_700_000_000.0
    source, pipeline = simulated_session()
    with LslOutlet(patient, session, pipeline.protocol, angle=True, wall_start=wall) as lsl:
        markers_in = connect(f"isofeedback/{patient}/{session}/markers")
        levels_in = connect(f"isofeedback/{patient}/{session}/level")
        assert asyncio.run(lsl.wait_for_consumers(HANG_GUARD_S))
        t0 = lsl.anchor()
        result: SessionResult = asyncio.run(run_session(source, pipeline, [lsl]))
        levels, others = split_outputs(result.outputs)
        assert result.events and len(levels) > 100

        got_markers = pull_until(markers_in, lambda g: sum(
            json.loads(s[0])["kind"] != "level_unit" for _, s in g) >= len(others))
        got_levels = pull_until(levels_in, lambda g: len(g) >= len(levels))
        info = levels_in.info(timeout=HANG_GUARD_S)
        minfo = markers_in.info(timeout=HANG_GUARD_S)
    assert lsl.stats.failed == 0

    # markers: every non-level output, in session order, as the MQTT documents, at t0 + t
    docs = [json.loads(s[0]) for _, s in got_markers]
    session_markers = [(ts, d) for ts, d in zip((ts for ts, _ in got_markers), docs,
                                                 strict=True) if d["kind"] != "level_unit"]
    reference = Serializer(patient, session, wall)
    expected = [json.loads(reference.message(o).payload) for o in others]
    assert [d for _, d in session_markers] == expected
    assert [d["type"] for _, d in session_markers if d["kind"] == "event"] == [
        e.type.value for e in result.events]
    for (ts, _), o in zip(session_markers, others, strict=True):
        t = o.t_decided if isinstance(o, Event) else o.t
        assert ts == pytest.approx(t0 + t, abs=1e-6)
    stamps = [ts for ts, _ in got_markers]
    assert stamps == sorted(stamps)

    # the intensity unit is announced before the first level and whenever it changes
    units = [d for d in docs if d["kind"] == "level_unit"]
    assert units and units[0]["t"] == round(levels[0].t, 4)
    assert [u["unit"] for u in units] == [
        u for i, u in enumerate(lv.payload["unit"] for lv in levels)
        if i == 0 or u != levels[i - 1].payload["unit"]]

    # levels: the declared rate and channels, one sample per level feedback, at t0 + t
    assert info.nominal_srate() == LEVEL_RATE_HZ == 20.0
    assert info.channel_count() == 4
    assert info.type() == "Biofeedback" and info.name() == f"isofeedback {patient} level"
    assert channels(info) == [("intensity", "%ref"), ("angle", "degrees"),
                              ("in_band", "boolean"), ("rep", "count")]
    assert info.desc().child("session").child_value("patient") == patient
    assert len(got_levels) == len(levels)
    for (ts, sample), lv in zip(got_levels, levels, strict=True):
        p = lv.payload
        assert ts == pytest.approx(t0 + lv.t, abs=1e-6)
        assert sample == pytest.approx([p["intensity"], p["angle_deg"],
                                        1.0 if p["in_band"] else 0.0, p["rep"]], abs=1e-3)
    # the samples come at the nominal rate of the stream clock (the coach's 50 ms level tick)
    intervals = [b - a for a, b in itertools.pairwise(ts for ts, _ in got_levels)]
    assert statistics.median(intervals) == pytest.approx(1 / LEVEL_RATE_HZ, rel=0.15)
    assert max(s[0] for _, s in got_levels) > 0  # the simulated patient did contract

    assert minfo.type() == "Markers" and minfo.channel_format() == pylsl.cf_string
    assert minfo.nominal_srate() == pylsl.IRREGULAR_RATE
    assert minfo.source_id() == f"isofeedback/{patient}/{session}/markers"


def test_without_a_joint_angle_the_level_stream_has_three_channels() -> None:
    patient = unique_patient()
    with LslOutlet(patient, "s-emg-only", find_protocol("pir"), angle=False):
        info = connect(f"isofeedback/{patient}/s-emg-only/level").info(timeout=HANG_GUARD_S)
    assert info.channel_count() == 3
    assert channels(info) == [("intensity", "%ref"), ("in_band", "boolean"), ("rep", "count")]


def test_replay_command_with_lsl_streams_the_recorded_outputs(tmp_path: Path) -> None:
    """``replay --lsl --lsl-wait``: the consumer connects, the replay then runs at max speed,
    and every recorded output reaches the consumer (nothing lost when the outlets close)."""
    rec = tmp_path / SAMPLE.name
    shutil.copy(SAMPLE, rec)
    with RecordingReader(rec) as reader:
        session = reader.session_id
        levels, others = split_outputs(reader.outputs())
    patient = unique_patient()
    args = build_parser().parse_args(["replay", str(rec), "--lsl", "--lsl-wait", "60",
                                      "--patient", patient])
    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(args.run(args)))
    worker.start()
    try:
        base = f"isofeedback/{patient}/{session}-replay"
        markers_in, levels_in = connect(f"{base}/markers"), connect(f"{base}/level")
        got_markers = pull_until(markers_in, lambda g: sum(
            json.loads(s[0])["kind"] != "level_unit" for _, s in g) >= len(others))
        got_levels = pull_until(levels_in, lambda g: len(g) >= len(levels))
    finally:
        worker.join(HANG_GUARD_S)
    assert codes == [0]
    docs = [json.loads(s[0]) for _, s in got_markers]
    replayed = [d for d in docs if d["kind"] != "level_unit"]
    assert [(d["kind"], d.get("type"), d["t"]) for d in replayed] == [
        ("event", o.type.value, round(o.t_decided, 4)) if isinstance(o, Event)
        else (o.kind, None, round(o.t, 4)) for o in others]
    assert all(d["patient"] == patient and d["session"] == f"{session}-replay" for d in docs)
    assert len(got_levels) == len(levels)
    assert [s[0] for _, s in got_levels] == pytest.approx(
        [lv.payload["intensity"] for lv in levels], abs=1e-3)


BLOCK_PYLSL = "import sys; sys.modules['pylsl'] = None  # as if pylsl were not installed\n"


@pytest.mark.parametrize("command", [["replay", str(SAMPLE)], ["demo", "--speed", "max"]])
def test_without_pylsl_one_clear_error_line(command: list[str]) -> None:
    code = BLOCK_PYLSL + (
        "import isofeedback.cli, isofeedback.service, isofeedback.sinks.lsl\n"
        "isofeedback.cli.build_parser()\n"
        "assert 'pylsl' not in sys.modules or sys.modules['pylsl'] is None\n"
        f"sys.exit(isofeedback.cli.main({[*command, '--lsl']!r}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert "pylsl" in lines[0] and "pip install 'isofeedback[lsl]'" in lines[0]
    assert lines[0].startswith("isofeedback: error:")


def test_the_core_does_not_import_pylsl() -> None:
    code = ("import sys, isofeedback.cli, isofeedback.service, isofeedback.sinks.lsl\n"
            "import isofeedback.commands.run, isofeedback.commands.replay\n"
            "isofeedback.cli.build_parser()\n"
            "sys.exit(1 if 'pylsl' in sys.modules else 0)\n")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=300).returncode == 0
