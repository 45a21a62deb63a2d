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
