"""What the simulated patient does: contractions, joint movements, stretches, noise.

A script is explicit (times in seconds), so every label is known exactly. Builders make
the common ones: a PIR or MET session following a protocol's timing, with optional faults
(moving mid-hold, pushing too hard, not relaxing), and the randomised benchmark records
used to measure detectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = [
    "Artifacts",
    "Contraction",
    "Faults",
    "Movement",
    "PatientScript",
    "benchmark_script",
    "met_script",
    "pir_script",
    "protocol_script",
]


@dataclass(frozen=True, slots=True)
class Contraction:
    """One isometric contraction. ``onset`` is the first sample of the ramp; activation
    ends (the true release) at ``onset + ramp_up + hold + ramp_down``. ``level`` is a
    fraction of MVC; ``residual`` the level left after release (incomplete relaxation)."""

    onset: float
    level: float
    hold: float
    ramp_up: float = 0.1
    ramp_down: float = 0.15
    residual: float = 0.0
    residual_s: float | None = None  # how long the residual lasts (None: to the next onset)
    channel: int | None = None  # the muscle under this EMG channel (None: the target's)

    @property
    def release(self) -> float:
        return self.onset + self.ramp_up + self.hold + self.ramp_down

    @property
    def hold_start(self) -> float:
        return self.onset + self.ramp_up


@dataclass(frozen=True, slots=True)
class Movement:
    """A joint rotation of ``degrees`` about the joint axis, starting at ``start`` and
    lasting ``duration`` (minimum-jerk profile). ``passive`` marks a stretch (allowed),
    not a violation of the isometric rule."""

    start: float
    duration: float
    degrees: float
    passive: bool = False

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class Artifacts:
    """Noise and artifacts. ``snr_db`` compares the weakest contraction's EMG power with
    the white sensor noise power (so stronger contractions have a better SNR)."""

    snr_db: float = 20.0
    mains_hz: float = 50.0
    mains_level: float = 0.0  # amplitude relative to the weakest contraction's RMS
    motion_per_min: float = 0.0  # 2–6 Hz bursts, 3–10x the contraction level
    spikes_per_min: float = 0.0  # contact pops
    drift: float = 0.0  # slow baseline wander amplitude, relative to contraction RMS
    #: from this time on (s; None: never) the sensor noise's power is ``noise_rise`` times
    #: higher: an electrode whose contact changed during a hold (sweat, a strap that moved)
    noise_rise_at: float | None = None
    noise_rise: float = 1.0
    gyro_noise_dps: float = 0.3
    gyro_bias_dps: tuple[float, float, float] = (0.8, -0.5, 0.3)
    gyro_bias_walk_dps: float = 0.02  # random walk per sqrt(s)
    tremor_deg: float = 0.15


@dataclass(frozen=True, slots=True)
class PatientScript:
    """A whole simulated session."""

    duration: float
    contractions: tuple[Contraction, ...] = ()
    movements: tuple[Movement, ...] = ()
    artifacts: Artifacts = field(default_factory=Artifacts)
    seed: int = 0
    target_channel: int = 2  # channel over the target muscle (0-based)
    technique: str = "pir"
    disconnects: tuple[tuple[float, float], ...] = ()  # (start, end) sensor out of range
    start_angle_deg: float = 0.0  # the joint's pose at the start, from the patient's neutral

    def with_artifacts(self, **changes: object) -> PatientScript:
        return replace(self, artifacts=replace(self.artifacts, **changes))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Faults:
    """What the patient gets wrong, by 0-based repetition (``None`` = never)."""

    move_in_rep: int | None = None
    move_degrees: float = 12.0
    too_strong_rep: int | None = None
    residual_rep: int | None = None
    early_release_rep: int | None = None
    stop_after_rep: int | None = None


def protocol_script(
    technique: str = "pir",
    *,
    reps: int = 3,
    level: float = 0.18,
    hold: float = 7.0,
    relax: float = 5.0,
    stretch: float = 4.0,
    stretch_gain_deg: float = 4.0,
    rest_before: float = 5.0,
    seed: int = 0,
    artifacts: Artifacts | None = None,
    faults: Faults | None = None,
    ramp_up: float = 0.15,
    ramp_down: float = 0.2,
    mvc_capture: bool = True,
    reference: bool = False,
    channel: int | None = None,
    gains_deg: tuple[float, ...] = (),
) -> PatientScript:
    """A session that follows a protocol's timing: rest, then per repetition contract,
    hold, release, relax and a passive stretch that gains ``stretch_gain_deg``.

    With ``mvc_capture`` the patient first makes a 3 s maximal contraction (the coach's MVC
    calibration), then rests; with ``reference`` a 3 s gentle one at ``level`` (the gentle
    reference contraction). ``channel``: the muscle that contracts, when it is not the
    target's (the antagonist, for reciprocal inhibition). ``gains_deg``: the stretch's gain
    per repetition (the last one repeats; default ``stretch_gain_deg``).

    >>> s = protocol_script(reps=2, seed=1)
    >>> len(s.contractions), round(s.contractions[0].onset, 2), s.contractions[0].level
    (3, 5.0, 1.0)
    """
    f = faults or Faults()
    rng = np.random.default_rng(seed)
    t = rest_before
    contractions = []
    movements = []
    if mvc_capture:
        mvc = Contraction(onset=t, level=1.0, hold=3.0, ramp_up=0.3, ramp_down=0.3)
        contractions.append(mvc)
        t = mvc.release + 3.0
    if reference:
        ref = Contraction(onset=t, level=level, hold=3.0, ramp_up=0.3, ramp_down=0.3,
                          channel=channel)
        contractions.append(ref)
        t = ref.release + 3.0
    last_reps = reps if f.stop_after_rep is None else min(reps, f.stop_after_rep)
    for rep in range(last_reps):
        onset = t + max(0.0, 0.8 + float(rng.uniform(-0.3, 0.3)))
        lv = level * float(rng.uniform(0.9, 1.1))
        if f.too_strong_rep == rep:
            lv = min(0.9, level * 3.0)
        h = hold * 0.4 if f.early_release_rep == rep else hold
        c = Contraction(
            onset=onset,
            level=lv,
            hold=h,
            ramp_up=ramp_up,
            ramp_down=ramp_down,
            residual=level * 0.35 if f.residual_rep == rep else 0.0,
            channel=channel,
        )
        contractions.append(c)
        if f.move_in_rep == rep:
            movements.append(
                Movement(start=c.hold_start + h * 0.4, duration=0.4, degrees=f.move_degrees)
            )
        t = c.release + relax
        gain = gains_deg[min(rep, len(gains_deg) - 1)] if gains_deg else stretch_gain_deg
        movements.append(Movement(start=t, duration=min(stretch * 0.6, 3.0), degrees=gain,
                                  passive=True))
        t += stretch
    return PatientScript(
        duration=t + 2.0,
        contractions=tuple(contractions),
        movements=tuple(movements),
        artifacts=artifacts or Artifacts(),
        seed=seed,
        technique=technique,
    )


def pir_script(**options: Any) -> PatientScript:
    """Post-isometric relaxation: gentle (10–25 % MVC) holds of 5–10 s, relax, stretch."""
    return protocol_script("pir", **options)


def met_script(**options: Any) -> PatientScript:
    """Muscle energy technique: 20–30 % MVC for 3–7 s, relax 2–3 s, stretch."""
    defaults: dict[str, Any] = {"level": 0.25, "hold": 5.0, "relax": 3.0, "stretch_gain_deg": 3.0}
    return protocol_script("met", **{**defaults, **options})


def benchmark_script(
    seed: int,
    duration: float = 60.0,
    snr_db: float = 10.0,
    with_artifacts: bool = False,
    mains_hz: float = 50.0,
) -> PatientScript:
    """A randomised detector-benchmark record: contractions of 3–10 s at 10–40 % MVC with
    linear ramps of 20–200 ms, rests of 3–8 s, the first 2 s at rest. With artifacts:
    mains hum, motion artifacts (2–6 Hz, 3–10x the contraction level) and contact spikes."""
    rng = np.random.default_rng(seed)
    t = 2.0 + float(rng.uniform(0.0, 1.0))
    contractions = []
    while True:
        active = float(rng.uniform(3.0, 10.0))
        up = float(rng.uniform(0.02, 0.2))
        down = float(rng.uniform(0.02, 0.2))
        if t + active + 1.0 > duration:
            break
        contractions.append(
            Contraction(
                onset=t,
                level=float(rng.uniform(0.1, 0.4)),
                hold=active - up - down,
                ramp_up=up,
                ramp_down=down,
            )
        )
        t += active + float(rng.uniform(3.0, 8.0))
    art = Artifacts(
        snr_db=snr_db,
        mains_hz=mains_hz,
        mains_level=1.0 if with_artifacts else 0.0,
        motion_per_min=2.0 if with_artifacts else 0.0,
        spikes_per_min=4.0 if with_artifacts else 0.0,
        drift=0.5 if with_artifacts else 0.0,
    )
    return PatientScript(
        duration=duration, contractions=tuple(contractions), artifacts=art, seed=seed
    )
