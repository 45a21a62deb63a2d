"""Core value types that flow through the pipeline.

Packets come from a source, chunks from the decoder, events from detectors, feedback from
the coach. All are frozen and slotted: they are shared between the pure core and the I/O
edges, and nobody may change one after another part of the system has seen it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, overload

import numpy as np
import numpy.typing as npt

__all__ = [
    "Chunk",
    "Event",
    "EventType",
    "Feedback",
    "FloatArray",
    "Packet",
    "PacketColumns",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Packet:
    """One raw notification as it arrived from a device (or a replayed/simulated one).

    ``t_arrival`` is in seconds on the session clock (0 = session start); it is the only
    wall-clock-derived value in the pipeline, recorded so that replay is exact.
    """

    device: str
    characteristic: str
    data: bytes
    t_arrival: float

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            object.__setattr__(self, "data", bytes(self.data))

    @staticmethod
    def trusted(device: str, characteristic: str, data: bytes, t_arrival: float) -> Packet:
        """``Packet(...)`` of ``data`` that is ``bytes`` already, without the frozen
        dataclass's ``__init__`` (a recording's reader makes thousands a second)."""
        packet = _new(Packet)
        _set_packet_device(packet, device)
        _set_packet_char(packet, characteristic)
        _set_packet_data(packet, data)
        _set_packet_t(packet, t_arrival)
        return packet


class PacketColumns(Sequence[Packet]):
    """Consecutive packets as four columns: a sequence of :class:`Packet` whose bulk
    readers (the decoder's, the pipeline's) take the columns as they are. A recording's
    reader hands its windows over this way, so a replay builds no object per packet
    (building one cost about as much as reading its row). Indexing builds the packet
    (:meth:`Packet.trusted`: the columns hold what a reader checked); a slice is columns
    again. Nobody changes the columns after building them."""

    __slots__ = ("characteristics", "data", "devices", "times")

    def __init__(self, devices: Sequence[str], characteristics: Sequence[str],
                 data: Sequence[bytes], times: Sequence[float]) -> None:
        self.devices = devices
        self.characteristics = characteristics
        self.data = data  # each packet's bytes, ``bytes`` (not bytearray)
        self.times = times  # arrival times, ``t_arrival``

    @staticmethod
    def of(packets: Sequence[Packet]) -> PacketColumns:
        """``packets`` as columns (the same object when they are already)."""
        if isinstance(packets, PacketColumns):
            return packets
        return PacketColumns([p.device for p in packets], [p.characteristic for p in packets],
                             [p.data for p in packets], [p.t_arrival for p in packets])

    @staticmethod
    def joined(parts: Sequence[PacketColumns]) -> PacketColumns:
        """The packets of ``parts``, one after the other."""
        if len(parts) == 1:
            return parts[0]
        return PacketColumns([d for p in parts for d in p.devices],
                             [c for p in parts for c in p.characteristics],
                             [b for p in parts for b in p.data],
                             [t for p in parts for t in p.times])

    def __len__(self) -> int:
        return len(self.times)

    @overload
    def __getitem__(self, index: int) -> Packet: ...

    @overload
    def __getitem__(self, index: slice) -> PacketColumns: ...

    def __getitem__(self, index: int | slice) -> Packet | PacketColumns:
        if isinstance(index, slice):
            return PacketColumns(self.devices[index], self.characteristics[index],
                                 self.data[index], self.times[index])
        return Packet.trusted(self.devices[index], self.characteristics[index],
                              self.data[index], self.times[index])

    def __iter__(self) -> Iterator[Packet]:
        return map(Packet.trusted, self.devices, self.characteristics, self.data, self.times)


@dataclass(frozen=True, slots=True, eq=False)
class Chunk:
    """Consecutive samples of one stream, in physical units.

    ``start_index`` is the index of the first sample since the stream began; ``t_first``
    is its session time. ``gap_before`` counts samples lost just before this chunk
    (detected from packet counters or arrival gaps): they are never invented.
    """

    stream: str
    fs: float
    start_index: int
    t_first: float
    data: FloatArray
    channels: tuple[str, ...]
    device: str = ""
    gap_before: int = 0

    def __post_init__(self) -> None:
        if self.fs <= 0:
            raise ValueError(f"chunk fs must be positive, got {self.fs}")
        if self.data.ndim != 2 or self.data.shape[1] != len(self.channels):
            raise ValueError(
                f"chunk data must be (n, {len(self.channels)}) for channels {self.channels}, "
                f"got shape {self.data.shape}"
            )

    @staticmethod
    def trusted(stream: str, fs: float, start_index: int, t_first: float, data: FloatArray,
                channels: tuple[str, ...], device: str = "", gap_before: int = 0) -> Chunk:
        """The same chunk as ``Chunk(...)``, built without the checks of ``__post_init__``
        and the frozen dataclass's ``__init__`` (~1 µs less of ~2 µs): for bulk paths
        that build thousands of chunks whose ``fs`` and data shape are right by
        construction (checked once for all of them)."""
        chunk = _new(Chunk)
        _set_stream(chunk, stream)
        _set_fs(chunk, fs)
        _set_start(chunk, start_index)
        _set_t_first(chunk, t_first)
        _set_data(chunk, data)
        _set_channels(chunk, channels)
        _set_device(chunk, device)
        _set_gap(chunk, gap_before)
        return chunk

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.data.shape[0])

    @property
    def times(self) -> FloatArray:
        """Session time of every sample."""
        return self.t_first + np.arange(self.n, dtype=np.float64) / self.fs

    @property
    def t_end(self) -> float:
        """Session time just after the last sample."""
        return self.t_first + self.n / self.fs


_new = object.__new__
# the slots' own setters (a frozen dataclass's __setattr__ refuses; these are what its
# __init__ reaches through object.__setattr__)
(_set_stream, _set_fs, _set_start, _set_t_first, _set_data, _set_channels, _set_device,
 _set_gap) = (Chunk.__dict__[f].__set__ for f in ("stream", "fs", "start_index", "t_first",
                                                  "data", "channels", "device",
                                                  "gap_before"))


(_set_packet_device, _set_packet_char, _set_packet_data, _set_packet_t) = (
    Packet.__dict__[f].__set__ for f in ("device", "characteristic", "data", "t_arrival"))


class EventType(StrEnum):
    """What a detector or the pipeline can report."""

    ONSET = "onset"
    RELEASE = "release"
    MOVEMENT = "movement"
    MOVEMENT_END = "movement_end"
    SIGNAL_QUALITY = "signal_quality"
    GAP = "gap"
    CALIBRATED = "calibrated"
    #: the last onset was provisional: its activation was too short for a contraction
    RETRACTED = "retracted"
    #: the last onset back-dated again, over more of the rise (``t``: the better time)
    ONSET_REFINED = "onset_refined"


@dataclass(frozen=True, slots=True)
class Event:
    """A detection. ``t`` is the physiological (back-dated) time, ``t_decided`` when the
    causal detector could first know it; both on the session clock, in seconds."""

    type: EventType
    t: float
    t_decided: float
    source: str = ""
    value: float | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.t_decided + 1e-9 < self.t:
            raise ValueError(f"event decided ({self.t_decided}) before it happened ({self.t})")


@dataclass(frozen=True, slots=True)
class Feedback:
    """A message for the patient's display: ``kind`` names the topic family
    (``level``, ``phase``, ``cue``, ``event``, ``rep``, ``summary``, ``status``) and
    ``payload`` its JSON-ready content. ``t`` is session time."""

    kind: str
    t: float
    payload: Mapping[str, Any]
