"""Exercise protocols (TOML): what the clinician prescribed, validated on load.

A protocol holds the technique, repetitions, intensity band, phase durations, movement
tolerance and the cue texts (translatable: a protocol may override any of them).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from isofeedback.errors import ConfigError

__all__ = [
    "DEFAULT_CUES",
    "ExerciseProtocol",
    "find_protocol",
    "load_protocol",
    "shipped_protocols",
]

DEFAULT_CUES: dict[str, str] = {
    "calibrate_rest": "Relax completely and keep still while we measure your resting level.",
    "mvc": "Now push as hard as you comfortably can for 3 seconds, then let go.",
    "mvc_done": "Thank you. Relax.",
    "contract": "Tense the muscle gently, without moving the joint.",
    "hold": "Good. Hold it steady.",
    "gentler": "Gentler: ease off a little.",
    "stronger": "A little stronger.",
    "keep_still": "Keep the joint still.",
    "release": "Release now and breathe out.",
    "released_early": "You let go early. Next time hold until the signal.",
    "relax_fully": "Let the muscle go completely.",
    "stretch": "Now gently move to the new barrier.",
    "no_contraction": "No contraction detected. Tense the muscle gently.",
    "next_rep": "Next repetition.",
    "done": "Well done. Session complete.",
    "signal_lost": "Sensor signal lost. Check the sensor is on and charged.",
    "signal_back": "Sensor signal is back.",
}


@dataclass(frozen=True, slots=True)
class ExerciseProtocol:
    """A prescribed exercise. Intensity is in % MVC when ``mvc_capture`` is on (or an MVC
    is known from calibration), else in multiples of resting noise."""

    technique: str = "pir"
    name: str = "Post-isometric relaxation"
    muscle: str = ""
    side: str = ""
    reps: int = 3
    intensity_low: float = 10.0
    intensity_high: float = 25.0
    intensity_unit: str = "%MVC"
    hold_s: float = 7.0
    relax_s: float = 5.0
    stretch_s: float = 4.0
    rest_calibration_s: float = 3.0
    mvc_capture: bool = True
    movement_max_deg: float = 5.0
    movement_max_dps: float = 30.0
    no_contraction_timeout_s: float = 15.0
    release_timeout_s: float = 5.0
    relaxed_below: float = 5.0  # residual intensity that counts as fully relaxed
    cues: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CUES))
    path: str = ""

    def __post_init__(self) -> None:
        where = self.path or "protocol"

        def bad(key: str, msg: str) -> ConfigError:
            return ConfigError(f"{where}: {key}: {msg}")

        if self.technique not in ("pir", "met"):
            raise bad("technique", f"expected 'pir' or 'met', got {self.technique!r}")
        if not 1 <= self.reps <= 50:
            raise bad("reps", f"must be 1–50, got {self.reps}")
        for key in ("hold_s", "relax_s", "stretch_s", "rest_calibration_s"):
            v = getattr(self, key)
            if v < 0:
                raise bad(key, f"must not be negative, got {v}")
        if self.hold_s <= 0:
            raise bad("hold_s", f"must be positive, got {self.hold_s}")
        if self.intensity_unit not in ("%MVC", "x_rest"):
            raise bad("intensity_unit", f"expected '%MVC' or 'x_rest', got {self.intensity_unit!r}")
        if self.intensity_unit == "%MVC" and not (
            0 <= self.intensity_low < self.intensity_high <= 100
        ):
            raise bad(
                "intensity",
                f"band [{self.intensity_low}, {self.intensity_high}] must lie within 0–100 % MVC "
                "with low < high",
            )
        if self.intensity_unit == "x_rest" and not 0 < self.intensity_low < self.intensity_high:
            raise bad("intensity", "band must be positive with low < high")
        if self.movement_max_deg <= 0:
            raise bad("movement_max_deg", "must be positive")
        unknown = set(self.cues) - set(DEFAULT_CUES)
        if unknown:
            raise bad("cues", f"unknown cue ids {sorted(unknown)} (known: {sorted(DEFAULT_CUES)})")

    @property
    def session_estimate_s(self) -> float:
        per_rep = 2.0 + self.hold_s + 1.0 + self.relax_s + self.stretch_s
        return self.rest_calibration_s + (8.0 if self.mvc_capture else 0.0) + self.reps * per_rep

    def cue(self, cue_id: str) -> str:
        return self.cues.get(cue_id, DEFAULT_CUES[cue_id])


_FIELDS = {f for f in ExerciseProtocol.__dataclass_fields__ if f not in ("cues", "path")}


def parse_protocol(data: dict[str, Any], path: str) -> ExerciseProtocol:
    """Validate a parsed protocol document."""
    ex = data.get("exercise")
    if not isinstance(ex, dict):
        raise ConfigError(f"{path}: missing [exercise] table")
    extra = set(data) - {"exercise", "cues"}
    if extra:
        raise ConfigError(f"{path}: unknown tables {sorted(extra)} (allowed: exercise, cues)")
    kwargs: dict[str, Any] = {}
    defaults = ExerciseProtocol()
    for key, value in ex.items():
        if key == "intensity":
            if not (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, int | float) for v in value)
            ):
                raise ConfigError(
                    f"{path}: exercise.intensity: expected [low, high], got {value!r}"
                )
            kwargs["intensity_low"], kwargs["intensity_high"] = float(value[0]), float(value[1])
            continue
        if key not in _FIELDS:
            raise ConfigError(
                f"{path}: exercise.{key}: unknown key (allowed: intensity, "
                f"{', '.join(sorted(_FIELDS))})"
            )
        want = type(getattr(defaults, key))
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want):
            raise ConfigError(f"{path}: exercise.{key}: expected {want.__name__}, got {value!r}")
        kwargs[key] = value
    cues = dict(DEFAULT_CUES)
    raw_cues = data.get("cues", {})
    if not isinstance(raw_cues, dict) or not all(isinstance(v, str) for v in raw_cues.values()):
        raise ConfigError(f"{path}: [cues] must map cue ids to texts")
    cues.update(raw_cues)
    return ExerciseProtocol(**kwargs, cues=cues, path=path)


def load_protocol(path: Path) -> ExerciseProtocol:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: protocol file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read protocol: {exc}") from None
    return parse_protocol(data, str(path))


def shipped_protocols() -> dict[str, str]:
    """Shipped protocol name → TOML text."""
    folder = resources.files("isofeedback.coach") / "protocols"
    return {
        p.name.removesuffix(".toml"): p.read_text(encoding="utf-8")
        for p in folder.iterdir()
        if p.name.endswith(".toml")
    }


def find_protocol(name_or_path: str) -> ExerciseProtocol:
    """A shipped protocol by name (``pir``, ``met``) or a protocol file by path."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        return load_protocol(Path(name_or_path))
    shipped = shipped_protocols()
    if name_or_path not in shipped:
        raise ConfigError(
            f"unknown protocol {name_or_path!r}; shipped: {', '.join(sorted(shipped))} "
            "(or give a path to a .toml file)"
        )
    try:
        data = tomllib.loads(shipped[name_or_path])
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"shipped protocol {name_or_path}: {exc}") from None
    return parse_protocol(data, f"<shipped {name_or_path}>")
