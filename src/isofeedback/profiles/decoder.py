"""Packets → chunks, per firmware profile.

The decoder is the only place that knows byte layouts. It keeps one sample index and one
clock per stream, detects lost packets (from counters when the device sends them, otherwise
from arrival gaps) and marks them in the chunk (``gap_before``) without inventing samples.
A malformed packet raises :class:`PacketError` and leaves the state untouched, so one bad
packet never derails a session.

What a packet claims is checked against what is physically possible before it moves any
state: an arrival time must be a finite session time that does not leap by more than a
day; a notification is at most 512 bytes (the largest attribute value BLE carries), so a
huge frame cannot decode into millions of samples; and a counter jump implying more
samples than the arrival times leave room for is not a loss but a corrupted counter or a
device reset (one flipped bit in a 16-bit counter would otherwise report minutes lost
twice): the decoder resynchronises on the new counter and infers any loss from the
arrival time instead, as for devices without a counter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from isofeedback.clock import StreamClock
from isofeedback.errors import PacketError
from isofeedback.profiles.codecs import CODECS, PacketCodec, StructCodec
from isofeedback.profiles.schema import MAX_NOTIFICATION_BYTES, PacketSpec, Profile
from isofeedback.types import Chunk, FloatArray, Packet, PacketColumns

__all__ = ["MAX_ARRIVAL_JUMP_S", "MAX_NOTIFICATION_BYTES", "DecodedRuns", "Decoder",
           "DecoderStats", "StreamRun"]

T = TypeVar("T")

#: consecutive arrivals of one device further apart (or back) than this are not a session
MAX_ARRIVAL_JUMP_S = 24 * 3600.0


@dataclass
class DecoderStats:
    """Counters the service reports (status topic, recording, summary)."""

    packets: int = 0
    malformed: int = 0
    unknown_characteristic: int = 0
    lost_packets: int = 0
    lost_samples: dict[str, int] = field(default_factory=dict)
    counter_resyncs: int = 0  # counter jumps the arrival times could not explain


@dataclass(slots=True)
class StreamRun:
    """One stream's samples from consecutive packets of one kind with nothing lost between
    them (:meth:`Decoder.decode_runs`): what the packets' chunks hold, in one array."""

    stream: str
    fs: float
    channels: tuple[str, ...]
    device: str
    frames: int  # samples per packet
    data: FloatArray  # all the packets' samples, (packets · frames, channels), C-ordered
    starts: list[int]  # each packet's first sample index
    t_firsts: list[float]  # each packet's first sample's session time

    def chunk(self, k: int) -> Chunk:
        """Packet ``k``'s chunk (what :meth:`Decoder.decode` gives for it)."""
        n = self.frames
        return Chunk.trusted(self.stream, self.fs, self.starts[k], self.t_firsts[k],
                             self.data[k * n : (k + 1) * n], self.channels, self.device)


@dataclass(slots=True)
class DecodedRuns:
    """A window of packets decoded at once (:meth:`Decoder.decode_runs`)."""

    members: dict[str, list[int]]  # per kind (its packet spec's name), its packets' indices
    runs: dict[str, list[StreamRun]]  # per kind, its streams' runs, in the spec's order

    def chunks(self) -> list[list[Chunk]]:
        """Each packet's chunks, as :meth:`Decoder.decode_many` gives them."""
        out: list[list[Chunk]] = [[] for _ in range(sum(map(len, self.members.values())))]
        for kind, members in self.members.items():
            runs = self.runs[kind]
            for j, k in enumerate(members):
                out[k] = [r.chunk(j) for r in runs]
        return out


@dataclass(slots=True)
class _RunPlan:
    ends: npt.NDArray[np.int64]  # each packet's end index
    offsets: list[list[float]]  # per stream, its clock's offset after each packet


class _PacketState:
    def __init__(self, spec: PacketSpec) -> None:
        self.spec = spec
        self.codec: PacketCodec = CODECS[spec.codec](spec)
        self.last_counter: int | None = None
        self.index = 0  # frames decoded so far (all streams of a packet share the frame index)
        # all streams of one packet kind are sampled together; the fastest one anchors time
        self.clocks = {s.name: StreamClock(s.fs) for s in spec.streams}
        fastest = max(spec.streams, key=lambda s: s.fs)
        self.fastest = self.clocks[fastest.name]  # the clock that judges arrival gaps
        self.fastest_fs = fastest.fs
        # per stream: its spec and clock, in packet order
        self.streams = [(s, self.clocks[s.name]) for s in spec.streams]
        self.scaling = _Scaling(spec, self.codec)


class Decoder:
    """Decodes the packets of one device described by ``profile``.

    ``arrival_gap_s``: for packets without a counter, an arrival this much later than the
    clock expects is taken as lost packets. A connected BLE link retransmits at the link
    layer, so notifications are lost only when the link drops, and reconnecting takes well
    over a second; a busy gateway, though, can deliver a burst several hundred ms late
    (seen under load at 0.5 s). One second separates the two: a late burst is delay, not
    loss, and must not shift the time base.
    """

    def __init__(self, profile: Profile, device: str = "", arrival_gap_s: float = 1.0) -> None:
        self.profile = profile
        self.device = device
        self.arrival_gap_s = arrival_gap_s
        self._reset()

    def _reset(self) -> None:
        self.stats = DecoderStats()
        self._last_arrival: float | None = None
        self._states = {p.name: _PacketState(p) for p in self.profile.packets}
        self._by_char: dict[str, list[_PacketState]] = {}
        for p in self.profile.packets:
            for c in p.characteristics:
                self._by_char.setdefault(c, []).append(self._states[p.name])

    def _state_for(self, packet: Packet) -> _PacketState:
        states = self._by_char.get(packet.characteristic)
        if states is None:
            self.stats.unknown_characteristic += 1
            raise PacketError(
                f"notification from characteristic {packet.characteristic} which profile "
                f"{self.profile.id!r} does not decode"
            )
        for state in states:
            if state.spec.select is None or state.spec.select.matches(packet.data):
                return state
        self.stats.malformed += 1
        head = packet.data[:4].hex(" ") or "empty"
        raise PacketError(
            f"notification on {packet.characteristic} ({head} …) matches none of profile "
            f"{self.profile.id!r}'s packet kinds {[s.spec.name for s in states]}"
        )

    def decode(self, packet: Packet) -> list[Chunk]:
        """Chunks (one per stream of the packet kind) from one packet."""
        self._check_physical(packet)
        state = self._state_for(packet)
        try:
            decoded = state.codec.decode(packet.data)
        except PacketError:
            self.stats.malformed += 1
            raise
        except Exception as exc:  # a codec bug must not end the session either
            self.stats.malformed += 1
            raise PacketError(f"{state.spec.name} packet could not be decoded: {exc}") from exc
        values, make = state.scaling.values(decoded.frames)
        return self._chunks(state, packet.t_arrival, decoded.counter, decoded.frames.shape[0],
                            values, make)

    def decode_many(self, packets: Sequence[Packet]) -> list[list[Chunk]] | None:
        """:meth:`decode` of each packet in turn, the same chunks, with the bytes of each
        packet kind read at once (one ``np.frombuffer`` and one scaling per stream instead
        of a struct unpack and a few numpy calls per packet) and, for a kind none of whose
        packets was lost, the loss test and the clocks computed at once too (else the
        per-packet rules, in order, on plain numbers). None, with nothing changed, when any
        packet is not plain (an unknown characteristic, one shared by several packet kinds,
        a named codec, a wrong length, an implausible arrival time): the caller then decodes
        one by one, which also counts and reports the bad ones."""
        columns = PacketColumns.of(packets)
        read = self._read(columns)
        if read is None:
            return None
        groups, values, counters = read
        out: list[list[Chunk]] = [[] for _ in packets]
        # packet kinds keep separate states (counters, indices, clocks), so each kind's
        # packets are taken in turn, in their own order
        for name, members in groups.items():
            state = self._states[name]
            found = counters[name]
            times = _picked(columns.times, members)
            plan = self._run_plan(state, times, found)
            if plan is not None:
                runs = self._run(state, plan, times, found, values[name])
                run = [[r.chunk(j) for r in runs] for j in range(len(members))]
            else:  # a loss or a counter jump: the per-packet rules, in order
                n = state.spec.frames
                run = [self._chunks(state, t, None if found is None else found[j], n,
                                    [v[j] for v in values[name]], Chunk.trusted)
                       for j, t in enumerate(times)]
            for k, chunks in zip(members, run, strict=True):
                out[k] = chunks
        self._last_arrival = columns.times[-1] if packets else self._last_arrival
        return out

    def decode_runs(self, packets: Sequence[Packet]) -> DecodedRuns | None:
        """:meth:`decode_many` of packets none of which was lost, as runs: each packet's
        kind and, per kind, each stream's samples of all its packets in one array with
        each packet's start and time (what the chunks would hold, without a chunk per
        packet: a bulk pass concatenated them again). None, with nothing changed, when
        :meth:`decode_many` would not read them at once or any kind lost a packet."""
        columns = PacketColumns.of(packets)
        read = self._read(columns)
        if read is None:
            return None
        groups, values, counters = read
        times: dict[str, Sequence[float]] = {}
        plans: dict[str, _RunPlan] = {}
        for name, members in groups.items():
            times[name] = _picked(columns.times, members)
            plan = self._run_plan(self._states[name], times[name], counters[name])
            if plan is None:
                return None
            plans[name] = plan
        runs = {name: self._run(self._states[name], plan, times[name], counters[name],
                                values[name]) for name, plan in plans.items()}
        if packets:
            self._last_arrival = columns.times[-1]
        return DecodedRuns(groups, runs)

    def _read(self, packets: PacketColumns,
              ) -> tuple[dict[str, list[int]], dict[str, list[FloatArray]],
                         dict[str, list[int] | None]] | None:
        """The packets grouped by kind (their indices), each kind's streams' samples
        ``(packets, frames, channels)`` and counters, read at once; None when any is not
        plain (see :meth:`decode_many`). Changes nothing."""
        if not packets:
            return {}, {}, {}
        # each characteristic's one packet kind, looked up once per characteristic
        chars = packets.characteristics
        kind_of: dict[str, str] = {}
        for char in set(chars):
            states = self._by_char.get(char)
            if states is None or len(states) != 1:
                return None
            state = states[0]
            if state.spec.select is not None or not isinstance(state.codec, StructCodec):
                return None
            kind_of[char] = state.spec.name
        # arrival times: floats, finite, no leap (_check_physical's tests, for all at once)
        times = packets.times
        if set(map(type, times)) != {float}:
            return None
        t = np.asarray(times)
        last = self._last_arrival
        before = np.concatenate(([t[0] if last is None else last], t[:-1]))
        if not bool(np.all(np.isfinite(t))) or bool(np.any(np.abs(t - before)
                                                           > MAX_ARRIVAL_JUMP_S)):
            return None
        groups: dict[str, list[int]] = {}
        if len(kind_of) == 1:
            groups[next(iter(kind_of.values()))] = list(range(len(packets)))
        else:
            for k, char in enumerate(chars):
                groups.setdefault(kind_of[char], []).append(k)
        values: dict[str, list[FloatArray]] = {}
        counters: dict[str, list[int] | None] = {}
        for name, members in groups.items():
            state = self._states[name]
            assert isinstance(state.codec, StructCodec)
            data = _picked(packets.data, members)
            if set(map(len, data)) != {state.spec.size}:
                return None
            many = state.codec.decode_many(b"".join(data))
            if many is None:
                return None
            frames, counters[name] = many
            values[name] = [np.ascontiguousarray(frames[:, :, s.start : s.stop] * s.scale
                                                 + s.offset, dtype=np.float64)
                            for s in state.spec.streams]
            if any(v.shape[2] != len(s.channels) or not s.fs > 0
                   for v, s in zip(values[name], state.spec.streams, strict=True)):
                return None  # let Chunk's own checks speak, one by one
        return groups, values, counters

    def _run_plan(self, state: _PacketState, times: Sequence[float],
                  counters: list[int] | None) -> _RunPlan | None:
        """The loss test and the clocks for a run of packets of one kind (arrived at
        ``times``), at once, changing nothing: each packet's end index and each clock's
        offsets when none was lost. Nothing lost is the counters stepping by one packet
        (or its samples) each time, or, without a counter, no packet arriving later than
        :meth:`_late_frames` allows; anything else is None, for :meth:`_chunks` to judge
        packet by packet."""
        spec = state.spec
        n = spec.frames
        m = len(times)
        c = spec.counter
        if counters is not None and c is not None:
            seq = np.asarray(counters if state.last_counter is None
                             else [state.last_counter, *counters], dtype=np.int64)
            steps = np.remainder(seq[1:] - seq[:-1], c.modulo)
            if steps.size and not bool(np.all(steps == (1 if c.unit == "packet" else n))):
                return None  # (a repeated counter loses nothing either: one by one)
        ends = state.index + n * np.arange(1, m + 1, dtype=np.int64)
        t = np.asarray(times, dtype=np.float64)
        # each stream's clock; streams of one rate whose clocks agree share the answer
        offsets: dict[tuple[float, tuple[float | None, float]], list[float]] = {}
        for _, clock in state.streams:
            key = (clock.fs, clock.state)
            if key not in offsets:
                offsets[key] = clock.offsets_after(ends, t)
        fastest = offsets[(state.fastest.fs, state.fastest.state)]
        if counters is None or c is None:
            # _late_frames: the fastest clock's expected arrival before each packet
            # (none before the clock's first anchor)
            anchor = state.fastest.state[0]
            before = np.asarray([0.0 if anchor is None else anchor, *fastest[:-1]])
            late = t - (before + ends / state.fastest_fs)
            if anchor is None:
                late = late[1:]
            if bool(np.any(late > self.arrival_gap_s)):
                return None
        return _RunPlan(ends, [offsets[(clock.fs, clock.state)] for _, clock in state.streams])

    def _run(self, state: _PacketState, plan: _RunPlan, times: Sequence[float],
             counters: list[int] | None, values: list[FloatArray]) -> list[StreamRun]:
        """Commit a run :meth:`_run_plan` found without losses (the counts, the counter,
        the index, the clocks) and give each stream's samples and times."""
        spec = state.spec
        n = spec.frames
        ends = plan.ends
        self.stats.packets += len(times)
        if counters is not None and spec.counter is not None:
            state.last_counter = counters[-1]
        starts = ends - n
        state.index = int(ends[-1])
        runs = []
        for (s, clock), data, offsets in zip(state.streams, values, plan.offsets, strict=True):
            clock.settle(offsets[-1], times[-1])
            runs.append(StreamRun(s.name, s.fs, s.channels, self.device, n,
                                  data.reshape(-1, data.shape[2]), starts.tolist(),
                                  (np.asarray(offsets) + starts / s.fs).tolist()))
        return runs

    def _chunks(self, state: _PacketState, t: float, counter: int | None, n: int,
                values: list[FloatArray], make: Callable[..., Chunk] = Chunk) -> list[Chunk]:
        """A decoded packet's chunks, one per stream (``values``: each stream's samples in
        physical units), after accounting for frames lost before it and moving the
        stream clocks on. ``make``: :meth:`Chunk.trusted` when the shapes were checked."""
        self.stats.packets += 1
        self._last_arrival = t
        lost = self._lost_frames(state, counter, n, t)
        if lost:
            self.stats.lost_packets += max(1, lost // max(n, 1))
        state.index += lost
        start = state.index
        end = state.index = start + n
        device = self.device
        chunks = []
        for (s, clock), data in zip(state.streams, values, strict=True):
            if lost:
                self.stats.lost_samples[s.name] = self.stats.lost_samples.get(s.name, 0) + lost
            chunks.append(make(s.name, s.fs, start, clock.observe_time_of(end, t, start), data,
                               s.channels, device, lost))
        return chunks

    def _check_physical(self, packet: Packet) -> None:
        t = packet.t_arrival
        problem = None
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            problem = f"arrival time {t!r} is not a finite number of session seconds"
        elif self._last_arrival is not None and abs(t - self._last_arrival) > MAX_ARRIVAL_JUMP_S:
            problem = (f"arrival time {t:g} s is more than a day from the previous packet's "
                       f"({self._last_arrival:g} s)")
        elif len(packet.data) > MAX_NOTIFICATION_BYTES:
            problem = (f"notification of {len(packet.data)} bytes is longer than BLE allows "
                       f"({MAX_NOTIFICATION_BYTES})")
        if problem is not None:
            self.stats.malformed += 1
            raise PacketError(f"packet on {packet.characteristic}: {problem}")

    def _lost_frames(self, state: _PacketState, counter: int | None, n: int, t: float) -> int:
        spec = state.spec
        if counter is not None and spec.counter is not None:
            last, state.last_counter = state.last_counter, counter
            if last is None:
                return 0
            step = (counter - last) % spec.counter.modulo
            per_packet = spec.counter.unit == "packet"
            lost = max(step - 1, 0) * n if per_packet else max(step - n, 0)
            if not lost or lost <= self._room_for(state, n, t):
                return lost
            self.stats.counter_resyncs += 1  # a corrupted counter or a device reset
        return self._late_frames(state, n, t)

    def _room_for(self, state: _PacketState, n: int, t: float) -> float:
        """How many frames could have been lost before a packet of ``n`` frames arriving at
        ``t``: its samples cannot arrive before they were taken (clock drift and the anchor's
        latency are allowed for generously)."""
        expected = state.fastest.expected_arrival(state.index + n)
        if expected is None:
            return math.inf
        slack = self.arrival_gap_s + 1e-3 * abs(t)
        return (t + slack - expected) * state.fastest_fs

    def _late_frames(self, state: _PacketState, n: int, t: float) -> int:
        """No (believable) counter: infer from the arrival time against the fastest
        stream's clock."""
        expected = state.fastest.expected_arrival(state.index + n)
        if expected is None:
            return 0
        late = t - expected
        if late <= self.arrival_gap_s:
            return 0
        frames = int(round(late * state.fastest_fs))
        return frames - frames % n if n > 1 else frames


class _Scaling:
    """A packet kind's frames → each stream's samples in physical units (``frames[:,
    start:stop] · scale + offset`` per stream, as float64), with fewer numpy calls than
    stream by stream where that gives the same numbers: a stream of whole numbers with
    scale 1 and offset 0 is its frames' columns as they are (``x·1 + 0`` is ``x`` for every
    number but ``-0.0``), and a packet of several streams over distinct columns is scaled
    by one multiply and one add with each column's own scale and offset (the same product
    and sum per value)."""

    def __init__(self, spec: PacketSpec, codec: PacketCodec) -> None:
        self.streams = spec.streams
        whole = isinstance(codec, StructCodec) and codec.whole_numbers
        self.as_read = whole and all(s.scale == 1.0 and s.offset == 0.0 for s in spec.streams)
        self.width = max((s.stop for s in spec.streams), default=0)
        columns = [k for s in spec.streams for k in range(s.start, s.stop)]
        # one stream over the whole frame, as read (a Myo's EMG): the frames are its
        # samples, with no slice and no copy when they are already C-ordered
        self.whole = (self.as_read and len(spec.streams) == 1
                      and spec.streams[0].start == 0 and spec.streams[0].stop == self.width)
        self.rows: tuple[FloatArray, FloatArray] | None = None
        if len(spec.streams) > 1 and len(columns) == len(set(columns)):
            scale, offset = np.ones(self.width), np.zeros(self.width)
            for s in spec.streams:
                scale[s.start : s.stop] = s.scale
                offset[s.start : s.stop] = s.offset
            self.rows = scale, offset
        # Chunk's own checks (fs > 0, data (n, channels)) hold by construction for frames
        # of the full width: the profile's streams each slice exactly their channels
        self.make: Callable[..., Chunk] = (
            Chunk.trusted if all(s.fs > 0 and s.stop - s.start == len(s.channels)
                                 for s in spec.streams) else Chunk)

    def values(self, frames: FloatArray) -> tuple[list[FloatArray], Callable[..., Chunk]]:
        """Each stream's samples, and how to build their chunks (:meth:`Chunk.trusted`
        when the shapes are right by construction, else ``Chunk``, whose checks then say
        what is wrong)."""
        if frames.ndim == 2 and frames.shape[1] == self.width and frames.dtype == np.float64:
            if self.whole and frames.flags.c_contiguous:
                return [frames], self.make
            if self.as_read:
                return [np.ascontiguousarray(frames[:, s.start : s.stop])
                        for s in self.streams], self.make
            if self.rows is not None:
                scaled = frames * self.rows[0] + self.rows[1]
                return [np.ascontiguousarray(scaled[:, s.start : s.stop])
                        for s in self.streams], self.make
        return [np.ascontiguousarray(frames[:, s.start : s.stop] * s.scale + s.offset,
                                     dtype=np.float64) for s in self.streams], Chunk


def _picked(column: Sequence[T], members: list[int]) -> Sequence[T]:
    """``column``'s items at ``members`` (the indices of one packet kind's packets, in
    order): the column itself when that is all of it."""
    if len(members) == len(column):  # (members are distinct indices into the column)
        return column
    return [column[k] for k in members]
