"""Release timing: the filters' decay in the release model, and the envelope's fall.

Both place a release more precisely than the likelihood model alone: the chain's filters
keep ringing after the muscle let go (:func:`fall_shapes`; :func:`release_tail` before
version 19), and the envelope's last fall below a threshold (:func:`envelope_fall`) errs
nearly independently of the back-dated change, so at wearable rates their mean beats
either (docs/detection.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from isofeedback.detectors.changepoint import RAMPS_S, FallShapes, ramp_change_point
from isofeedback.detectors.history import RecentSamples
from isofeedback.dsp.filters import emg_bandpass, impulse_energy, mains_notch
from isofeedback.types import FloatArray

__all__ = [
    "FALL_HOLD",
    "FALL_NOISE",
    "envelope_fall",
    "envelope_fall_time",
    "fall_shapes",
    "release_index",
    "release_tail",
]

#: the release threshold on the envelope
FALL_NOISE = 4.0  # rest-noise units above the baseline
FALL_HOLD = 0.25  # of the way from the baseline to the hold


def release_tail(
    fs: float, delay_s: float, scale: float, filters: Sequence[FloatArray] | None = None
) -> FloatArray:
    """The EMG chain's power decay after a release, as a fraction of the hold's power,
    per sample from the (delay-corrected) release: for a white input that stops, the
    energy of the chain's impulse response still to come, times ``scale``. ``filters``:
    the chain's SOS cascade (band-pass, notches); by default the standard band-pass and
    50 Hz notches.

    At 200 Hz the notch's 5 Hz band (1/14 of the 20–90 Hz band, not 1/86 as at 1 kHz)
    rings for ~Q/(π·f) ≈ 64 ms: after a strong hold the power stays above rest for
    100–150 ms, and the plain model put releases 25–45 ms late. ``scale`` < 1: the full
    white-input tail over-corrects (releases 10–45 ms early); a quarter of it leaves the
    signed release error within a few ms of zero at 5, 10 and 20 dB (two seeds).

    >>> t = release_tail(200.0, 0.0, 1.0)
    >>> bool(t[0] > 0.5 and t[20] < 0.05 and np.all(np.diff(t) <= 0))
    True
    """
    if filters is None:
        notch = mains_notch(fs, 50.0, 3, 10.0)
        filters = [emg_bandpass(fs)] + ([notch] if notch is not None else [])
    c = np.cumsum(impulse_energy(fs, filters))
    tail = 1.0 - c / c[-1]
    d = int(round(delay_s * fs))
    return np.asarray(scale * tail[d:], dtype=np.float64)


def fall_shapes(fs: float, delay_s: float, filters: Sequence[FloatArray] | None = None,
                ramps_s: tuple[float, ...] = RAMPS_S) -> FallShapes:
    """The chain's power during and after a release, as a fraction of the hold's, for a
    white input whose amplitude falls linearly to zero over each ramp of ``ramps_s`` (a
    step for 0): the fall's squared amplitude convolved with the chain's impulse energy,
    per sample from the (delay-corrected) end of the fall. ``filters``: as for
    :func:`release_tail`.

    Why not :func:`release_tail` added to every ramp (versions ≤ 18): the filters ring
    after what went in, so a step leaves their whole decay and a slow fall, whose last
    part is already weak, little. The added decay had to be scaled by 0.25 to keep our
    simulator's ramped falls from coming out early, and then instant offsets (NeuroKit2's
    bursts) came out 17–23 ms late: the exact decay of each fall has no scale to choose.

    >>> f = fall_shapes(1000.0, 0.0)
    >>> step, slow = f.values[0], f.values[-1]
    >>> bool(f.first[0] < 0 and np.all(np.diff(step) <= 1e-12) and step[-1] < 1e-3)
    True
    >>> after = lambda j, u: float(np.interp(u, f.first[j] + np.arange(f.values[j].size),
    ...                                      f.values[j]))
    >>> after(0, 10) > 20 * after(5, 10)  # 10 ms after a step vs after a 0.3 s fall
    True
    """
    if filters is None:
        notch = mains_notch(fs, 50.0, 3, 10.0)
        filters = [emg_bandpass(fs)] + ([notch] if notch is not None else [])
    h = impulse_energy(fs, filters)
    n = h.size
    k = np.arange(n, dtype=np.float64)
    # running sums of h, k·h and k²·h: strictly left to right (``add.accumulate``), so the
    # tables are the same to the bit on every processor (a SIMD dot product or sum, as in
    # ``np.convolve``, adds in an order that depends on the processor)
    p0, p1, p2 = (np.concatenate(([0.0], np.add.accumulate(w)))
                  for w in (h, k * h, k * k * h))
    firsts: list[float] = []
    values: list[FloatArray] = []
    for r in ramps_s:
        ramp = r * fs
        first = -int(np.ceil(ramp)) - 2  # output samples from the end of the fall
        u = np.arange(first, n)
        # a tap k of the filters sees the input j = k - u samples before the end: the hold
        # (1) for j >= ramp, (j / ramp)² inside the fall, nothing (0) after the end
        hold_from = int(np.ceil(ramp)) if ramp > 0 else 1
        e = p0[n] - p0[np.clip(u + hold_from, 0, n)]
        if ramp > 0:
            lo, hi = np.clip(u + 1, 0, n), np.clip(u + hold_from, 0, n)
            uf = u.astype(np.float64)
            e = e + ((p2[hi] - p2[lo]) - 2.0 * uf * (p1[hi] - p1[lo])
                     + uf * uf * (p0[hi] - p0[lo])) / (ramp * ramp)
        # on the delay-corrected clock the detector's times are on (tabulated at whole
        # samples from the end itself, so that a fall that ends on a sample is read
        # there, not between two of the table's samples)
        firsts.append(first - delay_s * fs)
        values.append(np.asarray(e / p0[n], dtype=np.float64))
    return FallShapes(tuple(ramps_s), tuple(firsts), tuple(values))


def envelope_fall(env: FloatArray, baseline: float, noise: float) -> int | None:
    """Index in ``env`` (recent envelope, oldest first) of the first sample after its last
    fall below the threshold (``None`` if it never rose above it, or is above it now).

    The threshold: ``FALL_NOISE`` rest-noise units above the baseline, or ``FALL_HOLD`` of
    the way to the hold's level (the history's 90th percentile), whichever is higher —
    the crossing of a fixed noise level comes late after strong holds, one of the hold's
    level comes early at low SNR.

    >>> envelope_fall(np.array([0.0, 10.0, 10.0, 10.0, 0.5, 0.2]), 0.0, 1.0)
    4
    """
    if env.size < 2:
        return None
    hold = float(np.percentile(env, 90))
    thr = baseline + max(FALL_NOISE * noise, FALL_HOLD * (hold - baseline))
    above = np.flatnonzero(env > thr)
    if above.size == 0 or above[-1] == env.size - 1:
        return None
    return int(above[-1]) + 1


def release_index(hist: RecentSamples, k: int, first: int, pre: int, fs: float,
                  tail: FloatArray | FallShapes | None, rest: float = 1.0,
                  estimate: str = "mean", clip: float | None = None) -> float:
    """End (absolute, fractional sample index) of the activity whose release was decided
    at ``k``: the onset's model with time reversed, the filters' decay before the reversed
    start (``tail``: :func:`fall_shapes`, or :func:`release_tail` added to every ramp);
    ``rest``: the level (rest units) the power returned to; ``estimate``: the posterior's
    ``mean``, ``median`` or ``map``; ``clip``: fit the unclipped power
    (:meth:`~.history.RecentSamples.unclipped`) clipped here instead of as the change
    tests saw it."""
    seg, val, w0 = hist.window(k, first, pre)
    if clip is not None:
        seg = np.minimum(hist.unclipped(w0, k), clip)
    if rest != 1.0:
        seg = seg / rest
    cp = ramp_change_point(seg[::-1], val[::-1], fs, 0, tail=tail, estimate=estimate)
    return min(k - cp, float(k + (k - first)))


def envelope_fall_time(hist: RecentSamples, k: int, t0: float, fs: float, baseline: float,
                       noise: float) -> float | None:
    """Session time of :func:`envelope_fall` in the kept history, whose newest sample is
    the decision ``k`` (``t0``: time of absolute sample 0)."""
    env = hist.env
    i = envelope_fall(env, baseline, noise)
    if i is None:
        return None
    return t0 + (k - (env.size - 1) + i) / fs
