"""Turn a :class:`PatientScript` into EMG and IMU signals with exact labels.

EMG is band-limited Gaussian noise amplitude-modulated by the activation (the standard
surface-EMG simulation model), spread over the channels with cross-talk, plus white sensor
noise at the scripted SNR and the scripted artifacts. The IMU follows the joint angle:
isometric holds are still but for a little tremor, scripted movements are minimum-jerk
rotations, and the gyroscope carries a bias with a random walk, as real ones do.
Everything is drawn from one seeded generator: same script, same samples, on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import signal

from isofeedback.coach.phases import Phase
from isofeedback.sim.script import PatientScript
from isofeedback.types import FloatArray

__all__ = ["SimulatedSession", "synthesize"]


@dataclass(frozen=True, slots=True, eq=False)
class SimulatedSession:
    """Signals (physical units) and ground truth of one simulated session."""

    script: PatientScript
    emg_fs: float
    emg: FloatArray  # (n, channels)
    activation: FloatArray  # (n,) true activation of the target muscle, fraction of MVC
    imu_fs: float
    gyro: FloatArray  # (m, 3) deg/s
    accel: FloatArray  # (m, 3) g
    quat: FloatArray  # (m, 4) w, x, y, z
    angle: FloatArray  # (m,) true joint angle, degrees
    mvc_rms: float  # EMG RMS at 100 % MVC on the target channel, in EMG units

    @property
    def onsets(self) -> list[float]:
        return [c.onset for c in self.script.contractions]

    @property
    def releases(self) -> list[float]:
        return [c.release for c in self.script.contractions]

    def movement_crossings(self, threshold_deg: float = 5.0) -> list[float]:
        """Times at which each non-passive movement first exceeds ``threshold_deg`` from
        the angle at its start (the moment a detector should flag it)."""
        out = []
        t = np.arange(self.angle.size) / self.imu_fs
        for m in self.script.movements:
            if m.passive or abs(m.degrees) < threshold_deg:
                continue
            i0 = int(np.searchsorted(t, m.start))
            ref = self.angle[i0]
            after = np.nonzero(np.abs(self.angle[i0:] - ref) >= threshold_deg)[0]
            if after.size:
                out.append(float(t[i0 + after[0]]))
        return out

    def phases(self) -> list[tuple[float, str]]:
        """(start time, phase) for the whole session, from the script: the coach's phase
        names (``Phase``) plus ``rest`` before the first contraction."""
        out: list[tuple[float, str]] = [(0.0, "rest")]
        stretches = [m for m in self.script.movements if m.passive]
        for c in self.script.contractions:
            out += [
                (c.onset, Phase.CONTRACTING),
                (c.hold_start, Phase.HOLDING),
                (c.release - c.ramp_down, Phase.RELEASING),
                (c.release, Phase.RELAXING),
            ]
            nxt = [m for m in stretches if m.start >= c.release]
            if nxt:
                out.append((nxt[0].start, Phase.STRETCHING))
        return sorted(out)


def _activation(script: PatientScript, t: FloatArray) -> FloatArray:
    act = np.zeros_like(t)
    cs = sorted(script.contractions, key=lambda c: c.onset)
    for k, c in enumerate(cs):
        nxt = cs[k + 1].onset if k + 1 < len(cs) else script.duration
        up = (t >= c.onset) & (t < c.hold_start)
        act[up] = c.level * (t[up] - c.onset) / max(c.ramp_up, 1e-9)
        hold = (t >= c.hold_start) & (t < c.release - c.ramp_down)
        act[hold] = c.level
        down = (t >= c.release - c.ramp_down) & (t < c.release)
        frac = (t[down] - (c.release - c.ramp_down)) / max(c.ramp_down, 1e-9)
        act[down] = c.level + (c.residual - c.level) * frac
        if c.residual > 0:
            end = nxt if c.residual_s is None else min(nxt, c.release + c.residual_s)
            act[(t >= c.release) & (t < end)] = c.residual
    return act


def _band_noise(rng: np.random.Generator, n: int, fs: float, channels: int) -> FloatArray:
    hi = min(450.0, 0.45 * fs)
    lo = min(20.0, hi / 3)
    sos = signal.butter(4, [lo, hi], btype="bandpass", fs=fs, output="sos")
    x = signal.sosfiltfilt(sos, rng.standard_normal((n + 512, channels)), axis=0)[256:-256]
    return np.asarray(x / x.std(axis=0, keepdims=True), dtype=np.float64)


def _min_jerk(u: FloatArray) -> FloatArray:
    u = np.clip(u, 0.0, 1.0)
    return np.asarray(10 * u**3 - 15 * u**4 + 6 * u**5, dtype=np.float64)


def _device_quaternion(gyro_x: FloatArray, accel: FloatArray, fs: float) -> FloatArray:
    """The orientation a wearable's firmware reports: not the true pose but its own
    sensor fusion — the gyroscope (with its bias and noise) integrated and pulled towards
    the accelerometer's tilt with a ~2 s time constant (a complementary filter, as in
    common firmware), about the simulated joint axis."""
    c = 1.0 / (2.0 * fs)
    tilt = np.rad2deg(np.arctan2(accel[:, 1], accel[:, 2]))
    u = (1 - c) * gyro_x / fs + c * tilt
    est, _ = signal.lfilter([1.0], [1.0, -(1 - c)], u, zi=[(1 - c) * tilt[0]])
    half = np.deg2rad(est) / 2
    zero = np.zeros_like(half)
    return np.stack([np.cos(half), np.sin(half), zero, zero], axis=1)


def synthesize(
    script: PatientScript,
    emg_fs: float = 1000.0,
    channels: int = 1,
    imu_fs: float = 100.0,
    mvc_rms: float = 1.0,
) -> SimulatedSession:
    """Signals for ``script``. ``mvc_rms`` is the EMG RMS at 100 % MVC in the output units
    (e.g. ~60 counts for the Myo's int8, ~500 µV for a research amplifier)."""
    rng = np.random.default_rng(script.seed)
    art = script.artifacts
    n = int(round(script.duration * emg_fs))
    t = np.arange(n) / emg_fs
    # one activation per muscle (the target's channel, or a contraction's own: an antagonist)
    muscles = sorted({script.target_channel if c.channel is None else c.channel
                      for c in script.contractions} or {script.target_channel})
    drive = np.zeros((n, channels))
    for muscle in muscles:
        own = tuple(c for c in script.contractions
                    if (script.target_channel if c.channel is None else c.channel) == muscle)
        own_act = _activation(replace(script, contractions=own), t)
        target = min(muscle, channels - 1)
        distance = np.abs(np.arange(channels) - target)
        distance = np.minimum(distance, channels - distance)  # an armband is a ring
        weights = np.array([1.0, 0.5, 0.2][:channels] + [0.05] * max(channels - 3, 0))[distance]
        drive += own_act[:, None] * weights[None, :]
    act = _activation(script, t)  # every muscle's activation: the labels
    emg = _band_noise(rng, n, emg_fs, channels) * drive * mvc_rms
    levels = [c.level for c in script.contractions] or [0.1]
    ref = min(levels) * mvc_rms
    noise_rms = ref / 10 ** (art.snr_db / 20.0)
    noise = rng.standard_normal((n, channels)) * noise_rms
    if art.noise_rise_at is not None:
        noise[t >= art.noise_rise_at] *= np.sqrt(art.noise_rise)
    emg += noise
    if art.mains_level > 0:
        phase = rng.uniform(0, 2 * np.pi)
        hum = np.zeros(n)
        for harmonic, amp in ((1, 1.0), (3, 0.3)):
            f = art.mains_hz * harmonic
            if f < 0.5 * emg_fs:
                hum += amp * np.sin(2 * np.pi * f * t + phase * harmonic)
        emg += art.mains_level * ref * hum[:, None] * rng.uniform(0.5, 1.0, channels)[None, :]
    mean_level = float(np.mean(levels)) * mvc_rms
    for _ in range(rng.poisson(art.motion_per_min * script.duration / 60.0)):
        start, dur = rng.uniform(0, script.duration), rng.uniform(0.3, 1.0)
        f, amp = rng.uniform(2.0, 6.0), rng.uniform(3.0, 10.0) * mean_level
        sel = (t >= start) & (t < start + dur)
        u = (t[sel] - start) / dur
        burst = amp * np.sin(np.pi * u) ** 2 * np.sin(2 * np.pi * f * (t[sel] - start))
        emg[sel] += burst[:, None] * rng.uniform(0.3, 1.0, channels)[None, :]
    for _ in range(rng.poisson(art.spikes_per_min * script.duration / 60.0)):
        i = int(rng.integers(0, max(n - 10, 1)))
        width = max(1, int(round(rng.uniform(0.001, 0.004) * emg_fs)))
        amp = rng.uniform(5.0, 20.0) * mean_level * rng.choice([-1.0, 1.0])
        pulse = amp * np.concatenate([np.ones(width), -0.6 * np.ones(width)])
        emg[i : i + pulse.size, :] += pulse[: n - i, None]
    if art.drift > 0:
        f = rng.uniform(0.05, 0.2)
        emg += art.drift * mean_level * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))[:, None]

    m = int(round(script.duration * imu_fs))
    ti = np.arange(m) / imu_fs
    angle = np.full(m, float(script.start_angle_deg))
    for mv in script.movements:
        angle += mv.degrees * _min_jerk((ti - mv.start) / mv.duration)
    if art.tremor_deg > 0:
        sos = signal.butter(
            2, [4.0, min(10.0, 0.45 * imu_fs)], btype="bandpass", fs=imu_fs, output="sos"
        )
        tremor = signal.sosfiltfilt(sos, rng.standard_normal(m + 64))[32:-32]
        angle += art.tremor_deg * tremor / max(float(tremor.std()), 1e-12)
    rate = np.gradient(angle, 1.0 / imu_fs)
    bias = np.asarray(art.gyro_bias_dps)[None, :] + np.cumsum(
        rng.standard_normal((m, 3)) * art.gyro_bias_walk_dps / np.sqrt(imu_fs), axis=0
    )
    gyro = bias + rng.standard_normal((m, 3)) * art.gyro_noise_dps
    gyro[:, 0] += rate
    rad = np.deg2rad(angle)
    # gravity (0, 0, 1 g) seen from a sensor rotated by `angle` about its x axis
    accel = np.stack([np.zeros(m), np.sin(rad), np.cos(rad)], axis=1)
    accel += rng.standard_normal((m, 3)) * 0.01
    quat = _device_quaternion(gyro[:, 0], accel, imu_fs)
    return SimulatedSession(
        script=script,
        emg_fs=emg_fs,
        emg=emg,
        activation=act,
        imu_fs=imu_fs,
        gyro=gyro,
        accel=accel,
        quat=quat,
        angle=angle,
        mvc_rms=mvc_rms,
    )
