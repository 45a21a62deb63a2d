"""Streaming causal filters whose chunked output equals their one-shot output exactly.

Each filter keeps its own state (SOS sections with per-channel ``zi``; a window's tail) so
it can be fed chunks of any size. They read no clock and do no I/O.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from isofeedback.types import FloatArray

__all__ = ["MovingRms", "SosFilter", "emg_bandpass", "mains_notch"]


class SosFilter:
    """IIR filter in second-order sections, state carried across chunks.

    The state starts at the steady state for the first sample seen, so a DC offset does not
    ring through a high-pass at start-up.

    >>> f = SosFilter(signal.butter(2, 0.1, output="sos"), channels=1)
    >>> x = np.ones((10, 1))
    >>> bool(np.allclose(np.vstack([f.process(x[:3]), f.process(x[3:])]), 1.0))
    True
    """

    def __init__(self, sos: FloatArray, channels: int) -> None:
        self.sos = np.asarray(sos, dtype=np.float64)
        self.channels = channels
        self._reset()

    def _reset(self) -> None:
        self._zi: FloatArray | None = None

    def process(self, x: FloatArray) -> FloatArray:
        """Filter ``x`` of shape (n, channels)."""
        if x.shape[0] == 0:
            return x.astype(np.float64, copy=True)
        if self._zi is None:
            base = signal.sosfilt_zi(self.sos)  # (sections, 2)
            self._zi = base[:, :, None] * x[0][None, None, :]
        y, self._zi = signal.sosfilt(self.sos, x, axis=0, zi=self._zi)
        return np.asarray(y, dtype=np.float64)


def emg_bandpass(fs: float, low: float = 20.0, high: float = 450.0, order: int = 4) -> FloatArray:
    """Band-pass for surface EMG adapted to the sample rate: the upper edge is lowered to
    0.45·fs for wearables (a 200 Hz Myo keeps 20–90 Hz; its envelope is still usable)."""
    hi = min(high, 0.45 * fs)
    lo = min(low, hi / 2)
    return np.asarray(signal.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos"))


def mains_notch(
    fs: float, mains_hz: float, harmonics: int = 3, q: float = 30.0
) -> FloatArray | None:
    """Notches at the mains frequency and its harmonics below Nyquist (None if none fit)."""
    sections = []
    for k in range(1, harmonics + 1):
        f = mains_hz * k
        if f >= 0.49 * fs:
            break
        b, a = signal.iirnotch(f, q, fs=fs)
        sections.append(signal.tf2sos(b, a))
    if not sections:
        return None
    return np.asarray(np.vstack(sections), dtype=np.float64)


class MovingRms:
    """Causal moving RMS over ``window`` samples (shorter at the very start).

    >>> m = MovingRms(window=4, channels=1)
    >>> y = m.process(np.full((6, 1), 2.0))
    >>> y[:, 0].tolist()
    [2.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    """

    def __init__(self, window: int, channels: int) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1 sample, got {window}")
        self.window = window
        self.channels = channels
        self._reset()

    def _reset(self) -> None:
        self._tail = np.zeros((0, self.channels))

    def process(self, x: FloatArray) -> FloatArray:
        sq = np.vstack([self._tail, np.asarray(x, dtype=np.float64) ** 2])
        c = np.cumsum(np.vstack([np.zeros((1, self.channels)), sq]), axis=0)
        k = self._tail.shape[0]
        ends = np.arange(k + 1, sq.shape[0] + 1)
        starts = np.maximum(ends - self.window, 0)
        mean = (c[ends] - c[starts]) / (ends - starts)[:, None]
        self._tail = sq[-(self.window - 1) :] if self.window > 1 else sq[:0]
        return np.asarray(np.sqrt(np.maximum(mean, 0.0)), dtype=np.float64)
