"""Packet codecs: bytes ⇄ frames of raw values.

Fixed struct layouts need no code: :class:`StructCodec` reads them from the profile.
Layouts a struct format cannot express (bit-packed deltas, compressed frames) are named
codecs registered in :data:`CODECS`. Every codec encodes too, so the simulated patient
produces exactly the bytes a device would and each decoder is tested both ways.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from isofeedback.errors import PacketError
from isofeedback.types import FloatArray

if TYPE_CHECKING:
    from isofeedback.profiles.schema import PacketSpec

__all__ = ["CODECS", "DecodedPacket", "PacketCodec", "StructCodec", "register_codec"]

#: struct field codes numpy reads the same way (standard sizes, no padding)
_NUMPY_CODES = {"b": "i1", "B": "u1", "h": "i2", "H": "u2", "i": "i4", "I": "u4", "l": "i4",
                "L": "u4", "q": "i8", "Q": "u8", "e": "f2", "f": "f4", "d": "f8"}


@dataclass(frozen=True, slots=True)
class DecodedPacket:
    """Raw frames ``(n, width)`` before scaling, plus what the packet says about itself."""

    frames: FloatArray
    counter: int | None = None
    device_time: float | None = None


class PacketCodec(Protocol):
    """Stateful (some formats are delta-coded) converter for one packet kind."""

    def decode(self, data: bytes) -> DecodedPacket: ...

    def encode(self, frames: FloatArray, counter: int) -> bytes: ...

    def reset(self) -> None: ...

    @property
    def frames_per_packet(self) -> int: ...


class StructCodec:
    """Header (with an optional counter) followed by ``frames`` fixed-size frames."""

    def __init__(self, spec: PacketSpec) -> None:
        self.spec = spec
        self._header = struct.Struct(spec.header)
        self._frame = struct.Struct(spec.frame)
        self._frames = struct.Struct(spec.frame[0] + spec.frame[1:] * spec.frames)
        self._size = self._header.size + self._frames.size
        self._dtype_limits = _limits(spec.frame)
        self._many = _packet_dtype(spec.header, spec.frame, spec.frames)  # None: one by one
        # frames of one numpy type are read by one frombuffer (None: struct unpack)
        one = _numpy_fields(spec.frame)
        self._plain = one[0] if one and len(set(one)) == 1 else None
        self._count = spec.frames * len(one or ())

    @property
    def frames_per_packet(self) -> int:
        return self.spec.frames

    @property
    def whole_numbers(self) -> bool:
        """Every decoded value is read as an integer (one numpy integer type for all the
        frame's fields), so none is ``-0.0`` or NaN."""
        return self._plain is not None and np.dtype(self._plain).kind in "iu"

    def reset(self) -> None:
        """Nothing to reset: plain struct packets carry no state between them."""

    def decode(self, data: bytes) -> DecodedPacket:
        if len(data) != self._size:
            raise PacketError(
                f"{self.spec.name} packet has {len(data)} bytes, expected {self._size}"
            )
        header = self._header.unpack_from(data, 0)
        if self._plain is not None:  # the same numbers, without a Python int per value
            frames = np.frombuffer(data, self._plain, self._count, self._header.size).astype(
                np.float64).reshape(self.spec.frames, -1)
        else:
            values = self._frames.unpack_from(data, self._header.size)
            frames = np.asarray(values, dtype=np.float64).reshape(self.spec.frames, -1)
        counter = None
        c = self.spec.counter
        if c is not None:
            counter = int(frames[0, c.field] if c.place == "frame" else header[c.field])
        return DecodedPacket(frames=frames, counter=counter)

    def decode_many(self, data: bytes) -> tuple[FloatArray, list[int] | None] | None:
        """Many packets at once: ``data`` is their bytes one after another, each exactly one
        packet long. Returns the frames of all, ``(packets, frames, width)`` (the values
        :meth:`decode` gives for each, read by one ``np.frombuffer`` instead of a struct
        unpack per packet), and their counters; None if numpy cannot read this layout
        (padding, native alignment): decode one by one."""
        if self._many is None or len(data) % self._size:
            return None
        packets = np.frombuffer(data, dtype=self._many)
        fields = packets["frames"]
        width = len(fields.dtype.names or ())
        frames = np.empty((packets.shape[0], self.spec.frames, width))
        for k in range(width):
            frames[:, :, k] = fields[f"v{k}"]
        counters = None
        c = self.spec.counter
        if c is not None:
            raw = fields[f"v{c.field}"][:, 0] if c.place == "frame" else packets[f"h{c.field}"]
            if raw.dtype.kind == "f":  # a float counter may be NaN: let decode() judge it
                return None
            counters = [int(v) for v in raw.tolist()]
        return frames, counters

    def encode(self, frames: FloatArray, counter: int) -> bytes:
        if frames.shape[0] != self.spec.frames:
            raise ValueError(f"expected {self.spec.frames} frames, got {frames.shape[0]}")
        c = self.spec.counter
        if c is not None and c.place == "frame":
            frames = frames.copy()
            step = 1 if c.unit == "sample" else 0
            frames[:, c.field] = (counter + step * np.arange(frames.shape[0])) % c.modulo
        lo, hi = self._dtype_limits
        vals = np.clip(np.rint(frames), lo, hi).astype(np.int64).ravel().tolist()
        n_header = len(self._header.unpack(bytes(self._header.size)))
        header = [0] * n_header
        if c is not None and c.place == "header":
            header[c.field] = counter % c.modulo
        packed = self._header.pack(*header) + self._frames.pack(*vals)
        sel = self.spec.select
        if sel is None:
            return packed
        # the byte that tells this kind from the others on its characteristic (gForce's
        # data type), as the device writes it
        marked = bytearray(packed)
        marked[sel.byte] = (marked[sel.byte] & ~sel.mask & 0xFF) | sel.equals
        return bytes(marked)


def _numpy_fields(fmt: str) -> list[str] | None:
    """The numpy type of each value of a struct format, e.g. ``">B3H"`` → ``[">u1", ">u2",
    ">u2", ">u2"]`` and an empty header ``"<"`` → ``[]``; None for padding, booleans and
    native alignment (``@`` or no prefix), which numpy does not read the same way."""
    if not fmt or fmt[0] not in "<>!=":
        return None
    order = "<" if fmt[0] == "<" or (fmt[0] == "=" and np.little_endian) else ">"
    out: list[str] = []
    count = ""
    for ch in fmt[1:]:
        if ch.isdigit():
            count += ch
            continue
        code = _NUMPY_CODES.get(ch)
        if code is None:
            return None
        out += [order + code] * int(count or 1)
        count = ""
    return out


def _packet_dtype(header: str, frame: str, frames: int) -> np.dtype[np.void] | None:
    """One packet as numpy reads it: header values ``h0, h1, …`` then ``frames`` frames of
    values ``v0, v1, …`` (None if a format is not readable, see :func:`_numpy_fields`)."""
    head, one = _numpy_fields(header), _numpy_fields(frame)
    if head is None or not one:
        return None
    frame_type = np.dtype([(f"v{k}", code) for k, code in enumerate(one)])
    return np.dtype([*((f"h{k}", code) for k, code in enumerate(head)),
                     ("frames", frame_type, (frames,))])


def _limits(fmt: str) -> tuple[FloatArray, FloatArray]:
    """Representable range of each field of a struct frame (encoding clips, like an ADC)."""
    bits = {"b": 8, "B": 8, "h": 16, "H": 16, "i": 32, "I": 32, "l": 32, "L": 32, "q": 64}
    lo: list[float] = []
    hi: list[float] = []
    count = ""
    for ch in fmt.lstrip("<>!=@"):
        if ch.isdigit():
            count += ch
            continue
        n = bits.get(ch)
        if n is None:
            pair = (-np.inf, np.inf)
        elif ch.isupper():
            pair = (0.0, float(2**n - 1))
        else:
            pair = (float(-(2 ** (n - 1))), float(2 ** (n - 1) - 1))
        k = int(count or 1)
        lo += [pair[0]] * k
        hi += [pair[1]] * k
        count = ""
    return np.asarray(lo), np.asarray(hi)


CODECS: dict[str, Callable[[PacketSpec], PacketCodec]] = {"struct": StructCodec}


def register_codec(name: str, factory: Callable[[PacketSpec], PacketCodec]) -> None:
    """Make a named codec available to profiles (``codec = "name"``)."""
    CODECS[name] = factory


# the named codecs register themselves; imported last because they build on this module
from isofeedback.profiles import ganglion, polar_pmd  # noqa: E402, F401
