"""Heartbeats in the rest: the ECG a surface electrode picks up near the heart.

Over the trunk (erector spinae, quadratus lumborum, trapezius, pectoralis) the heart's QRS
complex reaches the EMG electrodes at several times the muscle's rest level. Its power lies
mostly below 40–60 Hz, inside the EMG band-pass's 20 Hz edge: each beat is then a burst of
power the change test takes for the start of a contraction. Measured (a simulated QRS 5×
the rest's RMS, 90 s of rest, 1 kHz): ~110 provisional onsets, one per beat, all retracted
as too brief — the patient's page flickered at every heartbeat; with the edge at 60 Hz, 0–2,
up to a QRS 20× the rest. EMG keeps most of its power above 60 Hz.

The rest calibration says whether the heart is there: beats are short bursts of power far
above the rest's median, at a heart's intervals (0.33–2 s, 30–180 beats a minute), evenly
spaced, and no other burst between them. Rest noise makes no such train (its 40 ms power
reaches 2.4× its median at 1–2 kHz, 3.3× at 500 Hz, in the worst of 200 rests of 3 s: a
lone window, never three at a heart's intervals); a motion artifact is one burst, not an
even train; tremor bursts come faster than a heart beats. Pure and I/O-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from isofeedback.types import FloatArray

__all__ = ["BEAT_RATIO", "Heartbeats", "measure_heartbeats"]

#: a beat's power (40 ms mean) at least this many times the rest's median
BEAT_RATIO = 3.0
_WINDOW_S = 0.04  # the power's moving mean: a QRS complex's width
_WIDTH_S = 0.15  # a beat's power stays above half its peak at most this long
_INTERVAL_S = (0.33, 2.0)  # 30–180 beats a minute
_COMPLEX_S = 0.1  # a burst this soon after a beat's peak is the same QRS complex
_EVEN = 0.3  # successive intervals within ±30 % of their median
_MIN_BEATS = 3


@dataclass(frozen=True, slots=True)
class Heartbeats:
    """The beats found in the rest (their peaks, seconds from its start), the median
    ratio of their power to the rest's, and the bursts that were no beat (too wide, or
    too soon after one: a faster rhythm, tremor); ``found``: an even train of at least
    three and nothing else."""

    times: tuple[float, ...]
    ratio: float
    others: int = 0

    @property
    def found(self) -> bool:
        if len(self.times) < _MIN_BEATS or self.others:
            return False
        intervals = np.diff(np.asarray(self.times))
        mid = float(np.median(intervals))
        return bool(_INTERVAL_S[0] <= mid <= _INTERVAL_S[1]
                    and np.all(np.abs(intervals - mid) <= _EVEN * mid))


def measure_heartbeats(y: FloatArray, fs: float) -> Heartbeats:
    """Heartbeats in ``y``: the rest calibration's samples of one channel after the EMG
    band-pass (the edge where the heart's power is seen), sampled at ``fs``.

    >>> rng = np.random.default_rng(0)
    >>> y = rng.standard_normal(3000)
    >>> measure_heartbeats(y, 1000.0).found
    False
    >>> for k in (300, 1100, 1900, 2700):
    ...     y[k:k + 20] += 12.0 * np.sin(np.arange(20) * 1.3)
    >>> hb = measure_heartbeats(y, 1000.0)
    >>> hb.found, [round(t, 1) for t in hb.times]
    (True, [0.3, 1.1, 1.9, 2.7])
    """
    w = max(1, int(round(_WINDOW_S * fs)))
    if y.size < 4 * w:
        return Heartbeats((), 0.0)
    power = np.convolve(np.square(np.asarray(y, dtype=np.float64)), np.ones(w) / w, "same")
    rest = float(np.median(power))
    if not rest > 0:
        return Heartbeats((), 0.0)
    # the runs of power above the ratio, found per array (a beat is one run, or two when
    # its QRS dips between its lobes)
    above = np.concatenate(([False], power > BEAT_RATIO * rest, [False]))
    edges = np.flatnonzero(above[1:] != above[:-1])
    times: list[float] = []
    ratios: list[float] = []
    others = 0
    widest = int(round(_WIDTH_S * fs))
    for a, b in zip(edges[0::2], edges[1::2], strict=True):
        peak = int(a) + int(np.argmax(power[a:b]))
        # the burst's width at half its peak, looked for within ±widest of it
        lo = max(0, peak - widest)
        high = power[lo : peak + widest + 1] > 0.5 * power[peak]
        k = peak - lo
        left = np.flatnonzero(~high[:k])
        right = np.flatnonzero(~high[k:])
        width = (k + (int(right[0]) if right.size else high.size - k)
                 - (int(left[-1]) + 1 if left.size else 0))
        if width <= widest and (not times or peak / fs - times[-1] >= _INTERVAL_S[0]):
            times.append(round(peak / fs, 3))
            ratios.append(float(power[peak]) / rest)
        elif not times or peak / fs - times[-1] > _COMPLEX_S:
            others += 1
    return Heartbeats(tuple(times), float(np.median(ratios)) if ratios else 0.0, others)
