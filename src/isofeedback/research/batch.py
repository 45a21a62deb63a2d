"""Batch replay: many recordings with one per-recording function, locally or on Dask.

:func:`run_one` is the unit of work: it takes a path and a picklable :class:`BatchJob`,
replays, optionally verifies and writes the events, and returns one flat metrics row. A
failure becomes a row with an ``error`` column, so one bad file never stops a corpus. The
same function runs in a local process pool (:func:`replay_local`) or on an existing Dask
cluster (:func:`replay_dask`, optional extra ``cluster``).
"""

from __future__ import annotations

import csv
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isofeedback.coach.protocol import find_protocol
from isofeedback.config import PipelineConfig
from isofeedback.errors import ConfigError, IsofeedbackError, RecordingError
from isofeedback.files import open_private
from isofeedback.recording.format import SUFFIX
from isofeedback.recording.importers import FOREIGN_SUFFIXES, is_signal_text, is_table_text
from isofeedback.research.metrics import COLUMNS, error_row
from isofeedback.research.replay import dump_events, is_foreign, replay

__all__ = ["BatchJob", "events_file", "find_recordings", "relative_name", "replay_dask",
           "replay_local", "run_one", "write_summary"]

@dataclass(frozen=True, slots=True)
class BatchJob:
    """What to do with each recording (plain values, so it pickles to any worker)."""

    config: dict[str, Any] | None = None  # PipelineConfig.as_dict(); None = recorded one
    verify: bool = False
    events_dir: str | None = None
    fs: float | None = None
    protocol: str | None = None  # foreign data: coach with it (name or file); None: detect
    root: str | None = None  # the folder replayed: files are named by their path in it
    mains: float | None = None  # foreign data: notch this mains (None: configured or hum)


def find_recordings(folder: Path) -> list[Path]:
    """Native recordings and foreign data files in ``folder`` (recursively), sorted."""
    if not folder.is_dir():
        raise RecordingError(f"{folder}: not a folder")
    found = [p for p in folder.rglob("*") if p.is_file() and (
        p.suffix == SUFFIX
        or (p.suffix.lower() in FOREIGN_SUFFIXES and not p.name.endswith(".events.csv")
            and (p.suffix.lower() != ".txt" or is_signal_text(p) or is_table_text(p))))]
    return sorted(found)


def relative_name(path: Path, root: str | None) -> Path:
    """A file's name in the summary and the events folder: its path in the folder replayed
    (``subj1/trial1.csv``), so that datasets with one sub-folder per subject and the same
    file names in each keep them apart; the bare name without a folder.

    >>> relative_name(Path("/d/subj1/trial1.csv"), "/d").as_posix()
    'subj1/trial1.csv'
    """
    if root is not None:
        try:
            return path.relative_to(root)
        except ValueError:
            pass
    return Path(path.name)


def events_file(events_dir: str, name: Path) -> Path:
    """Where ``--events DIR`` puts a file's events: the same sub-folder, its stem."""
    return Path(events_dir) / name.parent / f"{name.stem}.events.jsonl"


def run_one(path: str, job: BatchJob) -> dict[str, Any]:
    """Replay one recording and return its metrics row (errors become a row too)."""
    p = Path(path)
    name = relative_name(p, job.root)
    try:
        config = None if job.config is None else PipelineConfig.from_dict(job.config)
        protocol = None
        if job.protocol is not None and is_foreign(p):
            protocol = find_protocol(job.protocol)
        result = replay(p, config=config, verify=job.verify, fs=job.fs, protocol=protocol,
                        mains=job.mains)
        if job.events_dir is not None:
            out = events_file(job.events_dir, name)
            out.parent.mkdir(parents=True, exist_ok=True)
            dump_events(result, out)
        row = {**result.metrics(), "file": name.as_posix()}
        if result.difference is not None:
            row["error"] = str(result.difference).splitlines()[0]
        return row
    except IsofeedbackError as exc:
        return error_row(name.as_posix(), str(exc))
    except Exception as exc:  # a bug on one file must not lose the rest of a corpus
        return error_row(name.as_posix(), f"unexpected {type(exc).__name__}: {exc}")


def replay_local(
    paths: Sequence[Path], job: BatchJob, workers: int | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Replay in a process pool (all cores by default); rows come back in ``paths`` order."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(paths) or 1))
    rows: dict[int, dict[str, Any]] = {}
    if workers == 1:
        for i, p in enumerate(paths):
            rows[i] = run_one(str(p), job)
            if progress:
                progress(rows[i])
    else:
        ctx = multiprocessing.get_context("forkserver")
        # the fork server imports the replay code once and forks every worker from it:
        # without this each worker imported numpy, scipy and the pipeline itself (~0.4 s
        # each, on 2 cores ~1.2 s before the first row: slower than one worker on a
        # folder of 16 recordings). No effect if a fork server is already running.
        ctx.set_forkserver_preload([__name__])
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = {pool.submit(run_one, str(p), job): i for i, p in enumerate(paths)}
            for fut in as_completed(futures):
                rows[futures[fut]] = fut.result()
                if progress:
                    progress(rows[futures[fut]])
    return [rows[i] for i in range(len(paths))]


def replay_dask(paths: Sequence[Path], job: BatchJob, client: Any,
                progress: Callable[[dict[str, Any]], None] | None = None
                ) -> list[dict[str, Any]]:
    """Replay on a Dask cluster through ``client`` (``dask.distributed.Client``). The files
    must be readable at the same paths on the workers (a shared file system)."""
    try:
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise ConfigError("Dask is not installed: pip install 'isofeedback[cluster]'") from None
    futures = client.map(run_one, [str(p) for p in paths], job=job, pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    rows: dict[int, dict[str, Any]] = {}
    for fut in dask_completed(futures):  # type: ignore[no-untyped-call]
        rows[index[fut.key]] = fut.result()
        if progress:
            progress(rows[index[fut.key]])
    return [rows[i] for i in range(len(paths))]


def write_summary(rows: Sequence[dict[str, Any]], path: Path) -> None:
    try:
        with open_private(path, newline="") as f:
            w = csv.DictWriter(f, COLUMNS, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    except OSError as exc:
        raise RecordingError(f"{path}: cannot write the summary table: {exc}") from None
