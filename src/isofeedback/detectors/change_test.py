"""The sequential change test: Page's CUSUM over per-sample evidence, with its decision.

One statistic serves both modes (at rest it tests for an onset, while active for a
release): a one-sided CUSUM with bounded false-alarm rate, decided when it exceeds a
threshold. It also remembers where it was last zero, the classic change-point estimate
that bounds the back-dating window (:mod:`.onset_timing`, :mod:`.release_timing`).
"""

from __future__ import annotations

import numpy as np

from isofeedback.detectors.changepoint import cusum
from isofeedback.types import FloatArray

__all__ = ["PageTest"]


class PageTest:
    """CUSUM state: ``s`` (the statistic) and ``zero`` (absolute index where it was last 0).

    >>> t = PageTest()
    >>> t.scan(np.array([1.0, -3.0, 2.0, 2.0, 2.0]), 100, h=3.5, earliest=0)
    (4, True)
    >>> t.zero
    101
    """

    def __init__(self) -> None:
        self.restart(0)

    def restart(self, at: int) -> None:
        """Start afresh at absolute sample ``at`` (after a decision, a calibration)."""
        self.s = 0.0
        self.zero = at

    def scan(self, llr: FloatArray, start: int, h: float, earliest: int) -> tuple[int, bool]:
        """Run over ``llr`` (samples from absolute index ``start``) until the statistic
        exceeds ``h`` at a sample ``earliest`` or later (relative to ``start``). Returns
        how many samples were consumed and whether a decision was reached (the decision
        is the last consumed sample; the caller restarts the test there)."""
        s, zero = cusum(llr, self.s)
        end = s.size
        hit = False
        if np.maximum.reduce(s) > h:
            over = s > h
            if earliest > 0:
                over[:earliest] = False
            first = int(np.argmax(over))
            if over[first]:
                hit = True
                end = first + 1
        if zero[end - 1]:  # the usual case, at rest and during a steady hold
            self.zero = start + end - 1
        else:
            zi = np.flatnonzero(zero[:end])
            if zi.size:
                self.zero = start + int(zi[-1])
        if not hit:
            self.s = float(s[-1])
        return end, hit

    def scan_few(self, llr: list[float], start: int, h: float, earliest: int) -> bool:
        """:meth:`scan` of a few samples in Python floats (finite: no NaN, no infinity)
        when none of them decides: the state moves as :meth:`scan` moves it and the
        answer is True. When one would decide, False, and the state is left as it was
        (the caller takes the array path, which back-dates the decision).

        The arithmetic is :func:`~.changepoint.cusum`'s, in its order: the running sum
        of the evidence, then the start added to it (not the start summed first: the
        bits differ), less the running minimum of those sums and 0; a statistic at or
        below 1e-9 is 0 and a reset. (Signed zeros cannot tell the two apart: every
        difference that could be ±0 is set to 0.)

        >>> t, u = PageTest(), PageTest()
        >>> t.s = u.s = 0.25
        >>> t.scan_few([1.0, -3.0, 0.5], 100, h=3.5, earliest=0)
        True
        >>> u.scan(np.array([1.0, -3.0, 0.5]), 100, h=3.5, earliest=0)
        (3, False)
        >>> (t.s, t.zero) == (u.s, u.zero)
        True
        >>> t.scan_few([2.0, 2.0], 103, h=3.5, earliest=0), t.s
        (False, 0.5)
        """
        s0 = self.s
        acc = 0.0
        low = 0.0
        s = s0
        last_zero = -1
        for k, x in enumerate(llr):
            acc = x if k == 0 else acc + x
            c = acc + s0
            if c < low:
                low = c
            s = c - low
            if s <= 1e-9:
                s = 0.0
                last_zero = k
            elif s > h and k >= earliest:
                return False
        if last_zero >= 0:
            self.zero = start + last_zero
        self.s = s
        return True
