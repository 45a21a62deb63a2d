"""When a muscle counts as relaxed: the limit its residual activity is judged against.

Pure arithmetic, shared by the coach (``Coach.relaxed_limit``) and the benchmark that
measures the rule on real rests (``benchmarks/relaxed_real.py``).

The residual is the activity above the rest baseline, ``sqrt(envelope² − baseline²)``,
and near the baseline that square root magnifies the noise: an envelope one standard
deviation σ above a baseline b reads ``sqrt(2·b·σ)`` (:func:`noise_reading`). On a
wearable's 200–250 Hz EMG that is 6–7 % of the gentle reference at the calibration's rest
(more on real armbands, whose rest fluctuates more), above the 5 % a clinician
prescribes: a relaxed patient was told to let go whenever the baseline lagged the rest by a
fraction of σ, and at most repetitions once the sensor's noise rose (sweat, a loose
strap), since b and σ grow together. So the limit is never below that reading, grown with
the rest since the calibration. One σ, not a fitted factor: a tension that moves the
envelope by less than the rest's own standard deviation is not measured by it.
"""

from __future__ import annotations

import math

#: the limit's ceiling, as a fraction of the band's low end: a muscle working at half the
#: gentlest prescribed effort is not relaxed, whatever the sensor (a real armband's rest
#: after a gesture can rise tenfold on every electrode)
RELAXED_AT_MOST = 0.5


def noise_reading(baseline: float, noise: float) -> float:
    """What a rest envelope one ``noise`` (σ) above ``baseline`` reads as activity above
    the baseline (activity units): ``sqrt(2·b·σ)``, the first order of
    ``sqrt((b + σ)² − b²)``."""
    return math.sqrt(2.0 * baseline * noise)


def relaxed_limit(relaxed_below: float, band_low: float, reading: float,
                  rise: float) -> float:
    """The residual intensity above which a muscle is not relaxed: ``relaxed_below``, or
    the rest noise's ``reading`` at the calibration (in the protocol's unit) times the
    rest baseline's ``rise`` since then when that is higher, at most
    ``RELAXED_AT_MOST`` of the band's low end.

    >>> relaxed_limit(5.0, 50.0, 6.7, 1.0), relaxed_limit(5.0, 50.0, 6.7, 1.5)
    (6.7, 10.05...)
    >>> relaxed_limit(5.0, 50.0, 6.7, 10.0), relaxed_limit(5.0, 50.0, 2.0, 1.2)
    (25.0, 5.0)
    """
    return max(relaxed_below, min(reading * rise, RELAXED_AT_MOST * band_low))
