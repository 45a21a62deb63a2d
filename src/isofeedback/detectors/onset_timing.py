"""Onset back-dating: when, before the decision, did the power start rising?

At an onset decision the change point is estimated in a bounded window of recent samples
(up to ``backdate_s`` before the CUSUM last left zero, and never before the previous
decision), by maximum likelihood under a rest → ramp → plateau variance model
(:func:`~isofeedback.detectors.changepoint.ramp_change_point`). The rest level is the
baseline (1), or, with ``onset.rest_fit`` (detector version 11, from 500 Hz), the mean
power of the samples before each candidate start, from ``onset.rest_anchor_s`` before the
window's first candidate on: where the rest ran above the baseline just before a
contraction, a model held to the baseline explains the excess as the start of a slow
ramp and back-dates the onset early. The chain's group delay is then subtracted.
"""

from __future__ import annotations

import numpy as np

from isofeedback.detectors.changepoint import BoolArray, ramp_change_point
from isofeedback.detectors.history import RecentSamples
from isofeedback.types import FloatArray

__all__ = ["first_candidate", "onset_index"]


def first_candidate(hist: RecentSamples, k: int, zero: int, look: int, since: int) -> int:
    """Earliest absolute sample the change may be placed at, for a decision at ``k``:
    ``look`` before the CUSUM was last zero, within the kept history, not before the
    previous decision ``since``."""
    return max(zero - look, k - hist.z.size + 1, since)


def onset_index(hist: RecentSamples, k: int, first: int, pre: int, fs: float,
                evidence: float, rest_fit: bool = False) -> float:
    """Most likely start (absolute, fractional sample index) of the rise decided at ``k``.
    ``evidence``: channels' worth of one fused sample, used in the likelihood too —
    without it the posterior is as wide as one channel's and, decided early in the ramp,
    the onset came 7 ms later (median, 8 channels, 20 dB)."""
    seg, val, w0 = hist.window(k, first, pre)
    weight: FloatArray | BoolArray = np.multiply(val, evidence) if evidence != 1.0 else val
    return w0 + ramp_change_point(seg, weight, fs, first - w0, rest_free=rest_fit)
