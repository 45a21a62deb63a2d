"""Replaying one recording (native or foreign) through the real pipeline, and checking it.

:func:`replay` is the per-recording function that everything builds on: the ``replay``
command, the process pool for folders and the Dask cluster for corpora. A native recording
goes through :class:`ReplaySource` and :func:`service.run_session` exactly like a live
session; foreign data (CSV, EDF/BDF) has no packets and feeds the pipeline chunks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isofeedback.coach.protocol import ExerciseProtocol, find_protocol
from isofeedback.config import PipelineConfig
from isofeedback.errors import ConfigError, RecordingError
from isofeedback.files import open_private
from isofeedback.pipeline import Output, Pipeline, PipelineStats
from isofeedback.recording.format import encode_output
from isofeedback.recording.importers import FOREIGN_SUFFIXES, load_foreign
from isofeedback.recording.reader import RecordingReader
from isofeedback.recording.signals import FOREIGN_DEVICE, signal_chunks, signal_profile
from isofeedback.service import ControlInbox, OutputSink, run_session
from isofeedback.sources.pacing import paced
from isofeedback.sources.replay import ReplaySource
from isofeedback.types import Event, Feedback

__all__ = [
    "Difference",
    "ReplayResult",
    "compare_outputs",
    "dump_events",
    "events_jsonl",
    "is_foreign",
    "replay",
    "replay_async",
]


@dataclass(frozen=True, slots=True)
class Difference:
    """The first place where a replay differs from the recorded live run."""

    index: int
    recorded: str | None
    replayed: str | None

    def __str__(self) -> str:
        def cut(doc: str | None) -> str:
            return "(nothing)" if doc is None else (doc if len(doc) < 300 else doc[:297] + "...")

        return (f"output #{self.index} differs:\n  recorded: {cut(self.recorded)}\n"
                f"  replayed: {cut(self.replayed)}")


@dataclass
class ReplayResult:
    path: Path
    session: str
    kind: str  # "native", "csv", "edf", "bdf"
    outputs: list[Output]
    summary: dict[str, Any]
    stats: PipelineStats
    wall_s: float
    session_s: float
    simulated: bool = False
    complete: bool = True
    damage: str | None = None
    checked: int | None = None  # outputs compared by verify
    difference: Difference | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def events(self) -> list[Event]:
        return [o for o in self.outputs if isinstance(o, Event)]

    @property
    def verified(self) -> bool | None:
        return None if self.checked is None else self.difference is None

    def metrics(self) -> dict[str, Any]:
        """One flat row for the summary table."""
        counts: dict[str, int] = {}
        for ev in self.events:
            counts[ev.type.value] = counts.get(ev.type.value, 0) + 1
        s = self.summary
        return {
            "file": self.path.name, "session": self.session, "kind": self.kind,
            "simulated": self.simulated, "duration_s": round(self.session_s, 3),
            "wall_s": round(self.wall_s, 3),
            "speed_x": round(self.session_s / self.wall_s, 1) if self.wall_s > 0 else "",
            "packets": self.stats.packets, "bad_packets": self.stats.bad_packets,
            "gaps": self.stats.gaps, "lost_s": round(self.stats.lost_s, 3),
            "onsets": counts.get("onset", 0), "releases": counts.get("release", 0),
            "movements": counts.get("movement", 0), "reps_done": s.get("reps_done", 0),
            "reps_planned": s.get("reps_planned", 0), "mean_hold_s": s.get("mean_hold_s", 0.0),
            "violations": ";".join(s.get("violations", [])),
            "complete": self.complete, "damage": self.damage or "",
            "verified": "" if self.verified is None else self.verified,
            "error": "",
        }


def is_foreign(path: Path) -> bool:
    return path.suffix.lower() in FOREIGN_SUFFIXES


def events_jsonl(outputs: Sequence[Output]) -> bytes:
    """Detected events as JSON Lines: exact floats, sorted keys, so runs compare bytewise."""
    lines = [encode_output(o)[2] for o in outputs if isinstance(o, Event)]
    return "".join(line + "\n" for line in lines).encode()


def compare_outputs(recorded: Sequence[tuple[str, str]], replayed: Sequence[Output],
                    complete: bool, automatic_stop_at: int | None = None,
                    ) -> tuple[int, Difference | None]:
    """Compare the recorded outputs with a replay's, exactly. A recording that was not
    closed normally (killed) or is damaged lacks a tail of packets or outputs, so only the
    part both have is compared, without what the replay's own stop at the end of the data
    added (``automatic_stop_at``: where those outputs begin)."""
    docs = [encode_output(o)[2] for o in replayed]
    if complete:
        n = max(len(recorded), len(docs))
    else:
        if automatic_stop_at is not None:
            docs = docs[:automatic_stop_at]
        n = min(len(recorded), len(docs))
    for i in range(n):
        rec = recorded[i][1] if i < len(recorded) else None
        rep = docs[i] if i < len(docs) else None
        if rec != rep:
            return i, Difference(i, rec, rep)
    return n, None


async def replay_async(
    path: Path,
    *,
    config: PipelineConfig | None = None,
    speed: float | None = None,
    sinks: Sequence[OutputSink] = (),
    verify: bool = False,
    fs: float | None = None,
    protocol: ExerciseProtocol | None = None,
    chunk_s: float = 0.05,
    batch: int = 4096,
) -> ReplayResult:
    """Replay ``path``; ``config`` None = the recorded configuration (native) or defaults.
    ``chunk_s`` (foreign data) and ``batch`` (rows read at a time) do not change results."""
    path = Path(path)
    if is_foreign(path):
        return await _replay_foreign(path, config, sinks, fs, protocol, chunk_s, speed)
    with RecordingReader(path, batch) as reader:
        source = ReplaySource(reader, speed)
        pipeline = Pipeline(source.profiles, protocol or reader.protocol(),
                            config or reader.config())
        session = await run_session(source, pipeline, sinks,
                                    controls=ControlInbox(reader.controls()))
        result = ReplayResult(
            path, reader.session_id, "native", session.outputs, session.summary,
            session.stats, session.wall_s, session.session_s, reader.simulated,
            reader.complete, reader.damage, meta=dict(reader.meta),
        )
        if verify:
            if config is not None and config != reader.config():
                raise ConfigError("--verify compares with the recorded configuration; "
                                  "drop --config")
            recorded = list(reader.output_docs())
            result.checked, result.difference = compare_outputs(
                recorded, session.outputs, reader.complete and reader.damage is None,
                session.automatic_stop_at)
            if reader.damage:
                result.damage = reader.damage
    return result


async def _replay_foreign(path: Path, config: PipelineConfig | None,
                          sinks: Sequence[OutputSink], fs: float | None,
                          protocol: ExerciseProtocol | None, chunk_s: float,
                          speed: float | None = None) -> ReplayResult:
    started = time.perf_counter()
    signals = load_foreign(path, fs)
    proto = protocol or find_protocol("pir")
    pipeline = Pipeline({FOREIGN_DEVICE: signal_profile(signals, path.name)}, proto, config)
    outputs: list[Output] = []
    last_t = 0.0
    async for chunk in paced(signal_chunks(signals, chunk_s), speed):
        for item in pipeline.process_chunk(chunk):
            outputs.append(item)
            for sink in sinks:
                sink.submit(item)
        last_t = chunk.t_end
        if pipeline.coach.phase == "done":
            break
    if pipeline.coach.phase != "done":
        summary = Feedback("summary", last_t, pipeline.coach.summary())
        outputs.append(summary)
        for sink in sinks:
            sink.submit(summary)
    return ReplayResult(path, path.stem, path.suffix.lower().lstrip("."), outputs,
                        pipeline.coach.summary(), pipeline.stats,
                        time.perf_counter() - started, last_t, meta=dict(signals.meta))


def replay(path: Path | str, **options: Any) -> ReplayResult:
    """Synchronous :func:`replay_async` (as fast as possible unless ``speed`` is given)."""
    return asyncio.run(replay_async(Path(path), **options))


def dump_events(result: ReplayResult, out: Path) -> None:
    try:
        with open_private(out, "wb") as f:
            f.write(events_jsonl(result.outputs))
    except OSError as exc:
        raise RecordingError(f"{out}: cannot write events: {exc}") from None

