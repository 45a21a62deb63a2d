"""Polar PMD data frames (Verity Sense, H10): raw and delta-compressed, as a named codec.

Frame layout (Polar's published SDK): byte 0 measurement type (& 0x3F), bytes 1–8 the
sensor timestamp of the *last* sample (u64 LE, ns), byte 9 frame type (bit 7 set =
delta-compressed), payload from byte 10.

* raw: frame type 0/1/2 = 8/16/24-bit signed LE values, ``channels`` per sample;
* compressed: one reference sample (``channels`` × ``resolution``-bit LE values), then
  blocks ``[delta width u8][sample count u8][bit-packed deltas, LSB first]``; each sample
  is the previous one plus its deltas. Values × ``factor`` give the device unit.

Profile params: ``type`` (2 ACC, 5 GYRO), ``channels`` (3), ``resolution`` (16),
``factor`` (1.0); for encoding only (the simulated sensor): ``compressed`` (true) and
``samples`` per frame. Polar frames have no counter: losses are found from arrival gaps;
the timestamp is returned as the device time.
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING

import numpy as np

from isofeedback.errors import PacketError
from isofeedback.profiles.bits import pack_signed, signed_range, unpack_signed
from isofeedback.profiles.codecs import DecodedPacket, register_codec
from isofeedback.types import FloatArray

if TYPE_CHECKING:
    from isofeedback.profiles.schema import PacketSpec

__all__ = ["PolarPmdCodec"]

_HEADER = struct.Struct("<BQB")
_RAW_BYTES = {0: 1, 1: 2, 2: 3}


class PolarPmdCodec:
    """One PMD measurement type (e.g. ACC); stateless between frames.

    >>> from isofeedback.profiles.schema import find_profile
    >>> spec = find_profile("polar_verity").packets[0]
    >>> codec = PolarPmdCodec(spec)
    >>> frame = bytes.fromhex("02 e803000000000000 01 0100 feff e803")
    >>> codec.decode(frame).frames.tolist()
    [[1.0, -2.0, 1000.0]]
    """

    def __init__(self, spec: PacketSpec) -> None:
        p = dict(spec.params)
        self.spec = spec
        self.type = int(p.get("type", 2))
        self.channels = int(p.get("channels", 3))
        self.resolution = int(p.get("resolution", 16))
        self.factor = float(p.get("factor", 1.0))
        self.compressed = bool(p.get("compressed", True))
        self.samples = int(p.get("samples", 12))
        fs = max(s.fs for s in spec.streams)
        self._period_ns = 1e9 / fs
        if not 0 <= self.type < 64 or self.channels < 1 or self.samples < 1:
            raise ValueError("type must be 0-63, channels and samples at least 1")
        if self.resolution not in (8, 16, 24) or not 0 < self.factor < math.inf:
            raise ValueError("resolution must be 8, 16 or 24 and factor a positive number")
        width = max(s.stop for s in spec.streams)
        if width > self.channels:
            raise ValueError(f"streams use {width} values but a sample has {self.channels}")

    @property
    def frames_per_packet(self) -> int:
        return self.samples

    def reset(self) -> None:
        """Nothing to reset: every PMD frame carries its own reference sample."""

    def decode(self, data: bytes) -> DecodedPacket:
        if len(data) < _HEADER.size + 1:
            raise PacketError(f"Polar PMD frame of {len(data)} bytes is shorter than its header")
        kind, stamp, frame_type = _HEADER.unpack_from(data, 0)
        if kind & 0x3F != self.type:
            raise PacketError(f"Polar PMD frame of type {kind & 0x3F}, expected {self.type}")
        body = data[_HEADER.size :]
        if frame_type & 0x80:
            values = self._decode_compressed(body)
        else:
            values = self._decode_raw(body, frame_type)
        frames = np.asarray(values, dtype=np.float64).reshape(-1, self.channels) * self.factor
        return DecodedPacket(frames=frames, device_time=stamp / 1e9)

    def _decode_raw(self, body: bytes, frame_type: int) -> list[int]:
        size = _RAW_BYTES.get(frame_type)
        if size is None:
            raise PacketError(f"Polar PMD raw frame type {frame_type} is not supported (0-2)")
        step = size * self.channels
        if not body or len(body) % step:
            raise PacketError(f"Polar PMD raw payload of {len(body)} bytes is not a whole "
                              f"number of {step}-byte samples")
        return [int.from_bytes(body[i : i + size], "little", signed=True)
                for i in range(0, len(body), size)]

    def _decode_compressed(self, body: bytes) -> list[int]:
        ref_bytes = self.resolution // 8 * self.channels
        if len(body) < ref_bytes:
            raise PacketError("Polar PMD compressed frame is shorter than its reference sample")
        sample = unpack_signed(body[:ref_bytes], self.resolution, self.channels, msb_first=False)
        out = list(sample)
        pos = ref_bytes
        while pos < len(body):
            if pos + 2 > len(body):
                raise PacketError("Polar PMD compressed frame ends inside a block header")
            width, count = body[pos], body[pos + 1]
            nbytes = (width * self.channels * count + 7) // 8
            block = body[pos + 2 : pos + 2 + nbytes]
            if width == 0 or width > 32 or len(block) < nbytes:
                raise PacketError(f"Polar PMD compressed block (width {width}, {count} "
                                  f"samples) is truncated or invalid")
            deltas = unpack_signed(block, width, self.channels * count, msb_first=False)
            for k in range(count):
                sample = [v + d for v, d in zip(sample, deltas[k * self.channels :], strict=False)]
                out += sample
            pos += 2 + nbytes
        return out

    def encode(self, frames: FloatArray, counter: int) -> bytes:
        """A frame as the sensor would send it; ``counter`` × samples dates its last sample."""
        ints = np.rint(frames[:, : self.channels] / self.factor).astype(np.int64)
        lo, hi = signed_range(self.resolution)
        ints = np.clip(ints, lo, hi)
        stamp = int(round((counter + 1) * len(ints) * self._period_ns))
        if not self.compressed:
            size = self.resolution // 8
            head = _HEADER.pack(self.type, stamp, size - 1)
            return head + b"".join(int(v).to_bytes(size, "little", signed=True)
                                   for v in ints.ravel().tolist())
        head = _HEADER.pack(self.type, stamp, 0x80)
        ref = ints[0].tolist()
        body = pack_signed(ref, self.resolution, msb_first=False)
        deltas = np.diff(ints, axis=0).ravel().tolist()
        if deltas:
            width = max(max(abs(int(d)) for d in deltas).bit_length() + 1, 1)
            body += bytes([width, len(ints) - 1]) + pack_signed(deltas, width, msb_first=False)
        return head + body


register_codec("polar_pmd", PolarPmdCodec)
