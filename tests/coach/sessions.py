"""Helpers for coach tests (imported, not a conftest): scripted patients through a Pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from isofeedback.coach.calibration import Calibration
from isofeedback.coach.protocol import ExerciseProtocol, find_protocol
from isofeedback.control import Control
from isofeedback.pipeline import Output, Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.recording.replay import ReplayResult, replay
from isofeedback.recording.writer import Recorder
from isofeedback.sim import SimulatedSession, packetize
from isofeedback.sim.scenarios import pain_at, scenario_script
from isofeedback.sources.simulated import simulate_for_profile
from isofeedback.types import Event, Feedback, Packet

IDLE_STEP_S = 0.1  # how often the service tells the pipeline that time passes


@dataclass(frozen=True)
class Run:
    session: SimulatedSession
    packets: Sequence[Packet]
    pipeline: Pipeline
    outputs: Sequence[Output]


@cache
def simulated(name: str, technique: str = "pir") -> tuple[SimulatedSession, tuple[Packet, ...]]:
    profile = find_profile("myo")
    session = simulate_for_profile(scenario_script(name, find_protocol(technique)), profile)
    return session, tuple(packetize(session, profile))


def feed(
    packets: Sequence[Packet],
    protocol: ExerciseProtocol,
    *,
    live: bool,
    calibration: Calibration | None = None,
    commands: Sequence[tuple[float, str, float | None]] = (),
) -> tuple[Pipeline, list[Output]]:
    """Feed packets to a fresh Pipeline. ``live`` also calls ``idle`` between packets, as the
    service's timer does while no packet arrives."""
    pipeline = Pipeline({"sim": find_profile("myo")}, protocol, calibration=calibration)
    out: list[Output] = []
    last = 0.0
    pending = sorted(commands)
    for p in packets:
        while pending and pending[0][0] <= p.t_arrival:  # a control command, as the service
            t, name, value = pending.pop(0)
            out += pipeline.coach.command(name, t, value)
        if live:
            t = last + IDLE_STEP_S
            while t < p.t_arrival:
                out += pipeline.idle(t)
                t += IDLE_STEP_S
        out += pipeline.feed(p)
        last = p.t_arrival
        if pipeline.coach.finished:
            break
    return pipeline, out


@cache
def run(name: str, technique: str = "pir", *, live: bool = True) -> Run:
    """The scripted patient ``name`` through a fresh Pipeline; computed once per test process
    (several tests read the same session: treat what it returns as read-only)."""
    session, packets = simulated(name, technique)
    protocol = find_protocol(technique)
    commands = [(pain_at(session.script, protocol), "pain", 6.0)] if name.startswith("pain") else []
    pipeline, out = feed(packets, protocol, live=live, commands=commands)
    return Run(session, tuple(packets), pipeline, tuple(out))


def trace(outputs: Sequence[Output]) -> list[str]:
    """Phases, cues (with the violation they report), reps and the end messages."""
    out = []
    for o in outputs:
        if isinstance(o, Event):
            continue
        assert isinstance(o, Feedback)
        p = o.payload
        if o.kind == "phase":
            out.append(f"phase:{p['phase']}")
        elif o.kind == "cue" and "clears" in p:
            out.append(f"clear:{p['clears']}")
        elif o.kind == "cue":
            out.append(f"cue:{p['id']}" + (f"!{p['violation']}" if "violation" in p else ""))
        elif o.kind == "rep":
            out.append(f"rep:{p['rep']}:{','.join(p['violations'])}")
        elif o.kind in ("summary", "progress"):
            out.append(o.kind)
    return out


def record_and_replay(name: str, technique: str, tmp_path: Path) -> tuple[Run, ReplayResult]:
    """The scripted patient recorded live (idle ticks and control commands as the service
    makes them), then replayed from the file with ``--verify``."""
    session, packets = simulated(name, technique)
    protocol, profiles = find_protocol(technique), {"sim": find_profile("myo")}
    pipeline = Pipeline(profiles, protocol)
    pending = ([Control("pain", "pain-1", 6.0).at(pain_at(session.script, protocol))]
               if name.startswith("pain") else [])
    rec = Recorder.open_in(tmp_path, f"scenario-{name}", profiles=profiles, protocol=protocol,
                           config=pipeline.config, patient="sim-patient", source="simulated",
                           simulated=True)
    outputs: list[Output] = []
    last = 0.0
    for p in packets:
        t = last + IDLE_STEP_S
        while t < p.t_arrival:
            for o in pipeline.idle(t):
                rec.submit(o)
                outputs.append(o)
            t += IDLE_STEP_S
        while pending and pending[0].t <= p.t_arrival:  # as the service: kept, then applied
            control = pending.pop(0)
            rec.on_control(control, after_packets=pipeline.stats.packets)
            for o in pipeline.control(control):
                rec.submit(o)
                outputs.append(o)
        rec.on_packet(p)
        for o in pipeline.feed(p):
            rec.submit(o)
            outputs.append(o)
        last = p.t_arrival
        if pipeline.coach.finished:
            break
    rec.close({"packets": pipeline.stats.packets})
    return Run(session, list(packets), pipeline, outputs), replay(rec.path, verify=True)
