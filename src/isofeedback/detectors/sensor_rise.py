"""Whose is a rest that settled higher: the sensor's or the muscle's? Told by the electrodes.

A level-drop release (:mod:`.level_drop`) ends an activation whose power stayed far below
its hold but above the calibrated rest. That new level is tension that did not let go
(the patient must be told to relax before the stretch), or the sensor's own noise risen
(sweat under the electrodes, a strap that shifted), which no relaxing can lower — a
coach that says "let the muscle go completely" to a relaxed patient, rep after rep, is
wrong and cannot be obeyed — or both. One channel cannot tell them apart. Several can: a
muscle reaches the electrodes in the pattern its hold showed (strong under it, weak far
from it, cross-talk in proportion), while the sensor's noise rises on the far
electrodes as on the near ones. So each channel's rise over its calibrated rest is
taken as a common part (the sensor's) plus a part in proportion to the hold (the
muscle's), both ≥ 0, fitted by least squares: :func:`sensor_share` gives the common part.
The muscle's part stays for the coach to judge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from isofeedback.dsp.exact import dot, mean
from isofeedback.types import FloatArray

__all__ = ["SENSOR_MOST", "SPREAD_RATIO", "SpatialSplit", "sensor_part", "sensor_share"]

#: a rise this share or more common to every electrode is taken for the sensor's noise
#: whole (what is left is within the split's own noise)
SENSOR_MOST = 0.8

#: the weakest electrode saw at most this share of the strongest one's hold excess: the
#: channels then tell a common rise from one in the hold's pattern
SPREAD_RATIO = 0.25


@dataclass(frozen=True, slots=True)
class SpatialSplit:
    """Each channel's rise over its rest (power, rest units) as ``common`` (the sensor's,
    the same on every electrode) + ``muscle`` × the channel's hold excess."""

    common: float
    muscle: float


def sensor_share(low: FloatArray, rest: FloatArray, hold: FloatArray) -> SpatialSplit | None:
    """The rise common to every electrode (the sensor's), as a multiple of the rest's
    power, in the raised rest ``low`` (each channel's mean power), and the rest of each
    channel's rise in proportion to ``hold`` (the muscle's).

    ``rest``: each channel's calibrated rest power; ``hold``: each channel's excess power
    during the activity the weights were learnt on, in rest units (the muscle's
    pattern). None when the channels cannot tell: fewer than two, or a hold that
    reached every electrode nearly alike (the weakest more than :data:`SPREAD_RATIO` of
    the strongest).

    >>> rest = np.ones(4); hold = np.array([20.0, 6.0, 0.5, 0.2])
    >>> s = sensor_share(np.array([2.5, 2.4, 2.6, 2.5]), rest, hold)  # all 2.5×
    >>> round(s.common, 2), round(s.muscle, 4)
    (1.5, 0.0)
    >>> sensor_share(np.array([5.0, 2.2, 1.0, 1.0]), rest, hold).common  # the hold's pattern
    0.0
    >>> sensor_share(np.full(4, 2.0), rest, np.array([9.0, 8.0, 7.0, 9.0])) is None
    True
    """
    if low.size < 2 or low.shape != rest.shape or low.shape != hold.shape:
        return None
    peak = float(hold.max())
    if not (np.isfinite(peak) and peak > 0 and float(hold.min()) <= SPREAD_RATIO * peak):
        return None
    rise = low / np.maximum(rest, 1e-300) - 1.0
    if not np.all(np.isfinite(rise)):
        return None
    # least squares of rise = g + a·hold with g, a ≥ 0 (the two-parameter fit in closed
    # form; a bound that binds leaves a one-parameter fit)
    # (sums in a fixed order, not BLAS's: the same last bit on every processor)
    rise_mean, hold_mean = float(mean(rise)), float(mean(hold))
    h = hold - hold_mean
    hh = dot(h, h)
    if not hh > 0:  # (a spread that underflows)
        return None
    a = dot(h, rise - rise_mean) / hh
    if a <= 0:
        a, g = 0.0, rise_mean
    else:
        g = rise_mean - a * hold_mean
        if g < 0:
            return SpatialSplit(0.0, max(dot(hold, rise) / dot(hold, hold), 0.0))
    return SpatialSplit(max(g, 0.0), a)


def sensor_part(split: SpatialSplit, mixed: float) -> float:
    """The sensor's part of a mix of the channels whose power rose by ``mixed`` rest
    units (the envelope's mix, measured on it: firmer than the split's parts, which
    rest on a few channels each): all of it when the common part is at least
    :data:`SENSOR_MOST` of the rise (in power over the rest, ``1 + …``), else the common
    part (at most the rise).

    >>> sensor_part(SpatialSplit(1.3, 0.0), 1.5), sensor_part(SpatialSplit(0.2, 0.05), 4.0)
    (1.5, 0.2)
    """
    if 1.0 + split.common >= SENSOR_MOST * (1.0 + mixed):
        return mixed
    return min(split.common, mixed)
