"""Replaying one recording (native or foreign) through the real pipeline, and checking it.

:func:`replay` is the per-recording function that everything builds on: the ``replay``
command, the process pool for folders and the Dask cluster for corpora. A native recording
goes through :class:`ReplaySource` and :func:`service.run_session` exactly like a live
session; foreign data (CSV, EDF/BDF, XDF, WFDB, OpenSignals text) has no packets and
feeds the pipeline chunks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from isofeedback.coach.protocol import ExerciseProtocol
from isofeedback.config import PipelineConfig, with_current_detector
from isofeedback.control import Control
from isofeedback.detectors.retraction import OnsetNames
from isofeedback.dsp.mains_hum import measure_hum
from isofeedback.dsp.raw_emg import looks_rectified
from isofeedback.errors import ConfigError, RecordingError
from isofeedback.files import open_private
from isofeedback.pipeline import Output, Pipeline, PipelineStats, session_config
from isofeedback.recording.format import encode_output
from isofeedback.recording.importers import FOREIGN_SUFFIXES, load_foreign
from isofeedback.recording.reader import RecordingReader
from isofeedback.recording.signals import (
    FOREIGN_DEVICE,
    SignalSet,
    Stream,
    signal_chunks,
    signal_profile,
)
from isofeedback.service import ControlInbox, OutputSink, SessionResult, run_session
from isofeedback.sources.pacing import paced
from isofeedback.sources.replay import ReplaySource
from isofeedback.types import Event, Feedback, FloatArray, PacketColumns

__all__ = [
    "BATCH",
    "LARGE_CHUNK_S",
    "Difference",
    "ReplayResult",
    "compare_outputs",
    "dump_events",
    "events_jsonl",
    "is_foreign",
    "replay",
    "replay_async",
]


# foreign data, detection only: seconds per chunk. Larger chunks pay numpy's per-call
# costs less often; much larger ones make arrays that no longer fit the CPU's caches
# (docs/recordings.md, "Replay speed")
LARGE_CHUNK_S = 8.0
# native data at full speed: packets per feed_many window (and per read from the file),
# chosen the same way: ~1 400 EMG packets, ~0.9 MB per array at 8 ch x 2 kHz
BATCH = 2048
STOP_TOLERANCE_S = 0.05  # a replay this close to the end of the data processed all of it


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
    file_s: float | None = None  # seconds of data in the file (None: unknown)
    stopped: str | None = None  # why the replay ended before the data did, with both times
    protocol: str | None = "recorded"  # the technique coached; None: detection only

    @property
    def events(self) -> list[Event]:
        return [o for o in self.outputs if isinstance(o, Event)]

    @property
    def verified(self) -> bool | None:
        return None if self.checked is None else self.difference is None

    def metrics(self) -> dict[str, Any]:
        """One flat row for the summary table (:func:`isofeedback.research.metrics.row`)."""
        from isofeedback.research.metrics import row

        return row(self)


def is_foreign(path: Path) -> bool:
    return path.suffix.lower() in FOREIGN_SUFFIXES


def events_jsonl(outputs: Sequence[Output]) -> bytes:
    """Detected events as JSON Lines: exact floats, sorted keys, so runs compare bytewise.
    Each line has its number (``seq``, from 1) and a ``retracted`` or ``onset_refined``
    line the number of the onset it is about (``retracts``, ``refines``), as the MQTT
    events do: a client that wants confirmed contractions drops those by number."""
    names = OnsetNames()
    lines: list[str] = []
    for o in outputs:
        if not isinstance(o, Event):
            continue
        doc = json.loads(encode_output(o)[2])
        doc["seq"] = len(lines) + 1
        named = names.named(o, doc["seq"])
        if named is not None:
            doc[named[0]] = named[1]
        lines.append(json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=True))
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
    chunk_s: float | None = None,
    batch: int = BATCH,
    fast: bool = True,
    mains: float | None = None,
) -> ReplayResult:
    """Replay ``path``; ``config`` None = the recorded session settings with the current
    detector version (native; with ``verify`` the recorded version) or defaults.
    Foreign data: ``protocol`` None = detection only over the whole file; ``chunk_s`` (None:
    chosen for speed) and ``batch`` (rows read at a time) do not change detected events.
    ``fast`` (native data at full speed): windows of ``batch`` packets through
    :meth:`Pipeline.feed_many` instead of one by one through the session loop; the outputs
    are the same (``--verify`` checks them against the live run either way).
    ``mains`` (foreign data): the mains frequency to notch (50, 60, 0 off); None: the
    configured one, unless the file hums at the other (:func:`foreign_mains`)."""
    path = Path(path)
    if is_foreign(path):
        return await _replay_foreign(path, config, sinks, fs, protocol, chunk_s, speed,
                                     mains)
    with RecordingReader(path, batch) as reader:
        source = ReplaySource(reader, speed)
        made = reader.config()
        pipeline = Pipeline(source.profiles, protocol or reader.protocol(),
                            config or (made if verify else with_current_detector(made)))
        if speed is None and fast:
            session = _run_fast(reader, pipeline, sinks, batch)
        else:
            session = await run_session(source, pipeline, sinks,
                                        controls=ControlInbox(reader.controls()))
        file_s = reader.duration_s()
        result = ReplayResult(
            path, reader.session_id, "native", session.outputs, session.summary,
            session.stats, session.wall_s, session.session_s, reader.simulated,
            reader.complete, reader.damage, meta=dict(reader.meta), file_s=file_s,
            stopped=_stopped(session.stopped_by, session.session_s, file_s),
            protocol=pipeline.protocol.technique if pipeline.protocol else None,
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


def _run_fast(reader: RecordingReader, pipeline: Pipeline, sinks: Sequence[OutputSink],
              batch: int) -> SessionResult:
    """:func:`service.run_session` for a recording at full speed: the same outputs in the
    same order, the same recorded control commands after the same packet counts, the same
    end (the coach finishing, a ``stop``, or the data's end, which stops the coach the same
    way), fed to :meth:`Pipeline.feed_many` in windows that end where a command is due."""
    result = SessionResult()
    started = time.perf_counter()
    controls = sorted(reader.controls(), key=lambda c: c[0])
    last_t = 0.0
    fed = 0

    def emit(outputs: Sequence[Output]) -> None:
        result.outputs.extend(outputs)
        for item in outputs:
            for sink in sinks:
                sink.submit(item)

    def apply(control: Control) -> None:
        emit(pipeline.control_at(control, last_t))
        if control.command == "stop" and not result.stopped_by:
            result.stopped_by = control.origin or "stop"

    def apply_due() -> None:
        while controls and controls[0][0] <= fed:
            control = controls.pop(0)[1]
            if pipeline.coach.finished:
                break
            apply(control)

    apply_due()
    packets = _Windows(reader.packet_windows())
    while not pipeline.coach.finished:
        size = max(batch, 1) if not controls else max(1, min(batch, controls[0][0] - fed))
        window = packets.take(size)
        if not window:
            apply_due()
            break
        outputs, used = pipeline.feed_many(window, until_finished=True)
        emit(outputs)
        fed += used
        last_t = window.times[used - 1]
        apply_due()
    if pipeline.coach.finished and not result.stopped_by:
        result.stopped_by = "protocol"
    if not pipeline.coach.finished:
        result.automatic_stop_at = len(result.outputs)
        apply(Control("stop", t=last_t, origin="end of data"))
    result.summary = pipeline.coach.summary()
    result.stats = pipeline.stats
    result.wall_s = time.perf_counter() - started
    result.session_s = last_t
    result.packets_fed = fed
    return result


class _Windows:
    """Windows of any size cut from a reader's windows (:meth:`RecordingReader.
    packet_windows`, as columns). The reader is asked for more only when the packets in
    hand do not suffice, so a damaged row is judged when the replay reaches it, as when
    packets are taken one by one."""

    def __init__(self, windows: Iterator[PacketColumns]) -> None:
        self._windows = windows
        self._left: PacketColumns | None = None  # the rest of the last window read

    def take(self, n: int) -> PacketColumns | None:
        """The next ``n`` packets (fewer at the end of the data; None after it)."""
        parts: list[PacketColumns] = []
        have = 0
        while have < n:
            window = self._left if self._left is not None else next(self._windows, None)
            self._left = None
            if window is None:
                break
            if have + len(window) > n:
                window, self._left = window[: n - have], window[n - have :]
            parts.append(window)
            have += len(window)
        return PacketColumns.joined(parts) if parts else None


def foreign_mains(signals: SignalSet, config: PipelineConfig, mains: float | None,
                  ) -> tuple[PipelineConfig, str | None]:
    """``config`` with the mains frequency to notch in foreign data, and a word when the
    file hums at another one. ``mains`` given: that one. Else the configured one, unless
    the file's EMG hums at the other mains frequency and not at it (data recorded in the
    Americas read with the European default): its hum would hide the contractions."""
    emg = signals.streams["emg"]
    hum = measure_hum(emg.data, emg.fs)
    chosen = config.chain.mains_hz if mains is None else mains
    if mains is not None:  # asked for: the chain must not choose another itself
        config = config.updated({"chain.mains_hz": chosen, "chain.mains_auto": False})
    if hum.hz is None or hum.hz == chosen:
        return config, None
    rise = f"a {hum.hz:g} Hz mains hum ({hum.ratios[hum.hz]:.0f}x the spectrum beside it)"
    if mains is not None or chosen == 0.0:  # asked for, or notches off on purpose
        kept = "notches off" if chosen == 0.0 else f"notched at {chosen:g} Hz"
        how = "as asked" if mains is not None else "as configured"
        return config, (f"{rise} left in ({kept} {how}): it may hide contractions "
                        f"(--mains {hum.hz:g} notches it)")
    return (config.updated({"chain.mains_hz": hum.hz}),
            f"{rise}: notched at {hum.hz:g} Hz instead of {chosen:g} (--mains {chosen:g} "
            "keeps it)")


def _held_samples(stream: Stream) -> FloatArray:
    """The stream's rows that hold samples (its gaps are zero-filled rows)."""
    if not stream.gaps:
        return stream.data
    held = np.ones(stream.n, dtype=bool)
    for first, count in stream.gaps:
        held[first:first + count] = False
    return stream.data[held]


async def _replay_foreign(path: Path, config: PipelineConfig | None,
                          sinks: Sequence[OutputSink], fs: float | None,
                          protocol: ExerciseProtocol | None, chunk_s: float | None,
                          speed: float | None = None, mains: float | None = None,
                          ) -> ReplayResult:
    """Foreign data through the pipeline. Without ``protocol`` (the default) detection only,
    over the whole file; with one, the coach runs it and the replay ends where the coach
    finishes, as a live session would, and the result says so (``stopped``)."""
    started = time.perf_counter()
    signals = load_foreign(path, fs)
    config, hum = foreign_mains(signals, session_config(config, protocol), mains)
    if hum is not None:
        signals.meta["mains"] = hum
    if looks_rectified(_held_samples(signals.streams["emg"]), signals.streams["emg"].fs):
        signals.meta["rectified"] = (
            "the EMG has no negative values and sits on zero: rectified or an envelope "
            "(RMS), not raw EMG; the detector expects raw EMG (onsets late, many brief "
            "activations): replay the raw export if there is one")
    pipeline = Pipeline({FOREIGN_DEVICE: signal_profile(signals, path.name)}, protocol, config,
                        chunk_invariant=True)
    if chunk_s is None:
        # detection results do not depend on the chunk size (tested byte for byte), so
        # detection only goes in large chunks; a coach ticks once a chunk, so it gets the
        # live packet rate, and paced output stays smooth
        chunk_s = LARGE_CHUNK_S if protocol is None and speed is None else 0.05
    outputs: list[Output] = []
    block: list[Output] = []  # the outputs of one block of time (every stream's chunk)

    def emit() -> None:
        # in order of decision time (stable: for equal times, the streams' order), so the
        # same whatever the chunk size: an EMG chunk of 2 s is read before the joint chunk
        # of the same 2 s, whose events may come first
        block.sort(key=_decided_at)
        for item in block:
            outputs.append(item)
            for sink in sinks:
                sink.submit(item)
        block.clear()

    first_stream = next(iter(signals.streams), "")
    last_t = 0.0
    async for chunk in paced(signal_chunks(signals, chunk_s), speed):
        if chunk.stream == first_stream:
            emit()
        block += pipeline.process_chunk(chunk)
        last_t = max(last_t, chunk.t_end)
        if pipeline.coach.finished:
            break
    emit()
    if not pipeline.coach.finished:
        summary = Feedback("summary", last_t, pipeline.coach.summary())
        outputs.append(summary)
        for sink in sinks:
            sink.submit(summary)
    file_s = signals.duration_s
    return ReplayResult(path, path.stem, path.suffix.lower().lstrip("."), outputs,
                        pipeline.coach.summary(), pipeline.stats,
                        time.perf_counter() - started, last_t, meta=dict(signals.meta),
                        file_s=file_s, damage=signals.meta.get("damage"),
                        stopped=_stopped("protocol" if pipeline.coach.finished else "",
                                         last_t, file_s),
                        protocol=None if protocol is None else protocol.technique)


def _decided_at(item: Output) -> float:
    return item.t_decided if isinstance(item, Event) else item.t


def _stopped(stopped_by: str, done_s: float, file_s: float | None) -> str | None:
    """Why a replay ended before the data did (None: it processed everything, or the
    file's length is unknown); ``stopped_by`` as in :class:`SessionResult` ("protocol",
    a command's origin, …)."""
    if file_s is None or file_s - done_s <= STOP_TOLERANCE_S:
        return None
    why = {"protocol": "the coach finished the protocol", "": "the data stream ended",
           "end of data": "the data stream ended"}.get(stopped_by,
                                                       f"a stop command ({stopped_by})")
    return f"{why} after {done_s:.1f} s of the {file_s:.1f} s in the file"


def replay(path: Path | str, **options: Any) -> ReplayResult:
    """Synchronous :func:`replay_async` (as fast as possible unless ``speed`` is given)."""
    done: list[ReplayResult] = []

    async def run() -> None:
        # the result is handed over beside the task, not as its result: at its end
        # asyncio.run restores the SIGINT handler, whose repr() (which the signal module
        # computes) includes the task's result, all the replay's outputs (~3 % of a replay)
        done.append(await replay_async(Path(path), **options))

    asyncio.run(run())
    return done[0]


def dump_events(result: ReplayResult, out: Path) -> None:
    try:
        with open_private(out, "wb") as f:
            f.write(events_jsonl(result.outputs))
    except OSError as exc:
        raise RecordingError(f"{out}: cannot write events: {exc}") from None

