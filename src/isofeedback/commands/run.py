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
import functools
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from isofeedback.broker import resolve_broker
from isofeedback.coach.calibration_store import PatientStore
from isofeedback.coach.protocol import find_protocol
from isofeedback.commands.common import (
    LslOptions,
    add_broker_arguments,
    add_data_dir,
    add_lsl_arguments,
    broker_settings_from_args,
    lsl_options,
    open_lsl,
    patient_id,
)
from isofeedback.commands.demo import new_session_id, print_summary
from isofeedback.commands.patient_data import (
    default_data_dir,
    reusable_calibration,
    save_session,
)
from isofeedback.errors import ConfigError
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.recording.writer import Recorder
from isofeedback.run_config import DeviceConfig, RunConfig, load_run_config
from isofeedback.service import OutputSink, PacketTap, SessionResult, run_session
from isofeedback.sinks.haptic import HapticSink
from isofeedback.sinks.lsl import has_joint_angle
from isofeedback.sinks.messages import MqttMessage, Serializer
from isofeedback.sinks.mqtt import MqttPublisher
from isofeedback.sinks.terminal import TerminalView
from isofeedback.sources.ble import BleSource, DeviceStatus, DeviceTarget

__all__ = ["default_recordings_folder", "live_session", "register", "run"]


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
    p.add_argument("--technique", help="exercise protocol: pir or met (overrides CONFIG)")
    p.add_argument("--patient", type=patient_id, help="pseudonymous patient id (MQTT prefix)")
    p.add_argument("--wait", action="store_true",
                   help="keep scanning until the devices appear (service mode)")
    p.add_argument("--scan-timeout", type=float, help="seconds to look for each device")
    p.add_argument("--plain", action="store_true", help="plain lines instead of the live panel")
    p.add_argument("--record", type=Path, metavar="DIR",
                   help="record the session into DIR (default: the config's [recording] folder, "
                   "else ~/.local/share/isofeedback/recordings)")
    p.add_argument("--no-record", action="store_true",
                   help="do not record this session (recording is on by default)")
    add_data_dir(p, "the patient's calibration and session history (default: "
                    "~/.local/share/isofeedback/patients)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="session seconds per wall second: only for a virtual device started "
                   "with --speed N (then give N here); real sensors need 1 (default)")
    add_broker_arguments(p)
    add_lsl_arguments(p)
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
                                    record=not args.no_record,
                                    data_dir=Path(args.data_dir) if args.data_dir else None,
                                    lsl=lsl))


def device_message(serializer: Serializer, s: DeviceStatus) -> MqttMessage:
    """The retained per-device MQTT message for a BLE source status change."""
    if s.kind == "battery":
        return serializer.device_battery(s.device, float(s.body["level"]), s.t)
    state = str(s.body.get("state", "offline"))
    detail = str(s.body.get("reason") or "")
    return serializer.device_availability(
        s.device, state if state in ("online", "offline", "connecting") else "offline",  # type: ignore[arg-type]
        s.t, name=str(s.body.get("address", "")), detail=detail,
    )


async def live_session(
    cfg: RunConfig,
    console: Console,
    wait: bool = False,
    view: bool = True,
    extra_taps: Sequence[PacketTap] = (),
    time_scale: float = 1.0,
    listen: tuple[str, int] | None = None,
    record: bool = True,
    data_dir: Path | None = None,
    lsl: LslOptions | None = None,
) -> int:
    """Run one live session as configured; returns the exit code. The session is recorded
    (raw packets, outputs, device status notes) unless ``record`` is False; ``lsl`` also
    publishes it as Lab Streaming Layer streams."""
    protocol = find_protocol(cfg.protocol)
    if not any(s.name == "emg" for d in cfg.devices for s in d.profile.streams):
        raise ConfigError("the session needs an EMG sensor: none of the configured devices' "
                          "profiles has an 'emg' stream (add one under [[devices]])")
    targets = [DeviceTarget(d.name, d.profile, d.address) for d in cfg.devices]
    emg = next(d for d in cfg.devices if any(s.name == "emg" for s in d.profile.streams))
    store = PatientStore(data_dir or default_data_dir(), cfg.patient)
    calibration = reusable_calibration(store, emg.profile.id, emg.address or emg.name, console)
    explicit = cfg.broker is not None
    async with resolve_broker(cfg.broker, explicit, listen) as (broker, where):
        session_id = new_session_id(cfg.patient)
        wall_start = time.time()
        serializer = Serializer(cfg.patient, session_id, wall_start)
        recorders: list[Recorder] = []
        async with MqttPublisher(broker, serializer) as publisher:

            def on_status(s: DeviceStatus) -> None:
                publisher.submit_message(device_message(serializer, s))
                for rec in recorders:
                    rec.note(f"device_{s.kind}", s.t, device=s.device, **s.body)
                what = ", ".join(f"{k} {v}" for k, v in s.body.items())
                console.print(f"[dim]{s.t:7.1f} s[/] {s.device}: {s.kind} {what}")

            names = ", ".join(f"{t.name} ({t.profile.id})" for t in targets)
            console.print(f"[bold]isofeedback[/]: {protocol.name}; looking for {names}"
                          f"{' (waiting until found)' if wait else ''}; live feed on {where}, "
                          f"topics isofeedback/{cfg.patient}/#")
            source = BleSource(targets, scan_timeout=cfg.scan_timeout, wait=wait,
                               on_status=on_status, time_scale=time_scale)
            async with source:
                pipeline = Pipeline(source.profiles, protocol, calibration=calibration,
                                    history=store.sessions())
                sinks: list[OutputSink] = [publisher]
                taps: list[PacketTap] = list(extra_taps)
                if record:
                    folder = cfg.recording_folder or default_recordings_folder()
                    recorders.append(Recorder.open_in(
                        folder, session_id, profiles=source.profiles, protocol=protocol,
                        config=pipeline.config, patient=cfg.patient, wall_start=wall_start,
                        source="ble"))
                    sinks += recorders
                    taps += recorders
                try:
                    async with contextlib.AsyncExitStack() as stack:
                        # "release now" is also felt on a wearable that can vibrate
                        for t in targets:
                            if t.profile.haptic:
                                sinks.append(await stack.enter_async_context(
                                    HapticSink(t.profile, functools.partial(source.write, t.name))))
                        sinks += await stack.enter_async_context(open_lsl(
                            lsl, console, patient=cfg.patient, session_id=session_id,
                            protocol=protocol, angle=has_joint_angle(source.profiles),
                            wall_start=wall_start, session_now=source.now))
                        if view:
                            tv = stack.enter_context(
                                TerminalView(console, title=f"isofeedback · {protocol.name}"))
                            sinks.append(tv)
                        result = await run_session(source, pipeline, sinks, taps)
                finally:
                    for rec in recorders:
                        rec.close({"packets": pipeline.stats.packets,
                                   "bad_packets": pipeline.stats.bad_packets,
                                   "mqtt": publisher.stats.as_dict()})
            report(console, source, result)
        print_summary(console, result, publisher.stats.as_dict(), session_id)
        for rec in recorders:
            console.print(f"recorded to {rec.path}")
        save_session(store, pipeline, calibration, emg.profile.id, emg.address or emg.name,
                     session_id, serializer.wall(0.0))
    return 0


def report(console: Console, source: BleSource, result: SessionResult) -> None:
    """What the link did: reconnections, drops, bad packets — never hidden."""
    for name, s in source.stats.items():
        battery = "-" if s.battery is None else f"{s.battery} %"
        console.print(
            f"{name} {s.address}: {s.notifications} notifications, {s.dropped} dropped "
            f"(queue full), {s.connects} connection(s), {s.disconnects} lost, battery {battery}"
        )
    st = result.stats
    if st.bad_packets or st.gaps:
        last = st.last_error or "-"
        console.print(f"{st.bad_packets} malformed packet(s) skipped (last: {last}); "
                      f"{st.gaps} gap(s), {st.lost_s:.2f} s of signal lost")
