"""``isofeedback demo``: a whole simulated session through the real pipeline, no hardware.

Simulated patient → packets in a real wearable's byte format → decoder → EMG/IMU chains →
detectors → coach → MQTT (a local broker, or a built-in one when none runs) and the
terminal view, ending with the session summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import shlex
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from isofeedback.broker import SERVICE_USER
from isofeedback.coach.protocol import ExerciseProtocol, find_protocol, shipped_protocols
from isofeedback.commands.common import (
    add_broker_arguments,
    add_data_dir,
    add_lsl_arguments,
    add_web_argument,
    broker_settings_from_args,
    lsl_options,
    patient_id,
    seed,
    speed,
)
from isofeedback.errors import ConfigError
from isofeedback.profiles.schema import Profile, find_profile
from isofeedback.session import RecordingPlan, SessionPlan, SourceContext, StorePlan, open_session
from isofeedback.sim import Faults
from isofeedback.sim.scenarios import SCENARIOS, scenario_script, with_noise_rise
from isofeedback.sinks.mqtt import BrokerSettings
from isofeedback.sources.base import PacketSource
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
    p.add_argument("--technique", choices=list(TECHNIQUES), default="pir",
                   help="pir (post-isometric relaxation), met (muscle energy technique) or "
                   "met-ri (MET, reciprocal inhibition: the antagonist contracts); default pir")
    p.add_argument("--muscle", choices=sorted({m for t in TECHNIQUES for m in muscles(t)}),
                   help="the shipped protocol of this technique for this muscle (default: "
                   "wrist flexors; met-ri: wrist extensors)")
    p.add_argument("--protocol", metavar="NAME|FILE",
                   help="any shipped protocol by name (e.g. pir-mvc: intensity in %% of a "
                   "maximal contraction, only when the clinician enables it) or a protocol "
                   "file; overrides --technique and --muscle")
    p.add_argument("--profile", default="myo",
                   help="firmware profile whose byte format is simulated (default: myo)")
    p.add_argument("--speed", type=speed, default=10.0,
                   help="'realtime', 'max' or a factor (default: 10x real time)")
    p.add_argument("--seed", type=seed, default=1, help="simulated patient seed (default: 1)")
    p.add_argument("--mains-hum", type=float, choices=(50.0, 60.0), default=None,
                   metavar="50|60",
                   help="the simulated sensor hums at this mains frequency (60: a sensor in "
                   "the Americas, with the default 50 Hz notch: the chain finds the hum in "
                   "the first seconds and notches it)")
    p.add_argument("--noisy-sensor", action="store_true",
                   help="the simulated sensor's noise rises 2.5x during the first hold and "
                   "stays up (sweat, a loose strap): the page's signal light says so, and "
                   "with several channels the coach tells it from tension")
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
    add_web_argument(p)
    p.set_defaults(run=run)


# the demo's techniques → the shipped protocols' name suffix; a shipped protocol named
# "<muscle>-<suffix>" is that technique for that muscle, one named "<suffix>" its default
TECHNIQUES = {"pir": "pir", "met": "met", "met-ri": "met-ri"}


def muscles(technique: str) -> list[str]:
    """The muscles with a shipped protocol of ``technique`` (``upper-trapezius``…)."""
    suffix = "-" + TECHNIQUES[technique]
    return sorted(name.removesuffix(suffix) for name in shipped_protocols()
                  if name.endswith(suffix) and name != TECHNIQUES[technique])


def demo_protocol(technique: str, muscle: str | None, protocol: str | None = None
                  ) -> ExerciseProtocol:
    """The protocol the demo coaches: ``--protocol`` as given, else the shipped protocol
    of the technique for the muscle (or the technique's default one)."""
    if protocol:
        return find_protocol(protocol)
    name, have = TECHNIQUES[technique], muscles(technique)
    if muscle is not None:
        if muscle not in have:
            raise ConfigError(f"no shipped {technique} protocol for the {muscle.replace('-', ' ')}"
                              f"; {technique} is shipped for: {', '.join(have)}")
        name = f"{muscle}-{name}"
    elif name not in shipped_protocols():
        name = f"{have[0]}-{name}"  # no generic one (met-ri): its first muscle
    return find_protocol(name)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(args))


def simulated_source(protocol: ExerciseProtocol, profile: Profile, args: argparse.Namespace,
                     ) -> Any:
    """The demo's source opener: the simulated patient's script is made once the stored
    calibration is known (with a usable stored MVC the patient is not asked for one)."""

    @contextlib.asynccontextmanager
    async def open_source(ctx: SourceContext) -> AsyncIterator[PacketSource]:
        calibration = ctx.calibration
        session = ctx.protocol or protocol  # with the hold the progression rule chose
        mvc_capture = session.mvc_capture and (calibration is None or calibration.mvc is None)
        scenario = "clean" if args.fault == "none" else args.fault.replace("-", "_")
        script = scenario_script(scenario, session, args.seed, mvc_capture=mvc_capture)
        if args.mains_hum:
            # three times the weakest contraction: enough to hide gentle ones unnotched
            script = dataclasses.replace(script, artifacts=dataclasses.replace(
                script.artifacts, mains_hz=args.mains_hum, mains_level=3.0))
        if args.noisy_sensor:
            script = with_noise_rise(script, session, mvc_capture)
        source = SimulatedSource(script, profile, speed=args.speed)
        ctx_console = args.console
        ctx_console.print(
            f"[bold]isofeedback demo[/]: {session.name}, simulated {profile.name}, "
            f"{script.duration:.0f} s of session at "
            f"{'max speed' if args.speed is None else f'{args.speed:g}x'}")
        yield source

    return open_source


def watch_command(broker: BrokerSettings, topics: str) -> str:
    """The ``mosquitto_sub`` line that watches ``topics`` on ``broker`` as the patient's
    client would: with the login and TLS the broker needs (the built-in broker on a
    network address refuses anonymous clients, so the line without them failed with "not
    authorised"). The password is ``<password>``, never printed here."""
    opts = ["-h", broker.host, "-p", str(broker.port)]
    if broker.tls_ca:
        opts += ["--cafile", broker.tls_ca]
    elif broker.tls:
        opts += ["--tls-use-os-certs"]
    if broker.tls_cert and broker.tls_key:
        opts += ["--cert", broker.tls_cert, "--key", broker.tls_key]
    if broker.username:
        # the built-in broker's own login is the service's: a client logs in as the patient
        user = topics.split("/")[1] if broker.username == SERVICE_USER else broker.username
        opts += ["-u", user, "-P", "<password>"]
    return " ".join(["mosquitto_sub", *map(shlex.quote, opts), "-t", shlex.quote(topics),
                     "-v"])


def _intro(console: Console, broker: BrokerSettings, where: str, topics: str) -> None:
    console.print(f"Live feed on {where}. Watch it with any MQTT client, e.g.\n"
                  f"  {escape(watch_command(broker, topics))}", soft_wrap=True)


async def _demo(args: argparse.Namespace) -> int:
    console = Console(force_terminal=None if not args.plain else False)
    args.console = console
    profile = find_profile(args.profile)
    protocol = demo_protocol(args.technique, args.muscle, args.protocol)
    settings = broker_settings_from_args(args, os.environ)
    plan = SessionPlan(
        patient=args.patient, protocol=protocol, console=console,
        title=f"isofeedback · {protocol.name}",
        open_source=simulated_source(protocol, profile, args),
        source_kind="simulated",
        broker=settings, broker_explicit=args.broker is not None, listen=args.listen,
        listen_password_file=args.listen_password_file,
        recording=RecordingPlan(
            Path(args.record), source="simulated", simulated=True,
            extra_meta={"simulation": {"seed": args.seed, "fault": args.fault,
                                       "mains_hum": args.mains_hum,
                                       "noisy_sensor": args.noisy_sensor}},
        ) if args.record else None,
        store=StorePlan(Path(args.data_dir), profile.id, "sim") if args.data_dir else None,
        lsl=lsl_options(args),
        view="plain" if args.plain else "live",
        keyboard=not args.plain,
        intro=_intro,
        web=args.web, speak=args.speak,
    )
    outcome = await open_session(plan)
    return outcome.exit_code
