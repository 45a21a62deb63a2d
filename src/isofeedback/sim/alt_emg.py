"""A second EMG generator with its own noise and burst model, for evaluation only.

Our benchmark simulator (:mod:`isofeedback.sim.signals`) and our detector were developed
together: a detector tuned on it can fit its particular noise and ramps. This generator
shares nothing with it but the idea of a labelled record, so figures measured on it say
how the detector does on signals it was not tuned on:

- *Noise*: coloured (1/f^α, α 0.5–1.3, plus a white floor), its level drifting ±10–35 %
  over 15–40 s (electrode impedance), plus slow baseline wander.
- *Bursts*: EMG as Gaussian noise through a 2nd-order band-pass with a random centre
  (our simulator's is white in the band), amplitude shaped by one of four rise/fall
  shapes (raised cosine, cubic S, fast-then-slow, slow-then-fast) of 50–600 ms,
  holds of 2–6 s with fatigue drift, 8–12 Hz physiological tremor and slow wander.
- *Twitches*: 0–2 blips of 60–140 ms, 0.5–1.5 × the weakest contraction's amplitude,
  0.4–2 s before or after each contraction, in every record: they are not contractions
  and are not labelled, so a detector that reports them has false onsets.
- *Artifacts* (``artifacts=True``): ECG (QRS-like complexes at 55–90 beats/min with
  beat-to-beat variation, peak 0.5–1 × the weakest contraction's RMS: a limb muscle
  sees less ECG than a trunk muscle) and motion
  transients (0.5–3 Hz half-waves of 5–15 × the noise RMS, 2–4 a minute).

SNR: the weakest contraction's power over the rest noise's, both measured in the band
20 Hz – 0.45·fs (where an EMG chain looks), in dB. Truth: an onset is the first sample of
a burst's rise, a release the last sample of its fall (the shapes have finite support).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from isofeedback.types import FloatArray

__all__ = ["AltRecord", "alt_emg_record"]

_SHAPES = ("cosine", "cubic", "fast_slow", "slow_fast")


@dataclass(frozen=True, slots=True, eq=False)
class AltRecord:
    """One generated record: samples (n,), rate, true onsets and releases (s)."""

    emg: FloatArray
    fs: float
    onsets: tuple[float, ...]
    releases: tuple[float, ...]
    twitches: tuple[float, ...]  # start times of the unlabelled blips
    #: per contraction: rise (s), its shape, fall (s), its shape (``_shape``'s names):
    #: what the onset and release errors are broken down by
    edges: tuple[tuple[float, str, float, str], ...] = ()


def _shape(kind: str, u: FloatArray) -> FloatArray:
    """A rise from 0 to 1 over ``u`` in [0, 1]."""
    if kind == "cosine":
        return np.asarray(0.5 - 0.5 * np.cos(np.pi * u))
    if kind == "cubic":
        return np.asarray(u * u * (3.0 - 2.0 * u))
    if kind == "fast_slow":
        return np.asarray(1.0 - (1.0 - u) ** 3)
    return np.asarray(u**2)


def _band_power(x: FloatArray, fs: float) -> float:
    """Mean power of ``x`` in 20 Hz – 0.45·fs (FFT mask)."""
    spec = np.fft.rfft(x - np.mean(x))
    f = np.fft.rfftfreq(x.size, 1.0 / fs)
    keep = (f >= 20.0) & (f <= 0.45 * fs)
    return float(2.0 * np.sum(np.abs(spec[keep]) ** 2) / x.size**2)


def _coloured(rng: np.random.Generator, n: int, fs: float) -> FloatArray:
    """1/f^α noise plus a white floor, unit RMS."""
    alpha = float(rng.uniform(0.5, 1.3))
    f = np.fft.rfftfreq(n, 1.0 / fs)
    spec = (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size))
    spec /= np.maximum(f, 1.0) ** (alpha / 2.0)
    x = np.fft.irfft(spec, n)
    x /= np.std(x)
    x += float(rng.uniform(0.3, 0.8)) * rng.standard_normal(n)
    return np.asarray(x / np.std(x))


def _ecg(rng: np.random.Generator, n: int, fs: float) -> FloatArray:
    """QRS-like complexes (a difference of Gaussians, ~25 ms wide) with a small T wave."""
    out = np.zeros(n)
    t = float(rng.uniform(0.0, 1.0))
    rr = 60.0 / float(rng.uniform(55.0, 90.0))
    k = np.arange(-int(0.3 * fs), int(0.3 * fs) + 1) / fs
    beat = (np.exp(-0.5 * (k / 0.008) ** 2) - 0.6 * np.exp(-0.5 * ((k - 0.012) / 0.01) ** 2)
            + 0.15 * np.exp(-0.5 * ((k - 0.25) / 0.04) ** 2))
    beat /= np.max(np.abs(beat))
    while t < n / fs:
        i = int(t * fs)
        lo, hi = i - k.size // 2, i + k.size // 2 + 1
        a, b = max(lo, 0), min(hi, n)
        out[a:b] += beat[a - lo : b - lo] * float(rng.uniform(0.85, 1.15))
        t += rr * float(rng.uniform(0.93, 1.07))
    return out


def alt_emg_record(
    seed: int, fs: float = 1000.0, snr_db: float = 10.0, artifacts: bool = False,
    duration: float = 60.0, weakest_rms: float = 1.0,
) -> AltRecord:
    """One record of ``duration`` seconds, the first 2.5 s at rest.

    >>> r = alt_emg_record(3, fs=1000.0, snr_db=10.0)
    >>> len(r.onsets) == len(r.releases) >= 5, r.onsets[0] >= 2.5, r.emg.shape
    (True, True, (60000,))
    """
    rng = np.random.default_rng([seed, 20261206])
    n = int(round(duration * fs))
    t = np.arange(n) / fs
    # contractions: (rise start, rise, hold, fall, level, shapes)
    plan = []
    start = 2.5 + float(rng.uniform(0.5, 2.0))
    while True:
        rise, fall = float(rng.uniform(0.05, 0.4)), float(rng.uniform(0.05, 0.4))
        hold = float(rng.uniform(2.0, 6.0))
        if start + rise + hold + fall > duration - 1.5:
            break
        level = float(np.exp(rng.uniform(0.0, np.log(3.0))))
        plan.append((start, rise, hold, fall, level, str(rng.choice(_SHAPES)),
                     str(rng.choice(_SHAPES))))
        start += rise + hold + fall + float(rng.uniform(2.5, 7.0))
    levels = [p[4] for p in plan]
    low = min(levels)
    env = np.zeros(n)
    onsets, releases = [], []
    for s, rise, hold, fall, level, up, down in plan:
        i0 = int(np.ceil(s * fs))
        i1 = int(np.ceil((s + rise) * fs))
        i2 = int(np.ceil((s + rise + hold) * fs))
        i3 = int(np.ceil((s + rise + hold + fall) * fs))
        a = level / low
        env[i0:i1] = a * _shape(up, (np.arange(i0, i1) - i0 + 1) / (i1 - i0 + 1))
        u = (np.arange(i1, i2) - i1) / max(i2 - i1, 1)
        drift = 1.0 + float(rng.uniform(-0.2, 0.2)) * u
        trem = 1.0 + float(rng.uniform(0.1, 0.25)) * np.sin(
            2 * np.pi * float(rng.uniform(8.0, 12.0)) * t[i1:i2] + float(rng.uniform(0, 6.3)))
        wander = 1.0 + 0.1 * np.sin(2 * np.pi * float(rng.uniform(0.5, 2.0)) * t[i1:i2])
        env[i1:i2] = a * drift * trem * wander
        end_level = float(env[i2 - 1]) if i2 > i1 else a
        env[i2:i3] = end_level * (
            1.0 - _shape(down, (np.arange(i2, i3) - i2 + 1) / (i3 - i2 + 1)))
        onsets.append(i0 / fs)
        releases.append((i3 - 1) / fs)
    # twitches: short blips near contractions, not labelled
    twitches = []
    busy = [(p[0] - 0.3, p[0] + p[1] + p[2] + p[3] + 0.3) for p in plan]
    for s, rise, hold, fall, _, _, _ in plan:
        for _ in range(int(rng.integers(0, 3))):
            before = bool(rng.integers(0, 2))
            gap = float(rng.uniform(0.4, 2.0))
            width = float(rng.uniform(0.06, 0.14))
            t0 = s - gap - width if before else s + rise + hold + fall + gap
            if t0 < 2.2 or t0 + width > duration - 0.2:
                continue
            if any(lo < t0 + width and t0 < hi for lo, hi in busy):
                continue
            j0, j1 = int(t0 * fs), int((t0 + width) * fs)
            env[j0:j1] += float(rng.uniform(0.5, 1.5)) * np.hanning(j1 - j0)
            twitches.append(t0)
            busy.append((t0 - 0.3, t0 + width + 0.3))
    # EMG: band-pass-shaped Gaussian noise with a random centre frequency
    centre = float(rng.uniform(60.0, 140.0))
    nyq = fs / 2.0
    lo_hz, hi_hz = min(centre / 2.5, 0.4 * nyq), min(centre * 2.5, 0.95 * nyq)
    b, a_ = signal.butter(2, [lo_hz / nyq, hi_hz / nyq], btype="band")
    carrier = signal.lfilter(b, a_, rng.standard_normal(n + 2000))[2000:]
    carrier /= np.sqrt(_band_power(carrier, fs))  # unit in-band power
    emg = env * carrier
    # rest noise: coloured, drifting level, scaled to the SNR (in band)
    noise = _coloured(rng, n, fs)
    noise *= np.sqrt(1.0 / (10.0 ** (snr_db / 10.0)) / _band_power(noise, fs))
    drift = 1.0 + float(rng.uniform(0.1, 0.35)) * np.sin(
        2 * np.pi * t / float(rng.uniform(15.0, 40.0)) + float(rng.uniform(0, 6.3)))
    noise_rms = float(np.std(noise))
    x = emg + noise * drift
    x += 5.0 * noise_rms * np.sin(2 * np.pi * 0.2 * t + float(rng.uniform(0, 6.3)))
    if artifacts:
        x += float(rng.uniform(0.5, 1.0)) * _ecg(rng, n, fs)
        for _ in range(int(rng.integers(2, 5))):
            f0 = float(rng.uniform(0.5, 3.0))
            j0 = int(rng.uniform(2.5, duration - 2.0) * fs)
            m = int(fs / (2 * f0))
            j1 = min(n, j0 + m)
            x[j0:j1] += (float(rng.uniform(5.0, 15.0)) * noise_rms
                         * np.sin(np.pi * np.arange(j1 - j0) / m))
    return AltRecord(np.asarray(x * weakest_rms, dtype=np.float64), fs, tuple(onsets),
                     tuple(releases), tuple(twitches),
                     tuple((p[1], p[5], p[3], p[6]) for p in plan))
