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
from dataclasses import dataclass, field

import numpy as np

from isofeedback.clock import StreamClock
from isofeedback.errors import PacketError
from isofeedback.profiles.codecs import CODECS, PacketCodec
from isofeedback.profiles.schema import MAX_NOTIFICATION_BYTES, PacketSpec, Profile
from isofeedback.types import Chunk, Packet

__all__ = ["MAX_ARRIVAL_JUMP_S", "MAX_NOTIFICATION_BYTES", "Decoder", "DecoderStats"]

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


class _PacketState:
    def __init__(self, spec: PacketSpec) -> None:
        self.spec = spec
        self.codec: PacketCodec = CODECS[spec.codec](spec)
        self.last_counter: int | None = None
        self.index = 0  # frames decoded so far (all streams of a packet share the frame index)
        # all streams of one packet kind are sampled together; the fastest one anchors time
        self.clocks = {s.name: StreamClock(s.fs) for s in spec.streams}


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
        self.stats.packets += 1
        self._last_arrival = packet.t_arrival
        n = decoded.frames.shape[0]
        lost = self._lost_frames(state, decoded.counter, n, packet.t_arrival)
        if lost:
            self.stats.lost_packets += max(1, lost // max(n, 1))
        state.index += lost
        start = state.index
        state.index += n
        chunks = []
        for s in state.spec.streams:
            clock = state.clocks[s.name]
            clock.observe(state.index, packet.t_arrival)
            values = decoded.frames[:, s.start : s.stop] * s.scale + s.offset
            if lost:
                self.stats.lost_samples[s.name] = self.stats.lost_samples.get(s.name, 0) + lost
            chunks.append(
                Chunk(
                    stream=s.name,
                    fs=s.fs,
                    start_index=start,
                    t_first=clock.time_of(start),
                    data=np.ascontiguousarray(values, dtype=np.float64),
                    channels=s.channels,
                    device=self.device,
                    gap_before=lost,
                )
            )
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
        fastest = max(state.spec.streams, key=lambda s: s.fs)
        expected = state.clocks[fastest.name].expected_arrival(state.index + n)
        if expected is None:
            return math.inf
        slack = self.arrival_gap_s + 1e-3 * abs(t)
        return (t + slack - expected) * fastest.fs

    def _late_frames(self, state: _PacketState, n: int, t: float) -> int:
        """No (believable) counter: infer from the arrival time against the fastest
        stream's clock."""
        spec = state.spec
        fastest = max(spec.streams, key=lambda s: s.fs)
        expected = state.clocks[fastest.name].expected_arrival(state.index + n)
        if expected is None:
            return 0
        late = t - expected
        if late <= self.arrival_gap_s:
            return 0
        frames = int(round(late * fastest.fs))
        return frames - frames % n if n > 1 else frames
