"""OpenBCI Ganglion packets (20 bytes, byte 0 = packet id, bits MSB first), named codecs.

* ``ganglion_fw2`` (firmware 1–2): id 0 = one sample, 4 × int24 BE (the reference);
  ids 1–100 = 2 samples × 4 channels of 18-bit deltas (byte 19: an accelerometer axis,
  ignored), ids 101–200 = 19-bit deltas; sample = previous − delta.
* ``ganglion_fw3`` (firmware 3): ids 0–99 = 2 × 4 18-bit values (<< 6 → 24-bit counts),
  ids 100–199 = 19-bit values (<< 5).

The id counts up (mod 100 within each range), so a skipped id is a lost packet; the
counter returned is ``id % 100``. Impedance packets (201–205) are not sample data and are
rejected. Firmware 2's deltas need the reference: before one arrives (joining a running
stream) the codec starts from zero, which only offsets each channel by a constant the EMG
chain's DC removal takes out; after a lost packet the offset steps once (documented in
docs/profiles.md). Encoding (the simulated sensor) is closed-loop, so clipped deltas never
accumulate error; ``params.bits`` (18 or 19) chooses the compression.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from isofeedback.errors import PacketError
from isofeedback.profiles.bits import pack_signed, signed_range, unpack_signed
from isofeedback.profiles.codecs import DecodedPacket, register_codec
from isofeedback.types import FloatArray

if TYPE_CHECKING:
    from isofeedback.profiles.schema import PacketSpec

__all__ = ["GanglionAbsoluteCodec", "GanglionDeltaCodec"]

_SIZE = 20
_CHANNELS = 4


def _check(data: bytes) -> int:
    if len(data) != _SIZE:
        raise PacketError(f"Ganglion packet has {len(data)} bytes, expected {_SIZE}")
    return data[0]


class _GanglionBase:
    def __init__(self, spec: PacketSpec) -> None:
        self.spec = spec
        self.bits = int(spec.params.get("bits", 19))
        if self.bits not in (18, 19):
            raise ValueError(f"bits must be 18 or 19, got {self.bits}")
        width = max(s.stop for s in spec.streams)
        if width > _CHANNELS:  # else every packet would fail to decode, at run time
            raise ValueError(f"streams use {width} values but a Ganglion sample has "
                             f"{_CHANNELS} channels")
        self._reset_state()

    def _reset_state(self) -> None:
        """Subclasses with state override this."""

    def reset(self) -> None:
        self._reset_state()

    @property
    def frames_per_packet(self) -> int:
        return 2


class GanglionDeltaCodec(_GanglionBase):
    """Firmware 1–2: a reference sample, then 18- or 19-bit deltas.

    >>> from isofeedback.profiles.schema import find_profile
    >>> codec = GanglionDeltaCodec(find_profile("ganglion").packets[0])
    >>> ref = bytes([0]) + b"".join(v.to_bytes(3, "big", signed=True) for v in (10, -10, 0, 7))
    >>> codec.decode(ref + bytes(7)).frames.tolist()
    [[10.0, -10.0, 0.0, 7.0]]
    """

    def _reset_state(self) -> None:
        self._last = [0] * _CHANNELS
        self._enc_last = [0] * _CHANNELS

    def decode(self, data: bytes) -> DecodedPacket:
        pid = _check(data)
        if pid == 0:
            self._last = [int.from_bytes(data[1 + 3 * i : 4 + 3 * i], "big", signed=True)
                          for i in range(_CHANNELS)]
            return DecodedPacket(np.asarray([self._last], dtype=np.float64), counter=0)
        if 1 <= pid <= 200:
            bits = 18 if pid <= 100 else 19
            deltas = unpack_signed(data[1:], bits, 2 * _CHANNELS, msb_first=True)
            first = [v - d for v, d in zip(self._last, deltas[:_CHANNELS], strict=True)]
            second = [v - d for v, d in zip(first, deltas[_CHANNELS:], strict=True)]
            self._last = second
            return DecodedPacket(np.asarray([first, second], dtype=np.float64), counter=pid % 100)
        raise PacketError(f"Ganglion packet id {pid} is not sample data (impedance or unknown)")

    def encode(self, frames: FloatArray, counter: int) -> bytes:
        lo, hi = signed_range(self.bits)
        deltas: list[int] = []
        last = self._enc_last
        for row in np.rint(frames[:, :_CHANNELS]).astype(np.int64).tolist():
            d = [min(max(p - v, lo), hi) for p, v in zip(last, row, strict=True)]
            last = [p - x for p, x in zip(last, d, strict=True)]
            deltas += d
        self._enc_last = last
        pid = 1 + counter % 100 + (100 if self.bits == 19 else 0)
        body = pack_signed(deltas, self.bits, msb_first=True)
        return bytes([pid]) + body + bytes(_SIZE - 1 - len(body))


class GanglionAbsoluteCodec(_GanglionBase):
    """Firmware 3: absolute values, the top 18 or 19 bits of each 24-bit sample.

    >>> from isofeedback.profiles.schema import find_profile
    >>> codec = GanglionAbsoluteCodec(find_profile("ganglion_fw3").packets[0])
    >>> codec.decode(codec.encode(np.array([[64.0, -64, 6400, 0], [0, 0, 0, 32]]), 3)).counter
    3
    """

    def decode(self, data: bytes) -> DecodedPacket:
        pid = _check(data)
        if pid > 199:
            raise PacketError(f"Ganglion packet id {pid} is not sample data (impedance or unknown)")
        bits = 18 if pid < 100 else 19
        values = unpack_signed(data[1:], bits, 2 * _CHANNELS, msb_first=True)
        frames = np.asarray(values, dtype=np.float64).reshape(2, _CHANNELS) * (1 << (24 - bits))
        return DecodedPacket(frames, counter=pid % 100)

    def encode(self, frames: FloatArray, counter: int) -> bytes:
        shift = 24 - self.bits
        lo, hi = signed_range(self.bits)
        vals = np.clip(np.rint(frames[:, :_CHANNELS] / (1 << shift)), lo, hi).astype(np.int64)
        pid = counter % 100 + (100 if self.bits == 19 else 0)
        body = pack_signed(vals.ravel().tolist(), self.bits, msb_first=True)
        return bytes([pid]) + body + bytes(_SIZE - 1 - len(body))


register_codec("ganglion_fw2", GanglionDeltaCodec)
register_codec("ganglion_fw3", GanglionAbsoluteCodec)
