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
        if self.spec.counter is not None:
            counter = int(header[self.spec.counter.field])
        return DecodedPacket(frames=frames, counter=counter)

    def encode(self, frames: FloatArray, counter: int) -> bytes:
        if frames.shape[0] != self.spec.frames:
            raise ValueError(f"expected {self.spec.frames} frames, got {frames.shape[0]}")
        lo, hi = self._dtype_limits
        vals = np.clip(np.rint(frames), lo, hi).astype(np.int64).ravel().tolist()
        n_header = len(self._header.unpack(bytes(self._header.size)))
        header = [0] * n_header
        if self.spec.counter is not None:
            header[self.spec.counter.field] = counter % self.spec.counter.modulo
        return self._header.pack(*header) + self._frames.pack(*vals)


def _limits(fmt: str) -> tuple[float, float]:
    """Representable range of a struct frame's integer type (encoding clips, like an ADC)."""
    code = fmt.lstrip("<>!=@").lstrip("0123456789")[:1]
    bits = {"b": 8, "B": 8, "h": 16, "H": 16, "i": 32, "I": 32, "l": 32, "L": 32, "q": 64}
    if code in "fd" or code not in bits:
        return (-np.inf, np.inf)
    n = bits[code]
    if code.isupper():
        return (0.0, float(2**n - 1))
    return (float(-(2 ** (n - 1))), float(2 ** (n - 1) - 1))


CODECS: dict[str, Callable[[PacketSpec], PacketCodec]] = {"struct": StructCodec}


def register_codec(name: str, factory: Callable[[PacketSpec], PacketCodec]) -> None:
    """Make a named codec available to profiles (``codec = "name"``)."""
    CODECS[name] = factory
