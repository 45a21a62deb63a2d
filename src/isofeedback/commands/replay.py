"""``isofeedback replay FILE|FOLDER``: run recordings through the pipeline again.

One file: paced (``--speed``) or as fast as possible, optionally checked against the live
run (``--verify``), published to MQTT like a live session (``--publish``), events written
as JSON Lines (``--events``). A folder: replayed in parallel on all cores (or on a Dask
cluster with ``--dask``) with a progress bar and a CSV table of per-session metrics.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from isofeedback.coach.progress import count_violations
from isofeedback.coach.protocol import ExerciseProtocol, find_protocol
from isofeedback.commands.common import (
    add_broker_arguments,
    add_lsl_arguments,
    broker_settings_from_args,
    counted,
    jobs,
    lsl_options,
    open_lsl,
    patient_id,
    sample_rate,
    speed,
)
from isofeedback.config import (
    CURRENT_VERSION,
    PipelineConfig,
    load_pipeline_config,
    recorded_pipeline_config,
)
from isofeedback.errors import ConfigError
from isofeedback.recording.reader import RecordingReader
from isofeedback.research.batch import (
    BatchJob,
    events_file,
    find_recordings,
    relative_name,
    replay_dask,
    replay_local,
    write_summary,
)
from isofeedback.research.replay import ReplayResult, dump_events, is_foreign, replay_async
from isofeedback.service import OutputSink
from isofeedback.types import EventType

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "replay",
        help="replay a recording (or a folder of them) through the pipeline",
        description="Replay native recordings (.isorec) or foreign data (CSV, EDF/BDF, "
                    "XDF, WFDB .hea, MATLAB .mat, OpenSignals or OpenBCI .txt) "
        "through the same pipeline as a live session. A folder is replayed in parallel and "
        "summarised in a CSV table.",
    )
    p.add_argument("target", metavar="FILE|FOLDER", type=Path)
    p.add_argument("--speed", type=speed, default=None,
                   help="'realtime', a factor like 10, or 'max' (default: max)")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="replay with the [pipeline] settings of this TOML file instead of the "
                   "recorded ones")
    p.add_argument("--verify", action="store_true",
                   help="check the replay reproduces the recorded events and feedback exactly")
    p.add_argument("--events", type=Path, metavar="FILE|DIR",
                   help="write detected events as JSON Lines (a folder for a folder replay)")
    p.add_argument("--publish", action="store_true",
                   help="publish the replay's feedback to MQTT like a live session")
    add_broker_arguments(p)
    add_lsl_arguments(p)
    p.add_argument("--patient", type=patient_id,
                   help="pseudonym for --publish (topic prefix) and --lsl (stream names) "
                   "(default: the recorded one + '-replay', so a replay never replaces the "
                   "patient's own retained status and summary)")
    p.add_argument("--summary", type=Path, metavar="CSV", default=Path("replay-summary.csv"),
                   help="folder replay: where to write the metrics table "
                   "(default: replay-summary.csv)")
    p.add_argument("--jobs", type=jobs, metavar="N", help="folder replay: worker processes "
                   "(default: all cores)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="folder replay on a Dask scheduler (tcp://host:8786), or 'local'")
    p.add_argument("--fs", type=sample_rate,
                   help="sample rate of a CSV file without a time column, or of a MATLAB "
                        "file without a rate variable")
    p.add_argument("--protocol", metavar="pir|met|FILE", default=None,
                   help="foreign data: coach it with this exercise protocol (default: none, "
                   "detection only over the whole file: onsets, releases, movement, quality)")
    p.add_argument("--mains", type=_mains, metavar="auto|50|60|off", default=None,
                   help="foreign data: the mains frequency to notch (default: auto, the "
                   "configured one unless the file hums at the other)")
    p.set_defaults(run=run)


_MAINS = {"auto": None, "off": 0.0, "0": 0.0, "50": 50.0, "60": 60.0}


def _mains(text: str) -> float | None:
    """``--mains``: 50, 60, off (0) or auto (None)."""
    if text.lower() not in _MAINS:
        raise argparse.ArgumentTypeError(f"must be auto, 50, 60 or off, not {text!r}")
    return _MAINS[text.lower()]


def run(args: argparse.Namespace) -> int:
    config = load_pipeline_config(args.config) if args.config else None
    if args.verify and config is not None:
        raise ConfigError("--verify compares with the recorded configuration; drop --config")
    if args.target.is_dir():
        return _folder(args, config)
    return asyncio.run(_one(args, config))


async def _one(args: argparse.Namespace, config: PipelineConfig | None) -> int:
    console = Console()
    path: Path = args.target
    foreign = is_foreign(path)
    if args.verify and foreign:
        raise ConfigError("--verify compares a native recording (.isorec) with its recorded "
                          "outputs; foreign data has none")
    if args.protocol is not None and not foreign:
        raise ConfigError("--protocol applies to foreign data (CSV, EDF, BDF, …); a native "
                          "recording is replayed with its recorded protocol")
    if args.mains is not None and not foreign:
        raise ConfigError("--mains applies to foreign data (CSV, EDF, BDF, …); a native "
                          "recording is replayed with its recorded settings (--config "
                          "changes them)")
    protocol = find_protocol(args.protocol) if args.protocol is not None else None
    options: dict[str, Any] = {"config": config, "speed": args.speed, "verify": args.verify,
                               "fs": args.fs, "protocol": protocol, "mains": args.mains}
    lsl = lsl_options(args)
    async with contextlib.AsyncExitStack() as stack:
        sinks: list[OutputSink] = []
        if args.publish or lsl is not None:
            who = _identity(args, path, protocol)
            if args.publish:
                sinks.append(await stack.enter_async_context(_publisher(args, who, console)))
            sinks += await stack.enter_async_context(open_lsl(
                lsl, console, patient=who.patient, session_id=f"{who.session}-replay",
                protocol=who.protocol, angle=who.angle, wall_start=who.wall_start))
        result = await replay_async(path, sinks=sinks, **options)
    if args.events:
        dump_events(result, args.events)
    _print(console, result)
    if not foreign and config is None:
        console.print(f"  {_detector_line(result, args.verify)}")
    if args.events:
        console.print(f"events written to {escape(str(args.events))}")
    if result.verified is False:
        console.print(f"[red]verify FAILED[/] for {escape(str(path))}: "
                      f"{escape(str(result.difference))}")
        return 1
    return 0


@dataclass(frozen=True)
class _Identity:
    """Who and what a replay is, for the sinks that name it (MQTT topics, LSL streams)."""

    patient: str
    session: str
    protocol: ExerciseProtocol
    angle: bool  # the pipeline will measure a joint angle
    wall_start: float | None  # the recorded session's start (Unix s), if known


def _identity(args: argparse.Namespace, path: Path,
              protocol: ExerciseProtocol | None) -> _Identity:
    from isofeedback.recording.importers import load_foreign
    from isofeedback.sinks.lsl import has_joint_angle

    if is_foreign(path):
        angle = "gyro" in load_foreign(path, args.fs).streams
        return _Identity(args.patient or "replay", path.stem, protocol or find_protocol("pir"),
                         angle, None)
    with RecordingReader(path) as reader:
        start = reader.meta.get("start_wall")
        # under its own pseudonym unless told: published under the patient's, its retained
        # status and summary replaced the patient's own on their phone and dashboard
        return _Identity(args.patient or f"{reader.meta['patient']}-replay", reader.session_id,
                         protocol or reader.protocol(), has_joint_angle(reader.profiles()),
                         float(start) if isinstance(start, int | float) else None)


@contextlib.asynccontextmanager
async def _publisher(args: argparse.Namespace, who: _Identity,
                     console: Console) -> AsyncIterator[OutputSink]:
    from isofeedback.broker import resolve_broker
    from isofeedback.sinks.messages import Serializer
    from isofeedback.sinks.mqtt import MqttPublisher

    settings = broker_settings_from_args(args, os.environ)
    explicit = settings is not None
    async with resolve_broker(settings, explicit, args.listen, patient=who.patient,
                              password_file=args.listen_password_file) as (broker, where):
        serializer = Serializer(who.patient, f"{who.session}-replay", time.time(),
                                source="replay")
        console.print(f"publishing to {where} under {serializer.prefix}/")
        async with MqttPublisher(broker, serializer) as publisher:
            if explicit and not await publisher.wait_connected(5.0):
                raise ConfigError(f"could not connect to {where}")
            yield publisher


def _detector_line(r: ReplayResult, verify: bool) -> str:
    """Which detector version the replay used, and the recording's."""
    made = recorded_pipeline_config(dict(r.meta["config"]), r.path.name).detector_version
    if verify or made == CURRENT_VERSION:
        return f"detector version {made} (the recording's)"
    return (f"detector version {CURRENT_VERSION} (the current one; the recording was made "
            f"with version {made}, which --verify uses)")


def _print(console: Console, r: ReplayResult) -> None:
    m = r.metrics()
    sim = " (simulated patient)" if r.simulated else ""
    of = "" if r.file_s is None else f" of {r.file_s:.1f} s"
    console.print(f"{escape(r.path.name)}: session {escape(r.session)}{sim}, "
                  f"{m['duration_s']:.1f} s{of} of "
                  f"data replayed in {m['wall_s']:.2f} s")
    if r.stopped:
        console.print(f"  [yellow]stopped early: {escape(r.stopped)}[/]")
    if not any(e.type == EventType.CALIBRATED for e in r.events):
        console.print("  [yellow]the data ended before the rest level was measured (the "
                      "first seconds must be rest): nothing could be detected[/]")
    origin = r.meta.get("time_origin_s")
    if origin is not None:
        console.print(f"  times are seconds from the first row (the file's time column "
                      f"starts at {float(origin):g} s)")
    if r.meta.get("rate_from"):
        console.print(f"  {escape(str(r.meta['rate_from']))}")
    for note in ("discontinuous", "empty_channels", "time_unit", "time_jitter", "mains",
                 "rectified"):
        if r.meta.get(note):
            console.print(f"  [yellow]{escape(str(r.meta[note]))}[/]")
    for note in (r.stats.mains_note, r.stats.band_note):
        if note:
            console.print(f"  [yellow]{escape(note)}[/]")
    if r.meta.get("not_emg"):
        console.print(f"  not EMG: {escape(', '.join(map(str, r.meta['not_emg'])))} (left out; "
                      "labels and triggers become annotations)")
    retracted = (f" ({counted(m['retracted'], 'brief activation')} retracted)"
                 if m["retracted"] else "")
    detected = (f"  {counted(m['onsets'], 'onset')}, {counted(m['releases'], 'release')}"
                f"{retracted}, {counted(m['movements'], 'movement')}")
    if r.protocol is None:
        console.print(f"{detected}; detection only (no coach: --protocol pir|met|FILE "
                      "coaches foreign data)")
    else:
        hold = f", mean hold {m['mean_hold_s']} s" if m["reps_done"] else ""
        console.print(f"{detected}; reps {m['reps_done']}/{m['reps_planned']}{hold}; "
                      f"violations: "
                      f"{count_violations(r.summary.get('violations', [])) or 'none'}")
    if r.stats.packets:
        console.print(f"  {r.stats.packets} packets ({r.stats.bad_packets} bad), "
                      f"{r.stats.gaps} gaps in the EMG ({r.stats.lost_s:.2f} s lost)")
    elif r.stats.gaps:  # foreign data: a counter or the time skips, cells left empty
        console.print(f"  {r.stats.gaps} gap{'s' if r.stats.gaps > 1 else ''} in the EMG "
                      f"({r.stats.lost_s:.3f} s of samples missing from the file: each later "
                      "sample kept at its time)")
    if not r.complete:
        console.print("  [yellow]the recording was not closed normally (session killed?); "
                      "its last second may be missing[/]")
    if r.damage:
        console.print(f"  [yellow]damaged: {escape(r.damage)}[/]")
    if r.verified and not r.checked:
        console.print("  [yellow]verify: no recorded outputs left to compare[/]")
    elif r.verified:
        console.print(f"  [green]verify OK[/]: all {r.checked} recorded outputs reproduced "
                      "exactly")


def _folder(args: argparse.Namespace, config: PipelineConfig | None) -> int:
    # the progress bar only here: rich.progress is most of rich's import time
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console()
    paths = find_recordings(args.target)
    if not paths:
        raise ConfigError(f"{args.target}: no recordings (.isorec, .csv, .edf, .bdf) found")
    if args.publish or args.lsl or args.speed is not None:
        raise ConfigError("--publish, --lsl and --speed apply to one recording, not a folder")
    if args.events:
        seen: dict[Path, Path] = {}
        for p in paths:  # rec.csv and rec.edf: one would overwrite the other's events
            out = events_file(str(args.events), relative_name(p, str(args.target)))
            if out in seen:
                raise ConfigError(f"--events: {seen[out]} and {p} would both write {out}; "
                                  "replay them into different folders")
            seen[out] = p
        args.events.mkdir(parents=True, exist_ok=True)
    if args.protocol is not None:
        find_protocol(args.protocol)  # a bad name or file fails here, once, not per file
    job = BatchJob(config=None if config is None else config.as_dict(), verify=args.verify,
                   events_dir=str(args.events) if args.events else None, fs=args.fs,
                   protocol=args.protocol, root=str(args.target), mains=args.mains)
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("replaying", total=len(paths))

        def step(row: dict[str, Any]) -> None:
            bar.update(task, advance=1, description=f"replaying ({escape(row['file'])})")

        if args.dask:
            rows = _on_dask(args.dask, paths, job, step)
        else:
            rows = replay_local(paths, job, args.jobs, step)
    write_summary(rows, args.summary)
    failed = [r for r in rows if r["error"]]
    total = sum(float(r["duration_s"] or 0) for r in rows)
    console.print(f"{len(rows)} recordings, {total:.0f} s of data; summary in "
                  f"{escape(str(args.summary))}")
    for r in failed:
        console.print(f"[red]{escape(r['file'])}[/]: {escape(r['error'])}")
    return 1 if failed else 0


def _on_dask(address: str, paths: list[Path], job: BatchJob, step: Any) -> list[dict[str, Any]]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("Dask is not installed: pip install 'isofeedback[cluster]'") from None
    if address == "local":
        cluster = LocalCluster(processes=True, threads_per_worker=1)  # type: ignore[no-untyped-call]
        with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
            return replay_dask(paths, job, client, step)
    try:
        client = Client(address, timeout="10s")  # type: ignore[no-untyped-call]
    except OSError as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    with client:
        return replay_dask(paths, job, client, step)
