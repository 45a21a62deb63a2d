"""Signed bit-field packing, MSB-first (OpenBCI Ganglion) or LSB-first (Polar PMD).

Both wearables pack samples narrower than a byte boundary back to back; the two only
differ in which end of the byte stream the first field starts. Python integers make the
shifts exact for any width, and packets are 20–240 bytes, so clarity wins over speed.

>>> unpack_signed(pack_signed([-1, 5, -3], 6, msb_first=True), 6, 3, msb_first=True)
[-1, 5, -3]
>>> pack_signed([1, -1], 4, msb_first=False).hex()
'f1'
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["pack_signed", "signed_range", "unpack_signed"]


def signed_range(bits: int) -> tuple[int, int]:
    """Smallest and largest value a two's-complement field of ``bits`` holds."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def unpack_signed(data: bytes, bits: int, count: int, msb_first: bool) -> list[int]:
    """``count`` two's-complement fields of ``bits`` each from the start of ``data``."""
    if count * bits > len(data) * 8:
        raise ValueError(f"{count} fields of {bits} bits need {count * bits} bits, "
                         f"got {len(data) * 8}")
    mask, sign = (1 << bits) - 1, 1 << (bits - 1)
    total = len(data) * 8
    big = int.from_bytes(data, "big" if msb_first else "little")
    out = []
    for i in range(count):
        shift = total - (i + 1) * bits if msb_first else i * bits
        v = (big >> shift) & mask
        out.append(v - (1 << bits) if v & sign else v)
    return out


def pack_signed(values: Sequence[int], bits: int, msb_first: bool) -> bytes:
    """Inverse of :func:`unpack_signed`; the last byte is zero-padded."""
    lo, hi = signed_range(bits)
    mask = (1 << bits) - 1
    nbytes = (len(values) * bits + 7) // 8
    big = 0
    for i, v in enumerate(values):
        if not lo <= v <= hi:
            raise ValueError(f"{v} does not fit in {bits} signed bits")
        if msb_first:
            big = (big << bits) | (v & mask)
        else:
            big |= (v & mask) << (i * bits)
    if msb_first:
        big <<= nbytes * 8 - len(values) * bits
    return big.to_bytes(nbytes, "big" if msb_first else "little")
