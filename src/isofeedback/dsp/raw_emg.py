"""Is a foreign file's EMG raw? Exports often hold it rectified or as an envelope (RMS).

The chain band-passes raw EMG (20–450 Hz) and the detector judges its power against the
rest's. A rectified signal or an envelope (an RMS or "linear envelope" export, a
sensor's on-board processing) has no negative values and sits on zero at rest; its
band-pass is not the muscle's power: on an envelope of our third generator's records the
detector gave 57 brief activations (each retracted) besides the 8 contractions and
placed onsets 37 ms late. Such a file is replayed all the same, and said to be what it
is: the numbers are the researcher's to judge.
"""

from __future__ import annotations

import numpy as np

from isofeedback.types import FloatArray

__all__ = ["looks_rectified"]

#: the samples judged: the first minute says what the export is
JUDGED_S = 60.0
#: at rest a rectified signal's smallest values are zeros, or near them against its range
ZERO_SHARE = 0.1


def looks_rectified(x: FloatArray, fs: float) -> bool:
    """True when every channel of ``x`` (samples × channels) is non-negative, its smallest
    value within :data:`ZERO_SHARE` of its range (the 99th percentile) from zero, and its
    values piled up low (the median nearer the 1st percentile than half as far as the 99th
    is above it): rectified or an envelope. Raw EMG swings both ways, evenly about its
    middle: an offset converter's counts (``2048 ± 200``) are positive but far from zero,
    and an unsigned 8-bit converter's (``128 ± 127``) reach zero when they clip but are as
    far below their middle as above, so both are raw.

    >>> rng = np.random.default_rng(0)
    >>> raw = rng.standard_normal((2000, 1))
    >>> looks_rectified(raw, 1000.0), looks_rectified(np.abs(raw), 1000.0)
    (False, True)
    >>> looks_rectified(2048 + 20 * raw, 1000.0), looks_rectified(
    ...     np.clip(128 + 60 * raw, 0, 255), 1000.0)
    (False, False)
    """
    head = x[: max(int(JUDGED_S * fs), 1)]
    if head.size == 0:
        return False
    low = np.min(head, axis=0)
    if np.any(low < 0):  # raw EMG swings both ways: the usual answer, without a sort
        return False
    p1, mid, top = np.percentile(head, [1.0, 50.0, 99.0], axis=0)
    return bool(np.all((top > low) & (low <= ZERO_SHARE * (top - low))
                       & (mid - p1 <= 0.5 * (top - mid))))
