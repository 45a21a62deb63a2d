"""The coach: a pure state machine that turns detections into guidance.

calibrating → (mvc) → waiting → contracting → holding → releasing → relaxing → stretching
→ waiting (next rep) … → done. It is driven by detector events and by ``tick`` calls carrying
the current muscle activity and joint angle; time comes only from those calls, so the
coach runs identically live and in replay. Violations are reported the moment they happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from isofeedback.coach.protocol import ExerciseProtocol
from isofeedback.errors import ConfigError
from isofeedback.types import Event, EventType, Feedback

__all__ = ["Coach", "RepResult"]

LEVEL_PERIOD_S = 0.05  # live level messages at 20 per second


@dataclass
class RepResult:
    rep: int
    onset_t: float
    hold_s: float = 0.0
    mean_intensity: float = 0.0
    peak_intensity: float = 0.0
    violations: list[str] = field(default_factory=list)
    relax_residual: float | None = None
    rom_deg: float | None = None
    rom_gain_deg: float | None = None
    max_movement_deg: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rep": self.rep,
            "onset_t": round(self.onset_t, 3),
            "hold_s": round(self.hold_s, 3),
            "mean_intensity": round(self.mean_intensity, 2),
            "peak_intensity": round(self.peak_intensity, 2),
            "violations": list(self.violations),
            "relax_residual": None
            if self.relax_residual is None
            else round(self.relax_residual, 2),
            "rom_deg": None if self.rom_deg is None else round(self.rom_deg, 2),
            "rom_gain_deg": None if self.rom_gain_deg is None else round(self.rom_gain_deg, 2),
            "max_movement_deg": round(self.max_movement_deg, 2),
        }


class Coach:
    """Guides one session of ``protocol``. ``mvc`` (envelope units above rest) may come from
    a stored calibration; otherwise the protocol's MVC capture measures it."""

    def __init__(self, protocol: ExerciseProtocol, mvc: float | None = None) -> None:
        if protocol.intensity_unit == "%MVC" and mvc is None and not protocol.mvc_capture:
            raise ConfigError(
                "the protocol's intensity is in % MVC but there is no MVC: enable mvc_capture "
                "in the protocol or calibrate an MVC first"
            )
        self.protocol = protocol
        self.initial_mvc = mvc
        self._reset()

    def _reset(self) -> None:
        self.phase = "calibrating"
        self.mvc = self.initial_mvc
        self.noise: float | None = None
        self.rep = 0
        self.results: list[RepResult] = []
        self.violations: list[dict[str, Any]] = []
        self._phase_t = 0.0
        self._started = False
        self._last_level_t = -np.inf
        self._mvc_samples: list[float] = []
        self._current: RepResult | None = None
        self._hold_values: list[float] = []
        self._relax_values: list[float] = []
        self._above_since: float | None = None
        self._below_since: float | None = None
        self._last_strength_cue = -np.inf
        self._stretch_max = 0.0
        self._intensity = 0.0
        self._angle = 0.0
        self._t = 0.0

    # -- helpers -----------------------------------------------------------------------
    @property
    def unit(self) -> str:
        return (
            self.protocol.intensity_unit
            if self.mvc is not None or self.protocol.intensity_unit == "x_rest"
            else "x_rest"
        )

    def intensity(self, activity: float) -> float:
        """Activity (envelope above rest) in the protocol's unit."""
        if self.protocol.intensity_unit == "%MVC" and self.mvc:
            return 100.0 * activity / self.mvc
        return activity / self.noise if self.noise else 0.0

    def _enter(self, phase: str, t: float) -> list[Feedback]:
        self.phase = phase
        self._phase_t = t
        payload: dict[str, Any] = {"phase": phase, "rep": self.rep, "reps": self.protocol.reps}
        duration = {
            "holding": self.protocol.hold_s,
            "relaxing": self.protocol.relax_s,
            "stretching": self.protocol.stretch_s,
        }.get(phase)
        if duration is not None:
            payload["duration_s"] = duration
        return [Feedback("phase", t, payload)]

    def _cue(self, cue_id: str, t: float, severity: str = "info", **extra: Any) -> Feedback:
        return Feedback(
            "cue",
            t,
            {
                "id": cue_id,
                "text": self.protocol.cue(cue_id),
                "severity": severity,
                "rep": self.rep,
                **extra,
            },
        )

    def _violation(self, kind: str, cue_id: str, t: float, **extra: Any) -> list[Feedback]:
        record = {"violation": kind, "t": round(t, 3), "rep": self.rep, **extra}
        self.violations.append(record)
        if self._current is not None and kind not in self._current.violations:
            self._current.violations.append(kind)
        return [self._cue(cue_id, t, "warning", violation=kind, **extra)]

    # -- inputs --------------------------------------------------------------------------
    def on_event(self, ev: Event) -> list[Feedback]:
        """React to a detection."""
        out: list[Feedback] = []
        p = self.protocol
        t = ev.t_decided
        if ev.type == EventType.CALIBRATED and ev.source == "emg" and self.phase == "calibrating":
            self.noise = float(ev.detail.get("noise", 0.0)) or None
            if p.intensity_unit == "%MVC" and self.mvc is None:
                out += self._enter("mvc", t)
                out.append(self._cue("mvc", t))
            else:
                out += self._start_rep(t)
        elif ev.type == EventType.ONSET:
            if self.phase == "mvc":
                self._mvc_samples = []
                self.phase = "mvc_contracting"
            elif self.phase == "waiting":
                self._current = RepResult(rep=self.rep, onset_t=ev.t)
                out += self._enter("contracting", t)
        elif ev.type == EventType.RELEASE:
            if self.phase == "mvc_contracting":
                if self._mvc_samples:
                    self.mvc = float(np.percentile(self._mvc_samples, 95))
                out.append(self._cue("mvc_done", t, mvc=self.mvc))
                out += self._enter("recovering", t)
            elif self.phase in ("contracting", "holding"):
                out += self._finish_hold(t)
                out += self._violation("released_early", "released_early", t)
                out += self._enter("relaxing", t)
            elif self.phase == "releasing":
                out += self._enter("relaxing", t)
        elif ev.type == EventType.MOVEMENT and self.phase in (
            "contracting",
            "holding",
            "releasing",
        ):
            angle = float(ev.value or 0.0)
            if self._current is not None:
                self._current.max_movement_deg = max(self._current.max_movement_deg, angle)
            out += self._violation("moved", "keep_still", t, angle_deg=round(angle, 1))
        elif ev.type == EventType.GAP:
            out.append(self._cue("signal_lost", t, "warning", lost_s=ev.value))
        return out

    def tick(self, t: float, activity: float, angle_deg: float) -> list[Feedback]:
        """Advance to session time ``t`` with the current activity and joint angle."""
        p = self.protocol
        out: list[Feedback] = []
        self._t = t
        if not self._started:
            self._started = True
            out += self._enter("calibrating", t)
            out.append(self._cue("calibrate_rest", t))
        x = self.intensity(activity)
        self._intensity, self._angle = x, angle_deg
        elapsed = t - self._phase_t
        if self.phase == "mvc_contracting":
            self._mvc_samples.append(activity)
        elif self.phase == "recovering" and elapsed >= 2.0:
            out += self._start_rep(t)
        elif self.phase == "waiting" and elapsed >= p.no_contraction_timeout_s:
            out += self._violation("no_contraction", "no_contraction", t)
            self._phase_t = t
        elif self.phase == "contracting":
            if (p.intensity_low <= x) or elapsed >= 1.0:
                out += self._enter("holding", t)
                out.append(self._cue("hold", t))
        elif self.phase == "holding":
            self._hold_values.append(x)
            out += self._check_strength(t, x)
            if elapsed >= p.hold_s:
                out += self._finish_hold(t)
                out += self._enter("releasing", t)
                out.append(self._cue("release", t, haptic=True))
        elif self.phase == "releasing" and elapsed >= p.release_timeout_s:
            out += self._violation("no_release", "release", t)
            out += self._enter("relaxing", t)
        elif self.phase == "relaxing":
            if elapsed >= p.relax_s / 2:
                self._relax_values.append(x)
            if elapsed >= p.relax_s:
                residual = float(np.median(self._relax_values)) if self._relax_values else 0.0
                if self._current is not None:
                    self._current.relax_residual = residual
                if residual > p.relaxed_below:
                    out += self._violation(
                        "not_relaxed", "relax_fully", t, residual=round(residual, 1)
                    )
                self._relax_values = []
                self._stretch_max = angle_deg
                out += self._enter("stretching", t)
                out.append(self._cue("stretch", t))
        elif self.phase == "stretching":
            self._stretch_max = max(self._stretch_max, angle_deg)
            if elapsed >= p.stretch_s:
                out += self._finish_rep(t)
        if t - self._last_level_t >= LEVEL_PERIOD_S - 1e-9:
            self._last_level_t = t
            out.append(self._level(t, x, angle_deg))
        return out

    # -- transitions ---------------------------------------------------------------------
    def _start_rep(self, t: float) -> list[Feedback]:
        self.rep += 1
        out = self._enter("waiting", t)
        if self.rep > 1:
            out.append(self._cue("next_rep", t))
        out.append(self._cue("contract", t))
        return out

    def _check_strength(self, t: float, x: float) -> list[Feedback]:
        p = self.protocol
        out: list[Feedback] = []
        self._above_since = (self._above_since or t) if x > p.intensity_high else None
        self._below_since = (self._below_since or t) if x < p.intensity_low else None
        if t - self._last_strength_cue < 2.0:
            return out
        if self._above_since is not None and t - self._above_since >= 0.5:
            out += self._violation("too_strong", "gentler", t, intensity=round(x, 1))
            self._last_strength_cue = t
        elif self._below_since is not None and t - self._below_since >= 1.0:
            out += self._violation("too_weak", "stronger", t, intensity=round(x, 1))
            self._last_strength_cue = t
        return out

    def _finish_hold(self, t: float) -> list[Feedback]:
        if self._current is not None and self.phase == "holding":
            self._current.hold_s = t - self._phase_t
            if self._hold_values:
                self._current.mean_intensity = float(np.mean(self._hold_values))
                self._current.peak_intensity = float(np.max(self._hold_values))
        self._hold_values = []
        self._above_since = self._below_since = None
        return []

    def _finish_rep(self, t: float) -> list[Feedback]:
        out: list[Feedback] = []
        res = self._current or RepResult(rep=self.rep, onset_t=t)
        res.rom_deg = self._stretch_max
        if self.results and self.results[-1].rom_deg is not None:
            res.rom_gain_deg = res.rom_deg - (self.results[-1].rom_deg or 0.0)
        self.results.append(res)
        self._current = None
        out.append(Feedback("rep", t, res.as_dict()))
        if self.rep >= self.protocol.reps:
            out += self._enter("done", t)
            out.append(self._cue("done", t))
            out.append(Feedback("summary", t, self.summary()))
        else:
            out += self._start_rep(t)
        return out

    def _level(self, t: float, x: float, angle: float) -> Feedback:
        p = self.protocol
        payload: dict[str, Any] = {
            "intensity": round(x, 2),
            "unit": self.unit,
            "band": [p.intensity_low, p.intensity_high],
            "in_band": p.intensity_low <= x <= p.intensity_high,
            "angle_deg": round(angle, 2),
            "phase": self.phase,
            "rep": self.rep,
        }
        if self.phase == "holding":
            payload["hold_remaining_s"] = round(max(p.hold_s - (t - self._phase_t), 0.0), 2)
        return Feedback("level", t, payload)

    def summary(self) -> dict[str, Any]:
        """What the session achieved."""
        reps = [r.as_dict() for r in self.results]
        holds = [r.hold_s for r in self.results]
        return {
            "technique": self.protocol.technique,
            "reps_done": len(self.results),
            "reps_planned": self.protocol.reps,
            "mean_hold_s": round(float(np.mean(holds)), 2) if holds else 0.0,
            "violations": [v["violation"] for v in self.violations],
            "mvc": self.mvc,
            "reps": reps,
            "complete": self.phase == "done",
        }
