"""Which mains frequency hums in a recording: 50 Hz (Europe, most of Asia and Africa) or
60 Hz (the Americas, parts of Japan, …).

The chain notches one mains frequency and its harmonics (``chain.mains_hz``). A file
recorded under the other one keeps its hum: a strong hum raises the rest level the
detector measures, and contractions weaker than it are never found (a 60 Hz hum 50 times
the rest noise, notched at 50 Hz: 0 of 10 contractions). Foreign data carries no word of
where it was recorded, so its spectrum is asked: a hum is a line, a few bins far above the
spectrum beside it, which EMG (a broad spectrum) never makes.

Pure and I/O-free: numpy only (the live process does not import ``scipy.signal``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from isofeedback.types import FloatArray

__all__ = ["HUM_RATIO", "MAINS_HZ", "MainsHum", "measure_hum"]

#: the two mains frequencies in use
MAINS_HZ = (50.0, 60.0)
#: a line this many times the spectrum beside it is a hum (power in the line's bins over
#: the median of its neighbours', both per bin); white rest noise gives ~1, a hum that
#: matters to detection (a tenth of the rest's power in the band) ~15 and more
HUM_RATIO = 10.0
_SEGMENT_S = 1.0  # 1 Hz bins: 50 and 60 Hz fall on bins at whole rates
_MAX_SEGMENTS = 30  # the first half minute (a hum is steady): bounded cost on long files
_LINE_HZ = 1.0  # the line's bins: ±1 Hz (a Hann window spreads a line over 3 bins)
_BESIDE_HZ = (3.0, 8.0)  # its neighbours: 3–8 Hz away on both sides (not the other mains)


@dataclass(frozen=True, slots=True)
class MainsHum:
    """How far the spectrum at each mains frequency rises above its neighbours
    (``ratios[f]``, the median over channels), the hum's share of the EMG band's power
    (``shares[f]``, 0–1: how much of what the detector sees at rest is hum), and the
    frequency that hums, if any."""

    ratios: dict[float, float]
    shares: dict[float, float]

    @property
    def hz(self) -> float | None:
        """The mains frequency that hums: its ratio at least :data:`HUM_RATIO` and three
        times the other's (both humming, or neither: None)."""
        for f, ratio in self.ratios.items():
            others = [r for g, r in self.ratios.items() if g != f]
            if ratio >= HUM_RATIO and all(ratio >= 3.0 * r for r in others):
                return f
        return None


def measure_hum(x: FloatArray, fs: float) -> MainsHum:
    """The hum at 50 and 60 Hz in ``x`` (samples × channels, or one channel) sampled at
    ``fs``: Welch's averaged periodogram over 1 s Hann segments (the first half minute),
    the power in each line's bins against the median of the bins beside it. A frequency
    at or above the Nyquist frequency, or data shorter than a segment: ratio 0.

    >>> fs = 1000.0
    >>> t = np.arange(int(10 * fs)) / fs
    >>> rest = np.random.default_rng(0).normal(0.0, 1.0, t.size)
    >>> measure_hum(rest + 5.0 * np.sin(2 * np.pi * 60.0 * t), fs).hz
    60.0
    >>> measure_hum(rest, fs).hz is None
    True
    """
    data = np.asarray(x, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    n = int(round(_SEGMENT_S * fs))
    segments = min(data.shape[0] // n, _MAX_SEGMENTS) if n >= 8 else 0
    if segments == 0:
        return MainsHum({f: 0.0 for f in MAINS_HZ}, {f: 0.0 for f in MAINS_HZ})
    blocks = data[: segments * n].reshape(segments, n, data.shape[1])
    blocks = blocks - blocks.mean(axis=1, keepdims=True)
    window = np.hanning(n)[None, :, None]
    power = (np.abs(np.fft.rfft(blocks * window, axis=1)) ** 2).mean(axis=0)  # bins × ch
    freqs = np.asarray(np.fft.rfftfreq(n, 1.0 / fs), dtype=np.float64)
    band = (freqs >= 20.0) & (freqs <= min(450.0, 0.45 * fs))
    total = np.maximum(power[band].sum(axis=0), np.finfo(float).tiny)
    ratios: dict[float, float] = {}
    shares: dict[float, float] = {}
    for f in MAINS_HZ:
        if f + _BESIDE_HZ[1] >= fs / 2.0:
            ratios[f] = shares[f] = 0.0
            continue
        line, floor = _line(power, freqs, f, np.ones(freqs.size, dtype=bool))
        ratios[f] = float(np.median(power[line].mean(axis=0) / floor))
        # its power and the harmonics' the chain notches too, above the spectrum beside
        # them: the hum the detector sees in its band
        excess = np.zeros(power.shape[1])
        for k in (1, 2, 3):
            line, floor = _line(power, freqs, k * f, band)
            excess += np.maximum(power[line].sum(axis=0) - floor * line.sum(), 0.0)
        shares[f] = float(np.median(np.minimum(excess / total, 1.0)))
    return MainsHum(ratios, shares)


def _line(power: FloatArray, freqs: FloatArray, f: float, within: npt.NDArray[np.bool_],
          ) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    """The bins of a line at ``f`` (±1 Hz) among ``within``, and per channel the median
    power of the bins 3–8 Hz beside it (the spectrum without the line; ``tiny`` when
    there is none, so a ratio over it stays finite)."""
    off = np.abs(freqs - f)
    line = (off <= _LINE_HZ) & within
    beside = (off >= _BESIDE_HZ[0]) & (off <= _BESIDE_HZ[1]) & within
    tiny = np.finfo(float).tiny
    if not beside.any():
        return line, np.full(power.shape[1], tiny)
    return line, np.maximum(np.median(power[beside], axis=0), tiny)
