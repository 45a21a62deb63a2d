"""What a CSV's time column says: the sample rate, rows missing, and how far the times stray.

Files write their times every way: to as many decimals as the rate needs or too few
(``0.000, 0.001, 0.001`` at 2 kHz), to significant digits (MATLAB's ``csvwrite``), with
rows left out (a device's lost samples: the time skips whole intervals), or as a logger's
arrival times that jitter about an even rate (a phone's BLE log). :func:`time_axis` reads
each as the even rate it is, the rows missing as gaps, or says in one clear error why the
times are none of these (jitter beyond :data:`JITTER_MAX_S`, a repeated row, a step back).
Pure: numpy only.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from isofeedback import checks
from isofeedback.errors import RecordingError
from isofeedback.profiles.schema import MAX_FS_HZ, MIN_FS_HZ
from isofeedback.types import FloatArray

__all__ = ["JITTERY_SHARE", "JITTER_MAX_S", "TimeAxis", "time_axis"]


class TimeAxis(NamedTuple):
    """What a time column says: the sample rate, where rows are missing (``(row, rows
    missing just before it)``) and, for times that jitter about an even rate (a logger's
    arrival times), how far (seconds, peak to peak; None for times on an even grid)."""

    rate: float
    losses: list[tuple[int, int]]
    jitter_s: float | None = None


#: times that stray from an even rate by up to this (peak to peak) are arrival times of
#: evenly sampled data (a phone's BLE log: packets arrive 7.5–50 ms apart, late by a
#: scheduler's whim); beyond it, or when the file is not 50 times as long, they are not
JITTER_MAX_S = 0.1
#: jitter strays in many intervals (all but one in ten of a packet's, many of a sample's)
JITTERY_SHARE = 0.01
#: a time column whose first time is beyond this (~12 days) counts from an epoch, not from
#: the recording's start
EPOCH_CLOCK_S = 1e6


def time_axis(path: Path, t: Any, first_line: int = 2) -> TimeAxis:
    """The sample rate of a time column in seconds whose first value is on the file's line
    ``first_line`` (after comment lines, the header and a row of units): a line named in
    an error is the file's own; and where rows are missing (the time skips whole sample
    intervals, a device's lost samples).

    A clock counted from an epoch (Unix time, as phones and wearables stamp samples) is
    read from its first time on: written to the ms, its values carry ~1e-7 s of a
    double's rounding and 16 significant digits, and read as they are, three samples a
    Shimmer lost at 1024 Hz passed for the rounding of an even rate (every later sample
    ~3 ms early)."""
    if len(t) < 2:
        raise RecordingError(f"{path}: need at least two samples to find the sample rate")
    t = np.asarray(t, dtype=np.float64)
    if abs(float(t[0])) > EPOCH_CLOCK_S:
        # from the first time, to the digit a double holds at the clock's size (1e-6 s for
        # Unix seconds): the times' rounding, not a double's, then tells their decimals
        q = 10.0 ** math.ceil(math.log10(2.0 * float(np.spacing(abs(float(t[0]))))))
        t = np.round((t - t[0]) / q) * q
    d = np.diff(t)
    if np.any(d < 0):
        row = int(np.argmax(d < 0)) + 1 + first_line
        raise RecordingError(f"{path}: time column goes back in time (line {row})")
    if t[-1] <= t[0]:
        raise RecordingError(f"{path}: time column does not advance (line {first_line} "
                             "to the last); give the sample rate with --fs instead")
    rate = (len(t) - 1) / float(t[-1] - t[0])
    off = np.abs(d * rate - 1.0)

    def checked(fs: float) -> float:
        return checks.number(fs, "the sample rate of the time column", low=MIN_FS_HZ,
                             high=MAX_FS_HZ, where=str(path), error=RecordingError)

    if np.max(off) <= 0.1:
        return TimeAxis(checked(_whole_rate(t, rate, _time_step(t))), [])
    rounded = _rounded_rate(t, rate)
    if rounded is not None:
        # times written with fewer decimals than the sampling needs (3 decimals at 2 kHz:
        # 0.000, 0.001, 0.001, 0.002 …): an even rate, each time within its rounding
        return TimeAxis(checked(rounded), [])
    if not np.any(d == 0) and (gapped := _gapped_rate(t)) is not None:
        return TimeAxis(checked(gapped[0]), gapped[1])
    jittered = _jittered_rate(t)
    if jittered is not None:
        return TimeAxis(checked(jittered[0]), [], jittered[1])
    if np.any(d == 0):
        row = int(np.argmax(d == 0)) + 1 + first_line
        raise RecordingError(f"{path}: time column repeats the time of the line before "
                             f"(line {row}), not from rounding an even rate nor from "
                             "arrival times' jitter; remove the repeated rows")
    i = int(np.argmax(off))  # the worst: a gap, not the even interval before it
    raise RecordingError(f"{path}: irregular sampling in the time column: line "
                         f"{i + 1 + first_line} comes {d[i]:.6g} s after the one before, "
                         f"the file's mean interval is {1.0 / rate:.6g} s (jitter beyond "
                         f"{JITTER_MAX_S * 1000:g} ms, not whole sample intervals missing); "
                         "resample to a constant rate first")


def _jittered_rate(t: Any) -> tuple[float, float] | None:
    """The even rate that times straying by at most :data:`JITTER_MAX_S` about it fit
    best (least squares over the rows), and how far they stray (peak to peak, seconds);
    None when they stray further, the file is shorter than 50 times that, or fewer than
    :data:`JITTERY_SHARE` of the intervals stray (a row repeated or shifted in an even
    column is an error to name, not jitter). The rate is a whole number of Hz when that
    is within what the jitter allows.

    >>> rng = np.random.default_rng(0)
    >>> i = np.arange(20000)
    >>> t = (i // 10) * 0.01 + np.repeat(rng.uniform(0, 0.004, 2000), 10)
    >>> rate, jitter = _jittered_rate(t)
    >>> rate, round(jitter, 3)
    (1000.0, 0.013)
    """
    d = np.diff(t)
    if np.mean(np.abs(d - np.median(d)) > 0.1 * abs(float(np.median(d)))) < JITTERY_SHARE:
        return None  # even but for a few rows: those are the file's errors, not jitter
    index = np.arange(len(t), dtype=np.float64)
    index -= index.mean()
    centred = t - t.mean()
    slope = float(index @ centred) / float(index @ index)
    if slope <= 0:
        return None
    left = centred - slope * index
    jitter = float(np.max(left) - np.min(left))
    span = float(t[-1] - t[0])
    if jitter > JITTER_MAX_S or span < 50 * jitter:
        return None
    rate = 1.0 / slope
    whole = float(round(rate))
    return (whole if abs(whole - rate) <= rate * jitter / span else round(rate, 6)), jitter


def _gapped_rate(t: Any) -> tuple[float, list[tuple[int, int]]] | None:
    """The rate of times that are even but for whole sample intervals skipped (rows the
    device lost or the file left out), and where those rows are missing; None when the
    times are not that (jitter: an interval more than a tenth of the typical one off a
    whole number of them, or the times off the even grid with the rows put back).

    >>> rate, losses = _gapped_rate(np.array([0.0, 0.001, 0.002, 0.005, 0.006]))
    >>> round(rate, 6), losses
    (1000.0, [(3, 2)])
    """
    d = np.diff(t)
    typical = float(np.median(d))
    if typical <= 0:
        return None
    intervals = np.rint(d / typical)
    if np.any(intervals < 1) or np.any(np.abs(d - intervals * typical) > 0.1 * typical):
        return None
    index = np.concatenate(([0.0], np.cumsum(intervals)))
    rate = float(index[-1]) / float(t[-1] - t[0])
    if float(np.max(np.abs(t - (t[0] + index / rate)))) > 0.1 / rate:
        return None
    losses = [(int(k) + 1, int(intervals[k]) - 1) for k in np.flatnonzero(intervals > 1)]
    return _whole_rate(t, rate, _time_step(t)), losses


def _time_step(t: Any) -> float | None:
    """The unit of the last digit the times were written with: of their last decimal, or
    of the last time's last significant digit (``%g``, MATLAB's ``csvwrite``); None when
    neither fits."""
    step = _decimal_step(t)
    if step is None and (units := _significant_units(t)) is not None:
        step = float(units[-1])
    return step


def _whole_rate(t: Any, rate: float, step: float | None) -> float:
    """``rate`` (from the first and last times) as a whole number of Hz when that is within
    what the rounding of those two times to their last decimal ``step`` allows: times
    written to the µs at 1926 Hz gave 1925.999966 Hz (and then no EDF export)."""
    if step is not None:
        whole = float(round(rate))
        if whole > 0 and abs(whole - rate) <= rate * step / float(t[-1] - t[0]):
            return whole
    return round(rate, 6)


def _decimal_step(t: Any) -> float | None:
    """The unit of the last decimal the times were written with (0.001 for ``12.345``), or
    None when they need more than 9 decimals (not written rounded); read from the first
    and last thousand times (a file writes them all alike), so an hour at 2 kHz costs
    nothing here."""
    if len(t) > 2000:
        t = np.concatenate((t[:1000], t[-1000:]))
    for k in range(10):
        scaled = t * 10.0**k
        top = float(np.max(np.abs(scaled)))
        if top > 1e15:  # beyond a double's integers: cannot tell
            return None
        if float(np.max(np.abs(scaled - np.round(scaled)))) <= 0.01 + 8e-16 * top:
            return 10.0**-k
    return None


def _rounded_rate(t: Any, rate: float) -> float | None:
    """The sample rate of a time column written with too few decimals for its rate (a
    logger's milliseconds at 2–4 kHz: 0.000, 0.001, 0.001, 0.002 …), or None when it is
    not that: every time within one unit of its last decimal of an even grid from the first
    to the last (a missing row is off by a whole sample interval, more than that unit
    unless the times were rounded; a repeated time needs that unit to be coarser than the
    interval). The rate as :func:`_whole_rate` gives it."""
    grid = t[0] + np.arange(len(t)) / rate
    step = _decimal_step(t)
    # a repeat needs a last decimal coarser than the sampling interval (1 kHz written in
    # whole ms never repeats): else it is a repeated row, not rounding
    if step is not None and not (step * rate <= 1.05 and np.any(t[1:] == t[:-1])) and (
            float(np.max(np.abs(t - grid))) <= step * (1 + 1e-6)):
        return _whole_rate(t, rate, step)
    units = _significant_units(t)
    if units is None:
        return None
    repeats = np.flatnonzero(t[1:] == t[:-1])
    if np.any(units[repeats] * rate <= 1.05):  # as above, each time with its own unit
        return None
    if np.any(np.abs(t - grid) > units * (1 + 1e-6) + 0.5 * units[-1]):
        return None
    return _whole_rate(t, rate, float(units[-1]))


def _significant_units(t: Any) -> FloatArray | None:
    """Each time's last written digit (its unit: 0.01 for ``100.01``) when the column was
    written to a number of significant digits, not of decimals (``%g``; MATLAB's
    ``csvwrite`` and ``dlmwrite`` write 5): the decimals then shrink as the times grow
    (``9.9995, 10.000, 10.001``), so one last decimal does not fit them all. None when no
    count of 1–15 significant digits fits the first and last thousand times."""
    sample = t if len(t) <= 2000 else np.concatenate((t[:1000], t[-1000:]))
    sample = sample[sample != 0]
    if sample.size == 0:
        return None
    magnitude = np.floor(np.log10(np.abs(sample)))
    for digits in range(1, 16):
        scaled = sample / 10.0 ** (magnitude - digits + 1)
        if float(np.max(np.abs(scaled - np.round(scaled)))) <= 0.01:
            whole = np.floor(np.log10(np.maximum(np.abs(t), np.finfo(float).tiny)))
            return np.asarray(10.0 ** (whole - digits + 1), dtype=np.float64)
    return None
