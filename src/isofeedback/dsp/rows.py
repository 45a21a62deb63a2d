"""Rows gathered into one array as they come: what ``np.concatenate`` of the pieces gives.

A rest calibration keeps every sample of its first seconds and takes their median at
its end. Kept as a list of pieces, the end paid for joining ~300 of them (a Myo packet
is 2 rows) on the one packet where the calibration ends: ~0.3 ms of its ~1 ms, and in a
gateway whose wearables were all switched on together every session pays it on the same
packet. :class:`Rows` copies each piece into place when it comes (well under a
microsecond), so the end only reads the filled array. Values, dtype and memory layout
(C order, one block) are ``np.concatenate``'s, so a median or a mean of it has the
same bits.

>>> import numpy as np
>>> rows = Rows(4)
>>> rows.add(np.array([1.0, 2.0])); rows.add(np.array([3.0]))
>>> rows.filled().tolist(), rows.full
([1.0, 2.0, 3.0], False)
>>> rows.add(np.array([4.0])); rows.full
True
"""

from __future__ import annotations

import numpy as np

from isofeedback.types import FloatArray

__all__ = ["RecentRows", "Rows"]


class Rows:
    """Up to ``capacity`` rows (along the first axis) gathered in one array.

    The array is made by the first piece (its dtype and row shape) and promoted when a
    later piece's dtype needs it (``np.result_type``, as ``np.concatenate`` promotes); a
    piece that would overflow ``capacity`` is an error (the caller knows how many rows it
    keeps)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: FloatArray | None = None
        self._n = 0

    @property
    def n(self) -> int:
        """Rows gathered so far."""
        return self._n

    @property
    def full(self) -> bool:
        return self._n >= self.capacity

    def add(self, piece: FloatArray) -> None:
        """Copy ``piece``'s rows after those gathered so far."""
        k = piece.shape[0]
        if self._n + k > self.capacity:
            raise ValueError(f"{self._n} + {k} rows exceed the capacity of {self.capacity}")
        data = self._data
        if data is None:
            data = self._data = np.empty((self.capacity, *piece.shape[1:]), dtype=piece.dtype)
        elif piece.dtype != data.dtype:
            data = self._data = data.astype(np.result_type(data, piece))
        data[self._n : self._n + k] = piece
        self._n += k

    def filled(self) -> FloatArray:
        """The rows gathered so far as one array (a view: valid until the next ``add``)."""
        if self._data is None:
            return np.zeros(0)
        return self._data[: self._n]


class RecentRows:
    """The last ``keep`` rows of a stream (along the first axis), written forward into a
    buffer and shifted back only when it is full: a push copies the piece (no
    concatenation per chunk), and :meth:`last` reads the newest rows.

    >>> r = RecentRows(3, 1)
    >>> r.push(np.array([[1.0], [2.0]])); r.push(np.array([[3.0], [4.0]]))
    >>> r.last(3)[:, 0].tolist(), r.seen
    ([2.0, 3.0, 4.0], 4)
    """

    def __init__(self, keep: int, columns: int) -> None:
        self.keep = keep
        self._buf = np.zeros((4 * keep + 64, columns))
        self._pos = 0
        self._len = 0
        #: rows pushed since the start
        self.seen = 0

    def push(self, piece: FloatArray) -> None:
        n = piece.shape[0]
        keep = min(self._len, self.keep)
        if self._pos + n > self._buf.shape[0]:
            old = self._buf[self._pos - keep : self._pos].copy()
            if keep + n > self._buf.shape[0]:
                self._buf = np.zeros((2 * (self.keep + n), self._buf.shape[1]))
            self._buf[:keep] = old
            self._pos = keep
        self._buf[self._pos : self._pos + n] = piece
        self._pos += n
        self._len = keep + n
        self.seen += n

    @property
    def available(self) -> int:
        """Rows that can be read: ``keep`` before the newest push, and the push."""
        return self._len

    def last(self, k: int) -> FloatArray:
        """The newest ``k`` rows (fewer at the stream's start), oldest first; a view valid
        until the next push."""
        k = min(k, self._len)
        return self._buf[self._pos - k : self._pos]
