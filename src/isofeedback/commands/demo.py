"""``isofeedback demo``: a whole simulated session through the real pipeline, no hardware.

Simulated patient → packets in a real wearable's byte format → decoder → EMG/IMU chains →
detectors → coach → MQTT (a local broker, or a built-in one when none runs) and the
terminal view, ending with the session summary.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from isofeedback.broker import resolve_broker
from isofeedback.coach.calibration_store import PatientStore
from isofeedback.coach.protocol import find_protocol
from isofeedback.commands.common import (
    add_broker_arguments,
    add_data_dir,
    add_lsl_arguments,
    broker_settings_from_args,
    lsl_options,
    open_lsl,
    patient_id,
    speed,
)
from isofeedback.commands.patient_data import reusable_calibration, save_session
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.recording.writer import Recorder
from isofeedback.service import OutputSink, SessionResult, run_session
from isofeedback.sim import Faults, protocol_script
from isofeedback.sim.scenarios import SCENARIOS, too_weak
from isofeedback.sinks.lsl import has_joint_angle
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import MqttPublisher
from isofeedback.sinks.terminal import TerminalView
from isofeedback.sources.simulated import SimulatedSource

__all__ = ["register", "run"]

# the scripted patients' faults, named for the command line ("clean" is "none" here;
# "disconnected" needs a sensor outage, which the demo's simulated link does not script;
# "too-weak" rescripts repetition 2 rather than setting a fault flag)
FAULTS: dict[str, Faults] = {
    ("none" if name == "clean" else name.replace("_", "-")): faults
    for name, faults in SCENARIOS.items()
    if name != "disconnected"
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run a simulated PIR/MET session end to end (no hardware, no broker needed)",
        description="Run a simulated patient through the whole pipeline: packets in a real "
        "wearable's format, detection, coaching, live MQTT feedback and the terminal view. "
        "Uses a local MQTT broker if one runs on 127.0.0.1:1883, else a built-in one.",
    )
    p.add_argument("--technique", choices=["pir", "met"], default="pir",
                   help="exercise protocol to coach (default: pir)")
    p.add_argument("--profile", default="myo",
                   help="firmware profile whose byte format is simulated (default: myo)")
    p.add_argument("--speed", type=speed, default=10.0,
                   help="'realtime', 'max' or a factor (default: 10x real time)")
    p.add_argument("--seed", type=int, default=1, help="simulated patient seed (default: 1)")
    p.add_argument("--fault", choices=sorted(FAULTS), default="none",
                   help="make the simulated patient get something wrong in rep 2")
    p.add_argument("--patient", type=patient_id, default="demo",
                   help="pseudonymous patient id, the MQTT topic prefix (default: demo)")
    p.add_argument("--record", type=Path, metavar="DIR",
                   help="also record the session to DIR (off by default: a demo is simulated "
                   "data; live sessions are always recorded)")
    add_data_dir(p, "keep the patient's calibration and session history in this folder "
                    "(reused next time; default: nothing is stored)")
    p.add_argument("--plain", action="store_true",
                   help="print one line per phase and cue instead of the live panel")
    add_broker_arguments(p)
    add_lsl_arguments(p)
    p.set_defaults(run=run)


def new_session_id(patient: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{patient}-{stamp}-{secrets.token_hex(2)}"


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(args))


async def _demo(args: argparse.Namespace) -> int:
    console = Console(force_terminal=None if not args.plain else False)
    profile = find_profile(args.profile)
    protocol = find_protocol(args.technique)
    store = PatientStore(args.data_dir, args.patient) if args.data_dir else None
    calibration = reusable_calibration(store, profile.id, "sim", console) if store else None
    level = (protocol.intensity_low + protocol.intensity_high) / 200.0
    mvc_capture = protocol.mvc_capture and (calibration is None or calibration.mvc is None)
    script = protocol_script(
        protocol.technique, reps=protocol.reps, level=level, hold=protocol.hold_s,
        relax=protocol.relax_s, stretch=protocol.stretch_s,
        rest_before=protocol.rest_calibration_s + 1.0, seed=args.seed, faults=FAULTS[args.fault],
        mvc_capture=mvc_capture,
    )
    if args.fault == "too-weak":
        script = too_weak(script, 2 if mvc_capture else 1)  # the second repetition
    source = SimulatedSource(script, profile, speed=args.speed)
    pipeline = Pipeline(source.profiles, protocol, calibration=calibration,
                        history=store.sessions() if store else ())
    settings = broker_settings_from_args(args, os.environ)
    lsl = lsl_options(args)
    explicit = args.broker is not None
    async with resolve_broker(settings, explicit, args.listen) as (broker, where):
        session_id = new_session_id(args.patient)
        topics = f"isofeedback/{args.patient}/#"
        console.print(f"[bold]isofeedback demo[/]: {protocol.name}, simulated {profile.name}, "
                      f"{script.duration:.0f} s of session at "
                      f"{'max speed' if args.speed is None else f'{args.speed:g}x'}")
        console.print(f"Live feed on {where}. Watch it with any MQTT client, e.g.\n"
                      f"  mosquitto_sub -h {broker.host} -p {broker.port} -t '{topics}' -v")
        wall_start = time.time()
        serializer = Serializer(args.patient, session_id, wall_start)
        recorder = None
        if args.record:
            recorder = Recorder.open_in(
                args.record, session_id, profiles=source.profiles, protocol=protocol,
                config=pipeline.config, patient=args.patient, wall_start=wall_start,
                source="simulated", simulated=True,
                extra_meta={"simulation": {"seed": args.seed, "fault": args.fault}})
        async with MqttPublisher(broker, serializer) as publisher:
            if explicit and not await publisher.wait_connected(5.0):
                why = publisher.stats.last_error or "no answer"
                console.print(f"[red]could not connect to {where}: {why}[/]")
                return 2
            async with open_lsl(lsl, console, patient=args.patient, session_id=session_id,
                                protocol=protocol, angle=has_joint_angle(source.profiles),
                                wall_start=wall_start) as lsl_sinks:
                with TerminalView(console, title=f"isofeedback · {protocol.name}") as view:
                    sinks: list[OutputSink] = [publisher, view, *lsl_sinks]
                    if recorder is not None:
                        sinks.append(recorder)
                    taps = [] if recorder is None else [recorder]
                    try:
                        result = await run_session(source, pipeline, sinks, taps)
                    finally:
                        if recorder is not None:
                            recorder.close({"packets": pipeline.stats.packets,
                                            "mqtt": publisher.stats.as_dict()})
        print_summary(console, result, publisher.stats.as_dict(), session_id)
        if recorder is not None:
            console.print(f"recorded to {recorder.path}")
    if store is not None:
        save_session(store, pipeline, calibration, profile.id, "sim", session_id,
                     serializer.wall(0.0))
        console.print(f"saved to {store.path}; see 'isofeedback progress --patient "
                      f"{args.patient} --data-dir {args.data_dir}'")
    return 0


def print_summary(
    console: Console, result: SessionResult, mqtt: dict[str, Any], session: str
) -> None:
    s = result.summary
    # the session id can be long: it goes on its own unwrapped line, not in the table title
    console.print(f"Session {session}", soft_wrap=True)
    table = Table(title=f"{s['reps_done']}/{s['reps_planned']} reps")
    for col in ("rep", "hold s", "mean", "peak", "relax residual", "ROM °", "gain °",
                "violations"):
        table.add_column(col)
    for r in s["reps"]:
        table.add_row(
            str(r["rep"]), f"{r['hold_s']:.1f}", f"{r['mean_intensity']:.1f}",
            f"{r['peak_intensity']:.1f}",
            "-" if r["relax_residual"] is None else f"{r['relax_residual']:.1f}",
            "-" if r["rom_deg"] is None else f"{r['rom_deg']:.1f}",
            "-" if r["rom_gain_deg"] is None else f"{r['rom_gain_deg']:+.1f}",
            ", ".join(r["violations"]) or "none",
        )
    console.print(table)
    violations = ", ".join(s["violations"]) or "none"
    console.print(
        f"mean hold {s['mean_hold_s']:.1f} s; violations: {violations}; "
        f"{result.stats.packets} packets ({result.stats.bad_packets} bad) "
        f"in {result.wall_s:.1f} s; "
        f"MQTT: {mqtt['published']} messages published, {mqtt['live_dropped']} live levels dropped"
    )
