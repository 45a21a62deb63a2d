"""Gravity direction from the accelerometer: an absolute reference for the joint's pose.

The gyroscope gives rotation since the session began, and drifts; it cannot say where the
joint is relative to a pose measured on another day. While the limb is held still, the
accelerometer measures gravity, and the angle between today's gravity direction and the
one stored at the patient's first calibration is how far the limb is tilted from that
neutral pose (for rotations about a horizontal axis, as in most stretches; a rotation about
the vertical is invisible to it). Averaged over half a second, it is steady to ~0.1°.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from isofeedback.dsp.exact import norm, norm3, row_norms
from isofeedback.types import Chunk, FloatArray

__all__ = ["TiltTracker", "tilt_between", "tilts_between"]


def tilt_between(a: FloatArray | Sequence[float], b: FloatArray | Sequence[float]) -> float:
    """Angle in degrees between two gravity directions (3-vectors).

    Summed in Python floats: the products and squares of :func:`~isofeedback.dsp.exact.dot`
    and :func:`~isofeedback.dsp.exact.norm`, added left to right as numpy adds three
    values, so the same bits without their ~6 numpy calls (the live coach asks after
    every accelerometer packet); the arc cosine stays numpy's (a libm's may differ in
    the last bit, and :func:`tilts_between` uses numpy's).

    >>> round(tilt_between(np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.5, 0.866])), 1)
    30.0
    """
    ax, ay, az = a.tolist() if isinstance(a, np.ndarray) else a
    bx, by, bz = b.tolist() if isinstance(b, np.ndarray) else b
    cos = (ax * bx + ay * by + az * bz) / max(norm3(ax, ay, az) * norm3(bx, by, bz), 1e-12)
    return float(np.degrees(np.arccos(min(max(cos, -1.0), 1.0))))


def tilts_between(a: FloatArray, b: FloatArray) -> FloatArray:
    """:func:`tilt_between` of ``a`` and each row of ``b`` (``(n, 3)``) at once, the same
    bits as one at a time (a bulk replay must give the live session's numbers): the
    products are summed in the order :func:`~isofeedback.dsp.exact.dot` sums them (its
    pairwise sum adds three values left to right, as ``row_norms`` does), and numpy's
    ``arccos`` runs the same kernel on an array as on one value."""
    a = np.asarray(a, dtype=np.float64)
    products = b[:, 0] * a[0]
    for k in range(1, b.shape[1]):
        products += b[:, k] * a[k]
    cos = products / np.maximum(norm(a) * row_norms(b), 1e-12)
    return np.asarray(np.degrees(np.arccos(np.minimum(np.maximum(cos, -1.0), 1.0))),
                      dtype=np.float64)


class TiltTracker:
    """Accel chunks (g) → the mean gravity direction over the last ``window_s`` seconds.

    >>> t = TiltTracker(fs=100.0, window_s=0.5)
    >>> a = np.tile([0.0, 0.0, 1.0], (80, 1)); a[30:] = [0.0, 0.5, 0.866]
    >>> t.process(Chunk("accel", 100.0, 0, 0.0, a, ("x", "y", "z")))
    >>> round(tilt_between(np.array([0.0, 0.0, 1.0]), t.gravity), 1)
    30.0
    """

    def __init__(self, fs: float, window_s: float = 0.5) -> None:
        self.fs = fs
        self.window_s = window_s
        self._reset()

    def _reset(self) -> None:
        self._n = max(1, round(self.window_s * self.fs))
        # the last rows live in a buffer with room to append (a live wearable sends one
        # row at a time, 50 a second): rows [_end - n, _end) are the window
        self._buf: FloatArray = np.zeros((4 * self._n, 3))
        self._end = 0

    @property
    def _tail(self) -> FloatArray:
        """The last ``window_s`` of samples (fewer at the start), oldest first."""
        return self._buf[max(0, self._end - self._n) : self._end]

    def _append(self, rows: FloatArray) -> None:
        m, n = rows.shape[0], self._n
        if m >= n:
            self._buf[:n] = rows[-n:]
            self._end = n
            return
        if self._end + m > self._buf.shape[0]:
            keep = min(self._end, n)
            self._buf[:keep] = self._buf[self._end - keep : self._end].copy()
            self._end = keep
        self._buf[self._end : self._end + m] = rows
        self._end += m

    def process(self, chunk: Chunk) -> None:
        self._append(np.asarray(chunk.data[:, :3], dtype=np.float64))

    def process_many(self, chunks: list[Chunk]) -> list[FloatArray | None]:
        """:meth:`process` of each chunk in turn, returning :attr:`gravity` after each: the
        same bits (each window's mean is its rows added in order, as ``mean`` adds them,
        then divided by the count), computed for all windows at once."""
        if not chunks:
            return []
        return self.process_rows(np.vstack([np.asarray(c.data[:, :3], dtype=np.float64)
                                            for c in chunks]), [c.n for c in chunks])

    def process_rows(self, data: FloatArray, sizes: Sequence[int]) -> list[FloatArray | None]:
        """:meth:`process_many` of chunks given as their rows one after another (``data``,
        the first three columns are read) and each one's row count."""
        unit, known = self.gravity_rows(data, sizes)
        return [unit[k] if ok else None for k, ok in enumerate(known.tolist())]

    def gravity_rows(self, data: FloatArray, sizes: Sequence[int],
                     ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """:meth:`process_rows` as arrays (a bulk pass reads thousands): :attr:`gravity`
        after each chunk as a row, and whether it is known (the rows where it is not hold
        no direction)."""
        if not len(sizes):
            return np.zeros((0, 3)), np.zeros(0, dtype=bool)
        rows = np.vstack([self._tail, np.asarray(data[:, :3], dtype=np.float64)])
        ends = self._tail.shape[0] + np.cumsum(sizes)
        n = self._n
        sums = np.zeros((ends.size, 3))
        full = ends >= n
        if full.any():
            lo = ends[full] - n
            acc = rows[lo]
            for i in range(1, n):
                acc = acc + rows[lo + i]
            sums[full] = acc / n
        for k in np.flatnonzero(~full):  # the session's first samples: shorter windows
            sums[k] = rows[: ends[k]].mean(axis=0) if ends[k] else np.nan
        self._end = 0
        self._append(rows[-n:])
        length = row_norms(sums)
        return sums / length[:, None], length >= 0.5

    @property
    def gravity(self) -> FloatArray | None:
        """Unit gravity direction in the sensor frame; None before data or in free fall."""
        tail = self._tail
        m = tail.shape[0]
        if m == 0:
            return None
        # ``tail.mean(axis=0)`` is this sum divided by the count; the rest in Python floats
        # with :func:`~isofeedback.dsp.exact.norm`'s arithmetic (~4 numpy calls fewer)
        gx, gy, gz = (v / m for v in np.add.reduce(tail, axis=0).tolist())
        length = norm3(gx, gy, gz)
        return None if length < 0.5 else np.array([gx / length, gy / length, gz / length])
