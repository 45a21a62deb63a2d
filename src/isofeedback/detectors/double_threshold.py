"""The first onset/release detector, kept as a baseline: causal double threshold on the envelope.

The first ``calibration_s`` of rest give the baseline (median) and noise (MAD) of the
envelope. A contraction starts when the envelope stays above ``on_k`` noise units for
``min_on_s``; its onset is back-dated to where the envelope last rose above the low
threshold. It ends when the envelope stays below ``off_k`` units for ``min_off_s``; the
release is back-dated to the first sample of that run. Hysteresis and the minimum
durations keep a hold from splitting into pieces; ``refractory_s`` stops a release from
being followed at once by a spurious onset.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from isofeedback.types import Chunk, Event, EventType, FloatArray

__all__ = ["DoubleThresholdDetector"]


class DoubleThresholdDetector:
    """Envelope chunks → onset / release events (plus one ``calibrated`` event).

    >>> import numpy as np
    >>> from isofeedback.types import Chunk
    >>> rng = np.random.default_rng(0)
    >>> env = np.abs(rng.normal(1.0, 0.05, 3000))
    >>> env[1500:2500] += 5.0
    >>> det = DoubleThresholdDetector(fs=1000.0, calibration_s=1.0)
    >>> ev = det.process(Chunk("emg_env", 1000.0, 0, 0.0, env[:, None], ("env",)))
    >>> [(e.type.value, round(e.t, 3)) for e in ev if e.type != "calibrated"]
    [('onset', 1.5), ('release', 2.5)]
    """

    def __init__(
        self,
        fs: float,
        calibration_s: float = 2.0,
        on_k: float = 8.0,
        low_k: float = 3.0,
        off_k: float = 5.0,
        min_on_s: float = 0.03,
        min_off_s: float = 0.15,
        refractory_s: float = 0.3,
        delay_s: float = 0.0,
        calibration_rows: Callable[[], FloatArray | None] | None = None,
    ) -> None:
        self.fs = fs
        #: the chain's output over the whole calibration when it changed its filters there
        #: (see :class:`~isofeedback.detectors.onset_release.OnsetReleaseDetector`)
        self.calibration_rows = calibration_rows
        self.calibration_s = calibration_s
        self.on_k = on_k
        self.low_k = low_k
        self.off_k = off_k
        self.min_on_s = min_on_s
        self.min_off_s = min_off_s
        self.refractory_s = refractory_s
        self.delay_s = delay_s
        self._reset()

    def _reset(self) -> None:
        self._calib: list[np.ndarray] = []
        self._calib_n = 0
        self.baseline: float | None = None
        self.noise: float | None = None
        self.active = False
        self._run = 0  # consecutive samples beyond the switching threshold
        self._run_start_t = 0.0
        self._last_low_t = 0.0  # last time the envelope was below the low threshold
        self._last_release_t = -np.inf

    @property
    def calibrated(self) -> bool:
        return self.baseline is not None

    def level(self, envelope: float) -> float:
        """Envelope in multiples of rest noise above baseline (0 before calibration)."""
        if self.baseline is None or self.noise is None:
            return 0.0
        return (envelope - self.baseline) / self.noise

    def process(self, chunk: Chunk) -> list[Event]:
        env = chunk.data[:, 0]
        times = chunk.times
        events: list[Event] = []
        i = 0
        if self.baseline is None:
            need = int(round(self.calibration_s * self.fs)) - self._calib_n
            take = min(need, env.size)
            self._calib.append(env[:take].copy())
            self._calib_n += take
            i = take
            if self._calib_n >= int(round(self.calibration_s * self.fs)):
                again = self.calibration_rows() if self.calibration_rows is not None else None
                rest = np.concatenate(self._calib) if again is None else again[:, 0]
                self.baseline = float(np.median(rest))
                self.noise = max(float(np.median(np.abs(rest - self.baseline))) * 1.4826, 1e-12)
                self._calib = []
                t = float(times[take - 1]) if take else chunk.t_first
                events.append(
                    Event(
                        EventType.CALIBRATED,
                        t,
                        t,
                        "emg",
                        self.baseline,
                        {"noise": self.noise, "baseline": self.baseline},
                    )
                )
        if self.baseline is None or self.noise is None:
            return events
        on = self.baseline + self.on_k * self.noise
        low = self.baseline + self.low_k * self.noise
        off = self.baseline + self.off_k * self.noise
        min_on = max(1, int(round(self.min_on_s * self.fs)))
        min_off = max(1, int(round(self.min_off_s * self.fs)))
        for k in range(i, env.size):
            v = env[k]
            t = float(times[k])
            if not self.active:
                if v < low:
                    self._last_low_t = t
                if v > on and t - self._last_release_t >= self.refractory_s:
                    if self._run == 0:
                        self._run_start_t = t
                    self._run += 1
                    if self._run >= min_on:
                        self.active = True
                        self._run = 0
                        onset = max(self._last_low_t + 1.0 / self.fs - self.delay_s, 0.0)
                        events.append(
                            Event(EventType.ONSET, min(onset, t), t, "emg", float(self.level(v)))
                        )
                else:
                    self._run = 0
            else:
                if v < off:
                    if self._run == 0:
                        self._run_start_t = t
                    self._run += 1
                    if self._run >= min_off:
                        self.active = False
                        self._run = 0
                        release = max(self._run_start_t - self.delay_s, 0.0)
                        self._last_release_t = t
                        self._last_low_t = t
                        events.append(Event(EventType.RELEASE, min(release, t), t, "emg"))
                else:
                    self._run = 0
        return events
