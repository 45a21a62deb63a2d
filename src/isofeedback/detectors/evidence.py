"""Per-sample evidence of the two change tests: log-likelihood ratios of power samples.

A power sample ``z`` in rest units (a squared Gaussian sample over the rest variance) has
log-likelihood ratio ``z·(1 − 1/r)/2 − ln(r)/2`` for "variance ``r`` × rest" against
"rest". The onset test accumulates it for its alternative ``ratio``; the release test
accumulates its negative against the hold-following alternative (docs/detection.md,
*Onset / release* and *Release: the alternative follows the hold*). Gated samples (the
chain's spike and saturation gate) carry no power the tests can read; a gate that stays on
longer than an artifact can (:class:`LongGate`) is itself evidence of an onset.
"""

from __future__ import annotations

import numpy as np

from isofeedback.detectors.changepoint import BoolArray
from isofeedback.detectors.params import OnsetTest, ReleaseTest
from isofeedback.types import FloatArray

__all__ = ["LongGate", "OnsetEvidence", "ReleaseEvidence"]


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

    def most(self, evidence: float) -> float:
        """The most one sample may add (what :meth:`llr` gives a sample far above rest):
        the evidence of a sample known only to be beyond the converter's range."""
        return float(self.llr(np.array([np.inf]), evidence)[0])


class ReleaseEvidence:
    """Evidence for rest against "hold power / ``test.hold_div``" (between
    ``test.ratio`` and ``test.ratio_max`` × rest), per sample: the stronger the hold, the
    more each rest sample weighs against it, so the release is decided sooner (a fixed 3×
    alternative gathers ~0.2 nat per sample, 5× slower in time at 200 Hz than at 1 kHz).

    >>> e = ReleaseEvidence(ReleaseTest())
    >>> e.follow(40.0); round(float(e.llr(np.array([1.0]))[0]), 3)
    0.701
    """

    def __init__(self, test: ReleaseTest) -> None:
        self.test = test
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
        return self.b - z * self.a


class LongGate:
    """Where the chain's gate has been on for more than ``limit`` samples in a row.

    The gate is meant for contact spikes and a clipped spike's band-pass ringing (at most
    ~0.2 s on the development records). A contraction strong enough to drive the converter
    to its rails keeps it on for as long as it lasts: a Myo armband clipped for seconds at
    a gesture's start and the onset test, given nothing, decided it 1.2–3.5 s late, after
    the cue's ±1 s (docs/detection.md, *Detector version 12*). Past ``limit`` the samples
    are beyond the converter's range, not unknown; the onset test counts them as such
    (:meth:`OnsetEvidence.most`). ``limit`` 0: never.

    >>> g = LongGate(2)
    >>> g.mask(np.array([1.0, 1.0, 1.0])).tolist(), g.mask(np.array([1.0, 0.0, 1.0])).tolist()
    ([False, False, True], [True, False, False])
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.run = 0  # gated samples in a row up to now

    def mask(self, gate: FloatArray) -> BoolArray | None:
        """True where the gate has been on for more than ``limit`` samples (``None``: at
        no sample of ``gate``, or never counted)."""
        on = gate > 0
        n = on.size
        if self.limit <= 0 or n == 0:
            return None
        idx = np.arange(1, n + 1)
        last_off = np.maximum.accumulate(np.where(on, 0, idx))
        run = idx - last_off + np.where(last_off == 0, self.run, 0)
        self.run = int(run[-1]) if on[-1] else 0
        long = run > self.limit
        return long if long.any() else None
