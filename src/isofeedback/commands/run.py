"""``isofeedback run``: the live service — BLE wearables → pipeline → MQTT and terminal.

Devices come from a configuration file (see :mod:`isofeedback.run_config`) or from flags
(``--profile myo --device auto``). With no matching device the command says so and exits
with code 2; ``--wait`` (service mode) keeps scanning until the sensor appears. Recording
is on by default: the recorder is both a packet tap and an output sink of ``run_session``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from rich.console import Console

from isofeedback.coach.calibration_store import PatientStore, default_data_dir
from isofeedback.coach.protocol import find_protocol
from isofeedback.commands.common import (
    add_broker_arguments,
    add_data_dir,
    add_lsl_arguments,
    add_web_argument,
    broker_settings_from_args,
    lsl_options,
    patient_id,
    scan_timeout,
    time_scale,
)
from isofeedback.errors import ConfigError
from isofeedback.profiles.schema import find_profile
from isofeedback.run_config import DeviceConfig, RunConfig, load_run_config
from isofeedback.session import (
    RecordingPlan,
    SessionOutcome,
    SessionPlan,
    SourceContext,
    StorePlan,
    open_session,
)
from isofeedback.session.lsl import LslOptions
from isofeedback.session.patient_data import prescribed_protocol
from isofeedback.sinks.mqtt import BrokerSettings
from isofeedback.sources.base import PacketSource

__all__ = ["default_recordings_folder", "live_plan", "live_session", "register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run the live service with real (or virtual) BLE wearables",
        description="Connect to the wearables in CONFIG (or given by --profile/--device), "
        "coach a PIR/MET session and publish live feedback over MQTT.",
    )
    p.add_argument("config", nargs="?", type=Path, help="configuration file (TOML)")
    p.add_argument("--profile", help="firmware profile of a single device (instead of CONFIG)")
    p.add_argument("--device", default="auto",
                   help="address of that device, or 'auto' for the first match (default)")
    p.add_argument("--technique", metavar="PROTOCOL",
                   help="exercise protocol: a shipped one by name (pir, met, "
                   "wrist-flexors-pir, wrist-extensors-met-ri …; a wrong name lists them all) "
                   "or a protocol file (overrides CONFIG)")
    p.add_argument("--patient", type=patient_id, help="pseudonymous patient id (MQTT prefix)")
    p.add_argument("--wait", action="store_true",
                   help="keep scanning until the devices appear (service mode)")
    p.add_argument("--scan-timeout", type=scan_timeout, help="seconds to look for each device")
    p.add_argument("--plain", action="store_true", help="plain lines instead of the live panel")
    p.add_argument("--record", type=Path, metavar="DIR",
                   help="record the session into DIR (default: the config's [recording] folder, "
                   "else ~/.local/share/isofeedback/recordings)")
    p.add_argument("--no-record", action="store_true",
                   help="do not record this session (recording is on by default)")
    add_data_dir(p, "the patient's calibration and session history (default: "
                    "~/.local/share/isofeedback/patients)")
    p.add_argument("--time-scale", type=time_scale, default=1.0,
                   help="session seconds per wall second: only for a virtual device started "
                   "with --speed N (then give N here); real sensors need 1 (default)")
    add_broker_arguments(p)
    add_lsl_arguments(p)
    add_web_argument(p)
    p.set_defaults(run=run)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The configuration file, with flags overriding it (or flags alone)."""
    if args.config is not None:
        cfg = load_run_config(args.config)
    elif args.profile:
        profile = find_profile(args.profile)
        address = None if args.device == "auto" else args.device.upper()
        cfg = RunConfig(None, "patient", "pir", (DeviceConfig(profile.id, profile, address),),
                        None, None)
    else:
        raise ConfigError("give a configuration file or --profile (e.g. "
                          "'isofeedback run --profile myo'); 'isofeedback scan' lists devices")
    changes: dict[str, Any] = {}
    if args.technique:
        changes["protocol"] = args.technique
    if args.patient:
        changes["patient"] = args.patient
    broker = broker_settings_from_args(args, os.environ)
    if broker is not None:
        changes["broker"] = broker
    if args.scan_timeout:
        changes["scan_timeout"] = args.scan_timeout
    if args.record is not None:
        changes["recording_folder"] = args.record
    if not changes:
        return cfg
    fields = {f: getattr(cfg, f) for f in RunConfig.__dataclass_fields__}
    return RunConfig(**{**fields, **changes})


def default_recordings_folder() -> Path:
    """Where live sessions are recorded when the config names no folder (XDG data dir)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "isofeedback" / "recordings"


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    console = Console(force_terminal=None if not args.plain else False)
    if args.time_scale <= 0:
        raise ConfigError(f"--time-scale must be positive, got {args.time_scale}")
    lsl = lsl_options(args)
    return asyncio.run(live_session(cfg, console, wait=args.wait, view=not args.plain,
                                    time_scale=args.time_scale, listen=args.listen,
                                    listen_password_file=args.listen_password_file,
                                    record=not args.no_record,
                                    data_dir=Path(args.data_dir) if args.data_dir else None,
                                    lsl=lsl, web=args.web, speak=args.speak))


def ble_source(cfg: RunConfig, wait: bool, time_scale: float) -> Any:
    """The live session's source opener: connect the configured wearables (or wait)."""

    @contextlib.asynccontextmanager
    async def open_source(ctx: SourceContext) -> AsyncIterator[PacketSource]:
        from isofeedback.sources.ble import BleSource, DeviceTarget  # bleak: only here

        targets = [DeviceTarget(d.name, d.profile, d.address) for d in cfg.devices]
        async with BleSource(targets, scan_timeout=cfg.scan_timeout, wait=wait,
                             on_status=ctx.on_status, time_scale=time_scale) as source:
            yield source

    return open_source


def live_plan(
    cfg: RunConfig,
    console: Console,
    *,
    wait: bool = False,
    view: bool = True,
    time_scale: float = 1.0,
    listen: tuple[str, int] | None = None,
    listen_password_file: str | None = None,
    record: bool = True,
    data_dir: Path | None = None,
    lsl: LslOptions | None = None,
    web: tuple[str, int] | None = None,
    speak: bool = False,
) -> SessionPlan:
    """The plan of a live session as configured: BLE wearables, recording on, the
    patient's store in the default data folder unless told otherwise. A prescription the
    clinician sent (stored by an earlier session) chooses the protocol."""
    protocol = find_protocol(cfg.protocol)
    with contextlib.suppress(ConfigError):  # a bad store is said by the session itself
        protocol = prescribed_protocol(PatientStore(data_dir or default_data_dir(),
                                                    cfg.patient), console) or protocol
    emg = next((d for d in cfg.devices if any(s.name == "emg" for s in d.profile.streams)),
               None)
    if emg is None:
        raise ConfigError("the session needs an EMG sensor: none of the configured devices' "
                          "profiles has an 'emg' stream (add one under [[devices]])")
    names = ", ".join(f"{d.name} ({d.profile.id})" for d in cfg.devices)

    def intro(console: Console, broker: BrokerSettings, where: str, topics: str) -> None:
        console.print(f"[bold]isofeedback[/]: {protocol.name}; looking for {names}"
                      f"{' (waiting until found)' if wait else ''}; live feed on {where}, "
                      f"topics {topics}", soft_wrap=True)

    return SessionPlan(
        patient=cfg.patient, protocol=protocol, console=console,
        title=f"isofeedback · {protocol.name}",
        open_source=ble_source(cfg, wait, time_scale), source_kind="ble",
        broker=cfg.broker, broker_explicit=cfg.broker is not None, listen=listen, wait=wait,
        listen_password_file=listen_password_file,
        recording=RecordingPlan(cfg.recording_folder or default_recordings_folder(), "ble")
        if record else None,
        store=StorePlan(data_dir or default_data_dir(), emg.profile.id,
                        emg.address or emg.name),
        lsl=lsl, view="live" if view else "plain", keyboard=view, intro=intro, web=web,
        speak=speak,
    )


async def live_session(cfg: RunConfig, console: Console, **options: Any) -> int:
    """Run one live session as configured; returns the exit code (see :func:`live_plan`)."""
    outcome: SessionOutcome = await open_session(live_plan(cfg, console, **options))
    return outcome.exit_code
