"""A patient driven tick by tick, straight into a Coach (no signals, no detectors): for
rules whose timing must be exact, e.g. that a pause of the patient freezes every timer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from isofeedback.coach.machine import Coach
from isofeedback.coach.protocol import ExerciseProtocol
from isofeedback.types import Event, EventType, Feedback
from tests.coach.sessions import trace

STEP_S = 0.05


def gentle_protocol(**overrides: Any) -> ExerciseProtocol:
    """A protocol in multiples of rest noise (no MVC): the coach starts reps right after
    calibration."""
    base: dict[str, Any] = {"intensity_unit": "x_rest", "mvc_capture": False,
                            "intensity_low": 3.0, "intensity_high": 8.0, "relaxed_below": 1.5}
    return ExerciseProtocol(**{**base, **overrides})


@dataclass
class Driver:
    coach: Coach
    t: float = 0.0
    out: list[Feedback] = field(default_factory=list)

    @classmethod
    def calibrated(cls, protocol: ExerciseProtocol) -> Driver:
        d = cls(Coach(protocol))
        d.out += d.coach.tick(0.0, 0.0, 0.0)
        d.t = 1.0
        d.event(EventType.CALIBRATED, noise=1.0, baseline=1.0)
        return d

    def event(self, kind: EventType, **detail: Any) -> None:
        self.out += self.coach.on_event(Event(kind, self.t, self.t, "emg", None, detail))

    def run(self, seconds: float, activity: float = 0.0, angle: float = 0.0,
            rest: float | None = None) -> None:
        """Tick for ``seconds`` with a constant activity (noise units) and joint angle
        (and, when given, the rest baseline the activity is measured above)."""
        end = self.t + seconds
        while self.t < end - 1e-9:
            self.t = round(self.t + STEP_S, 6)
            self.out += self.coach.tick(self.t, activity, angle, 0.0, (angle, 0.0, 0.0),
                                        rest_baseline=rest)

    def command(self, name: str, value: float | None = None) -> None:
        self.out += self.coach.command(name, self.t, value)

    def contract(self, seconds: float, activity: float = 5.0) -> None:
        self.event(EventType.ONSET)
        self.run(seconds, activity)

    def release(self) -> None:
        self.event(EventType.RELEASE)

    def trace(self, since: int = 0) -> list[str]:
        """Phases and cues (as the scenario tests write them), levels left out."""
        return trace(self.out[since:])

    def when(self, kind: str, **match: Any) -> float:
        """Time of the first feedback of ``kind`` whose payload has ``match``."""
        return next(o.t for o in self.out if o.kind == kind
                    and all(o.payload.get(k) == v for k, v in match.items()))
