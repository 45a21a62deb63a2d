"""Per-sample evidence of the two change tests: log-likelihood ratios of power samples.

A power sample ``z`` in rest units (a squared Gaussian sample over the rest variance) has
log-likelihood ratio ``z·(1 − 1/r)/2 − ln(r)/2`` for "variance ``r`` × rest" against
"rest". The onset test accumulates it for its alternative ``ratio``; the release test
accumulates its negative against the hold-following alternative (docs/detection.md,
*Onset / release* and *Release: the alternative follows the hold*).
"""

from __future__ import annotations

import numpy as np

from isofeedback.detectors.params import OnsetTest, ReleaseTest
from isofeedback.types import FloatArray

__all__ = ["OnsetEvidence", "ReleaseEvidence"]


class OnsetEvidence:
    """Evidence for "variance ``test.ratio`` × rest" against rest, per sample.

    One sample adds at most ``test.sample_max`` × ``test.h``: a contact spike's first,
    not yet gated sample cannot decide an onset alone (z = 400 gave 150 nats against a
    threshold of 10). Several fused channels (``evidence`` > 1, :mod:`.fusion`): half
    that per sample — a blip common to all electrodes (contact, a cable tug) is one
    event, not ``evidence`` independent ones; with the full cap such a 2-sample blip
    decided onsets and split a simulated hold.

    >>> e = OnsetEvidence(OnsetTest())
    >>> [round(float(x), 3) for x in e.llr(np.array([1.0, 4.0, 1e6]), 1.0)]
    [-0.318, 0.807, 5.0]
    """

    def __init__(self, test: OnsetTest) -> None:
        self.test = test
        self.a = 0.5 * (1.0 - 1.0 / test.ratio)
        self.b = 0.5 * float(np.log(test.ratio))
        self.z_cap = (test.sample_max * test.h + self.b) / self.a
        self.fused_cap = 0.5 * test.sample_max * test.h

    def llr(self, z: FloatArray, evidence: float) -> FloatArray:
        """Each sample's evidence; ``evidence``: channels' worth of one fused sample."""
        if evidence == 1.0:
            return np.minimum(z, self.z_cap) * self.a - self.b
        return np.minimum((z * self.a - self.b) * evidence, self.fused_cap)

    def llr_few(self, z: list[float], evidence: float) -> list[float]:
        """:meth:`llr` of a few samples in Python floats, no NaN among them (a live
        packet's): the same IEEE operations per sample, so the same bits.

        >>> e = OnsetEvidence(OnsetTest())
        >>> e.llr_few([1.0, 4.0, 1e6], 1.0) == e.llr(np.array([1.0, 4.0, 1e6]), 1.0).tolist()
        True
        """
        a, b = self.a, self.b
        if evidence == 1.0:
            cap = self.z_cap
            return [(x if x < cap else cap) * a - b for x in z]
        cap = self.fused_cap
        return [y if y < cap else cap for y in [(x * a - b) * evidence for x in z]]


class ReleaseEvidence:
    """Evidence for rest against "hold power / ``test.hold_div``" (between
    ``test.ratio`` and ``test.ratio_max`` × rest), per sample: the stronger the hold, the
    more each rest sample weighs against it, so the release is decided sooner (a fixed 3×
    alternative gathers ~0.2 nat per sample, 5× slower in time at 200 Hz than at 1 kHz).

    >>> e = ReleaseEvidence(ReleaseTest())
    >>> e.follow(40.0); round(float(e.llr(np.array([1.0]))[0]), 3)
    0.701
    """

    def __init__(self, test: ReleaseTest, weight: float = 1.0) -> None:
        self.test = test
        self.weight = weight  # the evidence one sample counts (SampleCounts.weight)
        self.start()

    def start(self, rest: float = 1.0) -> None:
        """A new activation: the alternative is ``test.ratio`` until a hold is measured;
        ``rest``: the rest level it started from (rest units), which the release returns
        to."""
        self.rest = rest
        self._set(self.test.ratio)

    def follow(self, hold: float) -> None:
        """A full block of the hold had mean power ``hold`` (rest units)."""
        t = self.test
        self._set(min(max(hold / self.rest / t.hold_div, t.ratio), t.ratio_max))

    def _set(self, r: float) -> None:
        self.a = 0.5 * (1.0 - 1.0 / r)
        self.b = 0.5 * float(np.log(r))
        if self.rest != 1.0:
            self.a /= self.rest

    def llr(self, z: FloatArray) -> FloatArray:
        if self.weight == 1.0:
            return self.b - z * self.a
        return (self.b - z * self.a) * self.weight

    def llr_few(self, z: list[float]) -> list[float]:
        """:meth:`llr` of a few samples in Python floats (the same operations)."""
        a, b, w = self.a, self.b, self.weight
        if w == 1.0:
            return [b - x * a for x in z]
        return [(b - x * a) * w for x in z]
