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

    @property
    def frames_per_packet(self) -> int:
        return self.spec.frames

    def reset(self) -> None:
        """Nothing to reset: plain struct packets carry no state between them."""

    def decode(self, data: bytes) -> DecodedPacket:
        if len(data) != self._size:
            raise PacketError(
                f"{self.spec.name} packet has {len(data)} bytes, expected {self._size}"
            )
        header = self._header.unpack_from(data, 0)
        values = self._frames.unpack_from(data, self._header.size)
        frames = np.asarray(values, dtype=np.float64).reshape(self.spec.frames, -1)
        counter = None
        c = self.spec.counter
        if c is not None:
            counter = int(frames[0, c.field] if c.place == "frame" else header[c.field])
        return DecodedPacket(frames=frames, counter=counter)

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
        return self._header.pack(*header) + self._frames.pack(*vals)


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
