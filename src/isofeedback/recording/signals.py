"""Uniformly sampled signals in memory: what export writes and what import reads.

A :class:`SignalSet` is the common ground between native recordings (decoded packets),
foreign files (CSV, EDF/BDF) and the pipeline: streams named like the pipeline's (``emg``,
``gyro``, ``accel``, ``quat``) with a sample rate each, all starting at session time 0, plus
annotations. Foreign data has no packets, so :func:`signal_chunks` feeds the pipeline chunks
directly on a synthetic clock (sample index / fs), and :func:`signal_profile` builds the
in-memory firmware profile the pipeline needs for stream specs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from isofeedback.errors import RecordingError
from isofeedback.profiles.decoder import Decoder
from isofeedback.profiles.schema import Profile, parse_profile
from isofeedback.types import Chunk, Event, Feedback, FloatArray, Packet

__all__ = [
    "FOREIGN_DEVICE",
    "STREAM_ORDER",
    "Annotation",
    "SignalSet",
    "Stream",
    "annotations_from_outputs",
    "around_gaps",
    "decode_packets",
    "missing_as_gaps",
    "signal_chunks",
    "signal_profile",
]

STREAM_ORDER = ("emg", "gyro", "accel", "quat")
FOREIGN_DEVICE = "file"


@dataclass(frozen=True, slots=True, eq=False)
class Stream:
    name: str
    fs: float
    channels: tuple[str, ...]
    data: FloatArray  # (n, channels), physical units
    unit: str = "a.u."
    #: rows that hold no sample (``(first row, rows)``, in order): samples the device lost
    #: on the radio, zero-filled so that every later row keeps its time; the pipeline is
    #: told of them as of a native recording's lost packets and never sees the zeros
    gaps: tuple[tuple[int, int], ...] = ()

    @property
    def n(self) -> int:
        return int(self.data.shape[0])


@dataclass(frozen=True, slots=True)
class Annotation:
    onset: float  # seconds from the start of the data
    duration: float
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class SignalSet:
    streams: dict[str, Stream]
    annotations: tuple[Annotation, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return max((s.n / s.fs for s in self.streams.values()), default=0.0)


def missing_as_gaps(stream: Stream) -> tuple[Stream, int, tuple[str, ...]]:
    """``stream`` with every row that lacks a value (NaN or infinite in a channel: an
    empty cell, ``NaN`` written for a lost sample) made a gap, how many rows that was, and
    the channels left out because they lack more than half their samples.

    A file that leaves a sample empty says the sample is missing, as a device's lost
    packet does: the row becomes a gap (zero-filled, the pipeline told of it and never fed
    it, every later sample kept at its time). A nan fed to the filters would make every
    later output nan, and dropping the row would move everything after it earlier. A
    channel empty for most of the file (an electrode not recorded, a column the export
    leaves blank) is left out instead: its gaps would take the other channels' samples.

    >>> s = Stream("emg", 10.0, ("a",), np.array([[1.0], [np.nan], [np.nan], [4.0], [5.0]]),
    ...            gaps=((4, 1),))
    >>> out, rows, dropped = missing_as_gaps(s)
    >>> out.data[:, 0].tolist(), out.gaps, rows, dropped
    ([1.0, 0.0, 0.0, 4.0, 0.0], ((1, 2), (4, 1)), 2, ())
    >>> two = Stream("emg", 10.0, ("a", "b"), np.array([[1.0, np.nan]] * 3 + [[2.0, 1.0]]))
    >>> out, rows, dropped = missing_as_gaps(two)
    >>> out.channels, out.data[:, 0].tolist(), rows, dropped
    (('a',), [1.0, 1.0, 1.0, 2.0], 0, ('b',))
    """
    if np.isfinite(np.add.reduce(stream.data, axis=None)):
        return stream, 0, ()  # every value finite (a NaN or an infinity makes the sum one)
    missing = ~np.isfinite(stream.data)
    empty = missing.mean(axis=0) > EMPTY_CHANNEL_SHARE
    dropped: tuple[str, ...] = ()
    if empty.any() and not empty.all():
        dropped = tuple(c for c, e in zip(stream.channels, empty, strict=True) if e)
        keep = ~empty
        stream = Stream(stream.name, stream.fs,
                        tuple(c for c, k in zip(stream.channels, keep, strict=True) if k),
                        np.ascontiguousarray(stream.data[:, keep]), stream.unit, stream.gaps)
        missing = missing[:, keep]
    bad = np.asarray(missing.any(axis=1), dtype=np.bool_)
    if not bad.any():
        return stream, 0, dropped
    rows = int(np.count_nonzero(bad))
    for first, count in stream.gaps:
        bad[first:first + count] = True
    edges = np.flatnonzero(np.diff(np.concatenate(([0], bad.view(np.int8), [0]))))
    gaps = tuple((int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True))
    data = np.where(bad[:, None], 0.0, stream.data)
    return Stream(stream.name, stream.fs, stream.channels, data, stream.unit, gaps), rows, dropped


#: a channel missing more than this share of its samples is left out, not gapped
EMPTY_CHANNEL_SHARE = 0.5


def annotations_from_outputs(outputs: list[Event | Feedback]) -> tuple[Annotation, ...]:
    """Events, phases and cues of a session as annotations (``onset``, ``phase:holding``,
    ``cue:gentler``, ``rep:2``), at the event's physiological time."""
    out = []
    for item in outputs:
        if isinstance(item, Event):
            out.append(Annotation(item.t, 0.0, item.type.value))
        elif item.kind == "phase":
            out.append(Annotation(item.t, 0.0, f"phase:{item.payload.get('phase')}"))
        elif item.kind == "cue":
            out.append(Annotation(item.t, 0.0, f"cue:{item.payload.get('id')}"))
        elif item.kind == "rep":
            out.append(Annotation(item.t, 0.0, f"rep:{item.payload.get('rep')}"))
    return tuple(out)


def decode_packets(profiles: dict[str, Profile], packets: Iterator[Packet]) -> SignalSet:
    """Decode a native recording's packets into uniform streams starting at session time 0.

    Each stream is placed by sample index from its first sample's session time; samples the
    decoder found lost are zeros and get a ``gap`` annotation. With several devices, stream
    names are ``device:stream`` except for the first device.
    """
    decoders = {dev: Decoder(p, dev) for dev, p in profiles.items()}
    first_dev = next(iter(profiles))
    parts: dict[tuple[str, str], list[Chunk]] = {}
    for packet in packets:
        dec = decoders.get(packet.device)
        if dec is None:
            continue
        try:
            chunks = dec.decode(packet)
        except Exception:  # malformed packets are skipped exactly as the pipeline skips them
            continue
        for c in chunks:
            parts.setdefault((packet.device, c.stream), []).append(c)
    streams: dict[str, Stream] = {}
    gaps: list[Annotation] = []
    for (dev, name), chunks in parts.items():
        spec = profiles[dev].stream(name)
        key = name if dev == first_dev else f"{dev}:{name}"
        pad = int(round(chunks[0].t_first * spec.fs))
        first = chunks[0].start_index
        end = chunks[-1].start_index + chunks[-1].n
        held = sum(c.n for c in chunks)
        if pad + end - first > 10 * held + 3600 * spec.fs:
            # zero-filled gaps may outweigh the samples (a device off for a while), but
            # not by hours: such a span comes from damaged packet times, and filling it
            # would exhaust memory
            raise RecordingError(
                f"stream {key} would span {(pad + end - first) / spec.fs:.0f} s for "
                f"{held / spec.fs:.0f} s of samples: the packet times are damaged")
        data = np.zeros((pad + end - first, len(spec.channels)))
        data[:pad] = chunks[0].data[0]
        for c in chunks:
            data[pad + c.start_index - first : pad + c.start_index - first + c.n] = c.data
            if c.gap_before:
                gaps.append(Annotation(c.t_first - c.gap_before / c.fs, c.gap_before / c.fs,
                                       f"gap:{key}"))
        streams[key] = Stream(key, spec.fs, spec.channels, data, spec.unit)
    ordered = {k: streams[k] for k in sorted(streams, key=_stream_rank)}
    return SignalSet(ordered, tuple(sorted(gaps, key=lambda a: a.onset)))


def _stream_rank(name: str) -> tuple[int, int, str]:
    base = name.rpartition(":")[2]
    return (":" in name, STREAM_ORDER.index(base) if base in STREAM_ORDER else 99, name)


def signal_profile(signals: SignalSet, name: str = "imported data") -> Profile:
    """An in-memory firmware profile whose stream specs match ``signals`` (the pipeline reads
    rates and channel names from profiles; no packet is ever decoded with it)."""
    chars = {}
    packets = []
    for i, s in enumerate(signals.streams.values()):
        uuid = f"00000000-0000-4000-8000-{i + 1:012x}"
        chars[s.name] = uuid
        packets.append({
            # (never decoded: one byte per channel keeps wide HD-EMG sets within the
            # notification size a profile may declare)
            "name": s.name, "characteristics": [uuid], "frame": f"<{len(s.channels)}B",
            "streams": [{"stream": s.name, "fs": s.fs, "channels": list(s.channels),
                         "unit": s.unit}],
        })
    doc = {
        "profile": {"id": "imported", "name": name, "confidence": "high"},
        "services": [{"uuid": "00000000-0000-4000-8000-000000000000",
                      "characteristics": [{"uuid": u, "flags": ["notify"]}
                                          for u in chars.values()]}],
        "packets": packets,
    }
    return parse_profile(Path(f"<{name}>"), doc)


def signal_chunks(signals: SignalSet, chunk_s: float = 0.05) -> Iterator[Chunk]:
    """Chunks of every stream in time order on a synthetic clock (index / fs).

    Blocks of ``chunk_s`` seconds; within a block the streams come in ``STREAM_ORDER``.
    Block edges are computed from time, so no stream drifts against another.
    """
    if chunk_s <= 0:
        raise ValueError("chunk_s must be positive")
    duration = signals.duration_s
    gap_state = {name: [0, 0] for name in signals.streams}
    k = 0
    while True:
        t0, t1 = k * chunk_s, (k + 1) * chunk_s
        if t0 >= duration:
            return
        for s in signals.streams.values():
            i0 = min(int(round(t0 * s.fs)), s.n)
            i1 = min(int(round(t1 * s.fs)), s.n)
            if i1 <= i0:
                continue
            if not s.gaps:
                yield Chunk(s.name, s.fs, i0, i0 / s.fs, np.ascontiguousarray(s.data[i0:i1]),
                            s.channels, FOREIGN_DEVICE)
                continue
            for a, b, lost in around_gaps(i0, i1, s.gaps, gap_state[s.name]):
                yield Chunk(s.name, s.fs, a, a / s.fs, np.ascontiguousarray(s.data[a:b]),
                            s.channels, FOREIGN_DEVICE, lost)
        k += 1


def around_gaps(i0: int, i1: int, gaps: tuple[tuple[int, int], ...], state: list[int],
                 ) -> Iterator[tuple[int, int, int]]:
    """The pieces ``(start, stop, rows skipped just before)`` of rows ``i0:i1`` that hold
    samples. ``state``: ``[the next gap, rows of a gap skipped but not yet reported]``,
    carried from one call to the next, so that the piece after a gap reports all of it
    wherever the chunks' edges fall (chunk size never changes what the pipeline is told).

    >>> state = [0, 0]
    >>> list(around_gaps(0, 10, ((4, 3),), state)), list(around_gaps(10, 12, ((4, 3),), state))
    ([(0, 4, 0), (7, 10, 3)], [(10, 12, 0)])
    >>> state = [0, 0]
    >>> list(around_gaps(0, 5, ((4, 3),), state)), list(around_gaps(5, 9, ((4, 3),), state))
    ([(0, 4, 0)], [(7, 9, 3)])
    """
    i = i0
    while i < i1:
        k = state[0]
        if k < len(gaps) and gaps[k][0] <= i:
            end = gaps[k][0] + gaps[k][1]
            skip_to = min(end, i1)
            state[1] += max(skip_to - i, 0)
            i = max(skip_to, i)
            if i >= end:
                state[0] += 1
            continue
        stop = min(i1, gaps[k][0]) if k < len(gaps) else i1
        yield i, stop, state[1]
        state[1] = 0
        i = stop
