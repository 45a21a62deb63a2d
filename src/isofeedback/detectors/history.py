"""The recent samples a decision is back-dated over: power, validity and envelope.

A buffer written forward and shifted back only when full, so a chunk costs a copy of its
own samples and never a reallocation; it keeps the last ``keep`` samples (the back-dating
window plus the rest level before it).
"""

from __future__ import annotations

import numpy as np

from isofeedback.detectors.changepoint import BoolArray
from isofeedback.types import FloatArray

__all__ = ["RecentSamples"]


class RecentSamples:
    """The last ``keep`` samples of power ``z`` (rest units), ``valid`` and ``env``.

    >>> h = RecentSamples(3)
    >>> h.push(np.arange(5.0), np.ones(5, bool), np.zeros(5), True)
    >>> h.z.tolist()
    [2.0, 3.0, 4.0]
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._reset()

    def _reset(self) -> None:
        self._z = np.zeros(4 * self.keep)
        self._v = np.zeros(4 * self.keep, dtype=bool)
        self._e = np.zeros(4 * self.keep)
        #: the power before the change tests' clip (``z`` is clipped at ``onset.z_max``),
        #: kept only when given (a release fit that needs a strong hold's real level)
        self._q = np.zeros(4 * self.keep)
        self._pos = 0

    @property
    def z(self) -> FloatArray:
        return self._z[max(0, self._pos - self.keep) : self._pos]

    @property
    def valid(self) -> BoolArray:
        return self._v[max(0, self._pos - self.keep) : self._pos]

    @property
    def env(self) -> FloatArray:
        return self._e[max(0, self._pos - self.keep) : self._pos]

    def push(self, z: FloatArray, valid: BoolArray, env: FloatArray, all_valid: bool,
             q: FloatArray | None = None) -> None:
        """Append samples (``all_valid``: none gated, ``valid`` need not be read; ``q``:
        the unclipped power, when kept)."""
        m, keep = z.size, self.keep
        if m >= keep:
            self._z[:keep] = z[-keep:]
            self._v[:keep] = valid[-keep:]
            self._e[:keep] = env[-keep:]
            if q is not None:
                self._q[:keep] = q[-keep:]
            self._pos = keep
            return
        pos = self._room(m)
        self._z[pos : pos + m] = z
        self._v[pos : pos + m] = True if all_valid else valid
        self._e[pos : pos + m] = env
        if q is not None:
            self._q[pos : pos + m] = q
        self._pos = pos + m

    def push_few(self, z: list[float], env: list[float], q: list[float] | None = None) -> None:
        """:meth:`push` of fewer than ``keep`` valid samples given as Python floats (a live
        packet's): stored one by one, ~0.1 µs each, where a slice assignment from a list
        costs ~1 µs."""
        pos0 = pos = self._room(len(z))
        zb, vb, eb = self._z, self._v, self._e
        for zi, ei in zip(z, env, strict=True):
            zb[pos] = zi
            vb[pos] = True
            eb[pos] = ei
            pos += 1
        if q is not None:
            qb = self._q
            for j, qi in enumerate(q):
                qb[pos0 + j] = qi
        self._pos = pos

    def _room(self, m: int) -> int:
        """Where ``m`` (< ``keep``) new samples go: the kept ones are shifted to the front
        when the buffer has no room after them."""
        keep, pos = self.keep, self._pos
        if pos + m > self._z.size:
            self._z[:keep] = self._z[pos - keep : pos]
            self._v[:keep] = self._v[pos - keep : pos]
            self._e[:keep] = self._e[pos - keep : pos]
            self._q[:keep] = self._q[pos - keep : pos]
            pos = keep
        return pos

    def unclipped(self, w0: int, k: int) -> FloatArray:
        """The unclipped power of absolute samples ``w0 .. k`` (``k`` the newest), as
        :meth:`window` gives their clipped power (only where it was pushed)."""
        q = self._q[max(0, self._pos - self.keep) : self._pos]
        return q[w0 - k - 1 :] if w0 <= k else q[-1:]

    def window(self, k: int, first: int, pre: int) -> tuple[FloatArray, BoolArray, int]:
        """The samples from ``pre`` before absolute index ``first`` (or the oldest kept)
        to the decision sample ``k`` (the newest): power, validity, and the absolute
        index of the window's first sample."""
        z = self.z
        w0 = max(first - pre, k - z.size + 1)
        if w0 <= k:
            return z[w0 - k - 1 :], self.valid[w0 - k - 1 :], w0
        return z[-1:], self.valid[-1:], w0
