"""Exercise protocols (TOML): what the clinician prescribed, validated on load.

A protocol holds the technique, muscle and side, repetitions, intensity band, phase
durations, movement tolerance (degrees and deg/s), timeouts and the cue texts. Cue texts
come from a per-language file (``coach/cues/<locale>.toml``) chosen by the protocol's
``locale``; a protocol may override single texts in its ``[cues]`` table. Every value is
checked on load and an error names the file, the key and what would be valid, because the
person writing a protocol is a clinician, not a programmer.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from isofeedback.checks import choice, integer, number
from isofeedback.errors import ConfigError
from isofeedback.tomlfile import read_toml

__all__ = [
    "CUE_IDS",
    "DEFAULT_CUES",
    "FIELDS",
    "PAGE_CUE_IDS",
    "ExerciseProtocol",
    "available_locales",
    "find_protocol",
    "load_cues",
    "load_protocol",
    "parse_protocol",
    "shipped_protocols",
]

_TIME_KEYS = (
    "hold_s",
    "relax_s",
    "stretch_s",
    "rest_calibration_s",
    "no_contraction_timeout_s",
    "abandon_after_s",
    "sensor_wait_s",
    "release_timeout_s",
    "relax_confirm_s",
    "reference_s",
    "session_max_s",
    "hold_step_s",
    "hold_max_s",
)
HOLD_MAX_LIMIT_S = 30.0  # a progression never lengthens an isometric hold beyond this


def available_locales() -> list[str]:
    """Languages with a shipped cues file."""
    folder = resources.files("isofeedback.coach") / "cues"
    names = (p.name for p in folder.iterdir())
    return sorted(n.removesuffix(".toml") for n in names if n.endswith(".toml"))


@cache
def _cues_text(locale: str) -> dict[str, str]:
    if locale not in available_locales():
        raise ConfigError(
            f"no cue texts for locale {locale!r}; available: {', '.join(available_locales())} "
            "(add coach/cues/<locale>.toml with the same ids as en.toml)"
        )
    text = (resources.files("isofeedback.coach") / "cues" / f"{locale}.toml").read_text("utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cues file {locale}.toml: {exc}") from None
    cues = doc.get("cues")
    if not isinstance(cues, dict) or not all(isinstance(v, str) for v in cues.values()):
        raise ConfigError(f"cues file {locale}.toml: [cues] must map cue ids to texts")
    return cues


def load_cues(locale: str = "en") -> dict[str, str]:
    """Cue id → text for ``locale``; a copy, callers may change it."""
    return dict(_cues_text(locale))


DEFAULT_CUES: dict[str, str] = load_cues("en")
CUE_IDS: frozenset[str] = frozenset(DEFAULT_CUES)
#: cues the patient's page says by itself (the coach has not started yet), in the same
#: files so that a translation has them too
PAGE_CUE_IDS: frozenset[str] = frozenset({"sensor_search"})


@dataclass(frozen=True, slots=True)
class ExerciseProtocol:
    """A prescribed exercise. Intensity is in % of a gentle reference contraction the
    patient shows at the start (``intensity_unit = "%ref"``, what a file gets unless it
    says otherwise), in multiples of resting noise (``"x_rest"``), or in % MVC (``"%MVC"``:
    an MVC from the stored calibration or captured at session start, only when the
    clinician enables it). The dataclass keeps the older defaults (% MVC with capture) so a
    protocol stored in an older recording loads as it ran; the progression keys lengthen
    the hold across sessions (``coach.progression``)."""

    technique: str = "pir"
    name: str = "Post-isometric relaxation"
    muscle: str = ""
    side: str = ""
    locale: str = "en"
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
    abandon_after_s: float = 45.0  # waiting this long without a contraction ends the session
    # the sensor silent this long (out of range, battery flat) ends the session, with its
    # summary kept: it reconnects by itself until then (a paused session never ended)
    sensor_wait_s: float = 300.0
    release_timeout_s: float = 5.0
    relaxed_below: float = 5.0  # residual intensity that counts as fully relaxed
    relax_confirm_s: float = 5.0  # still tense after relax_s: this long to let go, or no stretch
    session_max_s: float = 1800.0
    # -- clinical fidelity (docs/coaching.md gives the source of each number) -------------
    variant: str = "post_isometric"  # or "reciprocal_inhibition" (MET): the antagonist works
    antagonist: str = ""  # the opposing muscle, named for the patient
    channels: tuple[int, ...] = ()  # EMG channels over the target muscle (() = all)
    antagonist_channels: tuple[int, ...] = ()  # EMG channels over the antagonist
    reference_s: float = 3.0  # the gentle reference contraction (intensity_unit "%ref")
    stretch_mode: str = "acute"  # acute: take up the slack only; chronic: hold 10–60 s
    breathing: bool = True  # breathe in on the contraction, out on the stretch
    max_reps: int = 0  # attempts in all, repeats included (0: reps, or reps + 2 with repeats)
    repeat_broken: bool = False  # a repetition that broke a rule is done again
    credit_in_band: float = 0.6  # a hold counts when this fraction of hold_s was in the band
    rom_plateau_deg: float = 0.0  # stop once the last rom_plateau_reps gained less (0: off)
    rom_plateau_reps: int = 2
    pain_rule: str = "stop"  # or "antagonist": switch to reciprocal inhibition
    setup: str = ""  # set-up instructions for this muscle, said before the first repetition
    # -- progression across sessions: lengthen the hold, never push harder ----------------
    hold_step_s: float = 0.0  # lengthen (or shorten) the hold by this per step (0: off)
    hold_max_s: float = 0.0  # ... up to this (the longest hold this protocol allows)
    progress_after: int = 2  # this many good sessions in a row at the same hold: one step up
    progress_quality: float = 0.8  # hold quality (0-1) that counts as a good session
    regress_quality: float = 0.5  # a complete session below this: one step back
    # what the progression rule decided for this session (set when the session is built,
    # not in a file; kept with the protocol in a recording so a replay announces the same)
    progression: dict[str, Any] = field(default_factory=dict)
    # the published hold countdown counts time in the band only, as the credited hold does
    # (False: the clock, as recordings made before it ran; the reader sets it for them)
    countdown_in_band: bool = True
    # "relaxed" is judged against relaxed_below or, where the sensor's rest noise cannot
    # measure that little, against the noise's own level (Coach.relaxed_limit) (False:
    # relaxed_below alone, as recordings made before it ran; the reader sets it for them)
    relaxed_over_noise: bool = True
    cues: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CUES))
    path: str = ""

    def __post_init__(self) -> None:
        where = self.path or "protocol"

        def bad(key: str, msg: str) -> ConfigError:
            return ConfigError(f"{where}: exercise.{key}: {msg}")

        if self.technique not in ("pir", "met"):
            raise bad("technique", f"expected 'pir' or 'met', got {self.technique!r}")
        for key in ("channels", "antagonist_channels"):
            value = getattr(self, key)
            if isinstance(value, list):  # stored in a recording as JSON
                object.__setattr__(self, key, tuple(value))
            for ch in getattr(self, key):
                integer(ch, f"exercise.{key}[]", low=0, high=63, where=where)
        choice(self.variant, "exercise.variant", _VARIANTS, where=where)
        if self.technique == "pir" and self.variant != "post_isometric":
            raise bad("variant", "PIR is post-isometric; reciprocal inhibition is a MET variant "
                      "(technique = 'met')")
        choice(self.stretch_mode, "exercise.stretch_mode", ("acute", "chronic"), where=where)
        if self.stretch_mode == "chronic" and not 10 <= self.stretch_s <= 60:
            raise bad("stretch_s", f"a chronic stretch is held 10–60 s, got {self.stretch_s:g}")
        if self.stretch_mode == "acute" and self.stretch_s > 10:
            raise bad("stretch_s", f"an acute stretch only takes up the slack (at most 10 s), got "
                      f"{self.stretch_s:g}; for a held stretch set stretch_mode = 'chronic'")
        choice(self.pain_rule, "exercise.pain_rule", ("stop", "antagonist"), where=where)
        if self.variant == "reciprocal_inhibition" or self.pain_rule == "antagonist":
            why = ("variant 'reciprocal_inhibition'" if self.variant != "post_isometric"
                   else "pain_rule 'antagonist'")
            if not self.antagonist:
                raise bad("antagonist", f"{why} needs the antagonist muscle's name")
            if not self.antagonist_channels:
                raise bad("antagonist_channels", f"{why} needs the EMG channels over the "
                          "antagonist (0-based)")
            if set(self.antagonist_channels) & set(self.channels):
                raise bad("antagonist_channels", "must not share channels with 'channels'")
        if self.pain_rule == "antagonist" and self.intensity_unit == "%MVC":
            raise bad("pain_rule", "'antagonist' needs intensity_unit '%ref' or 'x_rest': no "
                      "maximal contraction of the antagonist is asked")
        integer(self.max_reps, "exercise.max_reps", low=0, high=100, where=where)
        if self.max_reps and self.max_reps < self.reps:
            raise bad("max_reps", f"({self.max_reps}) must be 0 or at least reps ({self.reps})")
        number(self.credit_in_band, "exercise.credit_in_band", low=0.0, high=1.0, where=where)
        number(self.rom_plateau_deg, "exercise.rom_plateau_deg", low=0.0, high=45.0, where=where)
        integer(self.rom_plateau_reps, "exercise.rom_plateau_reps", low=1, high=10, where=where)
        if self.side not in ("", "left", "right"):
            raise bad("side", f"expected 'left' or 'right', got {self.side!r}")
        if not 1 <= self.reps <= 50:
            raise bad("reps", f"must be 1–50, got {self.reps}")
        for key in _TIME_KEYS:
            v = getattr(self, key)
            if not math.isfinite(v) or v < 0:
                raise bad(key, f"must be a time in seconds, 0 or more, got {v}")
        for key in ("hold_s", "rest_calibration_s", "no_contraction_timeout_s", "session_max_s"):
            if getattr(self, key) <= 0:
                raise bad(key, f"must be positive, got {getattr(self, key)}")
        if self.intensity_unit not in _UNITS:
            raise bad("intensity_unit", f"expected '%ref', 'x_rest' or '%MVC', got "
                      f"{self.intensity_unit!r}")
        lo, hi = self.intensity_low, self.intensity_high
        if self.intensity_unit == "%ref":
            if not 0 < lo < 100 < hi <= 300:
                raise bad("intensity", f"band [{lo:g}, {hi:g}] % of the gentle reference "
                          "contraction must hold 100 (the reference) with 0 < low < high ≤ 300")
            if self.mvc_capture:
                raise bad("mvc_capture", "must be false when intensity_unit is '%ref' (no "
                          "maximal contraction is asked)")
        if self.intensity_unit == "%MVC" and not 0 <= lo < hi <= 100:
            raise bad(
                "intensity",
                f"band [{lo:g}, {hi:g}] must lie within 0–100 % MVC with low < high",
            )
        if self.intensity_unit == "x_rest":
            if not 0 < lo < hi:
                raise bad("intensity", f"band [{lo:g}, {hi:g}] x rest must be positive, low < high")
            if self.mvc_capture:
                raise bad("mvc_capture", "must be false when intensity_unit is 'x_rest'")
        if not 0 <= self.relaxed_below < lo:
            raise bad(
                "relaxed_below",
                f"must be 0 or more and below the band's low end {lo:g}, got {self.relaxed_below}",
            )
        # nan would compare false with every movement: the joint-still rule would be off
        number(self.movement_max_deg, "exercise.movement_max_deg", low=0.0,
                      low_open=True, high=180.0, where=where)
        number(self.movement_max_dps, "exercise.movement_max_dps", low=0.0,
                      low_open=True, high=5000.0, where=where)
        if self.abandon_after_s < self.no_contraction_timeout_s:
            raise bad(
                "abandon_after_s",
                f"({self.abandon_after_s:g} s) must not be shorter than "
                f"no_contraction_timeout_s ({self.no_contraction_timeout_s:g} s)",
            )
        if self.hold_s >= self.session_max_s:
            raise bad(
                "hold_s",
                f"a {self.hold_s:g} s hold is longer than the whole session "
                f"(session_max_s = {self.session_max_s:g} s)",
            )
        if self.session_estimate_s > self.session_max_s:
            raise bad(
                "reps",
                f"{self.reps} repetitions of a {self.hold_s:g} s hold take about "
                f"{self.session_estimate_s:.0f} s, more than session_max_s = "
                f"{self.session_max_s:g} s: fewer reps, a shorter hold_s or shorter phases",
            )
        self._check_progression(bad, where)
        missing = CUE_IDS - set(self.cues)
        if missing:
            # a protocol stored (in a recording) before these cues existed: the locale's
            # texts, so an old recording still replays
            try:
                texts = load_cues(self.locale)
            except ConfigError as exc:
                raise bad("locale", str(exc)) from None
            object.__setattr__(self, "cues", {**{k: texts[k] for k in missing}, **self.cues})
        unknown = set(self.cues) - CUE_IDS
        if unknown:
            raise ConfigError(
                f"{where}: cues: unknown cue ids {sorted(unknown)} (known: {sorted(CUE_IDS)})"
            )

    def _check_progression(self, bad: Callable[[str, str], ConfigError], where: str) -> None:
        """The progression keys: a step needs a longest hold above the starting one, and
        the quality that steps back must lie below the one that steps up."""
        step, top = self.hold_step_s, self.hold_max_s
        integer(self.progress_after, "exercise.progress_after", low=1, high=10, where=where)
        number(self.progress_quality, "exercise.progress_quality", low=0.0, high=1.0,
               where=where)
        number(self.regress_quality, "exercise.regress_quality", low=0.0, high=1.0,
               where=where)
        if self.regress_quality >= self.progress_quality:
            raise bad("regress_quality", f"({self.regress_quality:g}) must be below "
                      f"progress_quality ({self.progress_quality:g})")
        if step > 0 and top == 0:
            raise bad("hold_max_s", f"hold_step_s = {step:g} lengthens the hold up to "
                      "hold_max_s: set it (longer than hold_s)")
        if top and top < self.hold_s:
            raise bad("hold_max_s", f"({top:g} s) must not be shorter than hold_s "
                      f"({self.hold_s:g} s)")
        if top > HOLD_MAX_LIMIT_S:
            raise bad("hold_max_s", f"({top:g} s) must be at most {HOLD_MAX_LIMIT_S:g} s: "
                      "progress by lengthening the hold within an isometric exercise")
        if top > self.hold_s and step == 0:
            raise bad("hold_step_s", f"hold_max_s ({top:g} s) is longer than hold_s "
                      f"({self.hold_s:g} s) but the step is 0: set the step (e.g. 1.0)")

    @property
    def hold_longest_s(self) -> float:
        """The longest hold this protocol may reach by progression."""
        return max(self.hold_s, self.hold_max_s)

    @property
    def session_estimate_s(self) -> float:
        """Expected session length: calibration, MVC capture, and every repetition."""
        per_rep = 2.0 + self.hold_longest_s + 1.0 + self.relax_s + self.stretch_s
        reference = self.reference_s + 4.0 if self.intensity_unit == "%ref" else 0.0
        return (self.rest_calibration_s + (8.0 if self.mvc_capture else 0.0) + reference
                + self.attempts_max * per_rep)

    def setup_text(self) -> str:
        """The set-up instructions with ``{side}`` and ``{other_side}`` filled in from
        ``side``: a prescription for the left leg must not tell the patient to strap the
        right foot.

        >>> ExerciseProtocol(side="left", setup="Strap the {side} foot, hug the "
        ...                  "{other_side} knee.").setup_text()
        'Strap the left foot, hug the right knee.'
        """
        other = {"left": "right", "right": "left"}.get(self.side, "other")
        return (self.setup.replace("{side}", self.side or "affected")
                .replace("{other_side}", other))

    def cue(self, cue_id: str, **values: str) -> str:
        """The text of ``cue_id``; ``{muscle}``, ``{antagonist}`` and any ``values``
        (``{hold_s}``…) are filled in."""
        text = self.cues[cue_id]
        if "{" not in text:
            return text
        fill = {"muscle": self.muscle or "the muscle",
                "antagonist": self.antagonist or "the opposite muscle", **values}
        for key, value in fill.items():
            text = text.replace("{" + key + "}", value)
        return text

    @property
    def reciprocal(self) -> bool:
        """The antagonist contracts (MET reciprocal inhibition)."""
        return self.variant == "reciprocal_inhibition"

    @property
    def attempts_max(self) -> int:
        """Repetitions attempted at most, repeats included."""
        return self.max_reps or (self.reps + 2 if self.repeat_broken else self.reps)


_VARIANTS = ("post_isometric", "reciprocal_inhibition")
_FILE_DEFAULTS = {"intensity_unit": "%ref", "mvc_capture": False}
_REFERENCE_BAND = (50.0, 140.0)
_UNITS = ("%ref", "x_rest", "%MVC")
#: the intensity units in words, as a patient reads them (the terminal and the session
#: summary; the patient page has the same words)
UNIT_WORDS = {"%ref": "% of your gentle level", "%MVC": "% of maximal", "x_rest": "× rest"}
#: the dataclass fields a protocol file sets (``intensity_low/high`` as ``intensity``)
FIELDS = frozenset(f for f in ExerciseProtocol.__dataclass_fields__
                   if f not in ("cues", "path", "progression", "countdown_in_band",
                                "relaxed_over_noise"))
_FIELDS = FIELDS
_NUMBER_ALIASES = {"intensity_low", "intensity_high"}


def parse_protocol(data: dict[str, Any], path: str) -> ExerciseProtocol:
    """Validate a parsed protocol document."""
    ex = data.get("exercise")
    if not isinstance(ex, dict):
        raise ConfigError(f"{path}: missing [exercise] table (see the shipped pir.toml)")
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
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            ):
                raise ConfigError(
                    f"{path}: exercise.intensity: expected [low, high], got {value!r}"
                )
            kwargs["intensity_low"], kwargs["intensity_high"] = float(value[0]), float(value[1])
            continue
        if key not in _FIELDS or key in _NUMBER_ALIASES:
            allowed = sorted((_FIELDS - _NUMBER_ALIASES) | {"intensity"})
            raise ConfigError(
                f"{path}: exercise.{key}: unknown key (allowed: {', '.join(allowed)})"
            )
        want = type(getattr(defaults, key))
        if want is tuple:
            if not isinstance(value, list):
                raise ConfigError(f"{path}: exercise.{key}: expected a list of channel numbers, "
                                  f"got {value!r}")
            kwargs[key] = tuple(value)  # each checked as an integer by the protocol
            continue
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise ConfigError(f"{path}: exercise.{key}: expected {want.__name__}, got {value!r}")
        kwargs[key] = value
    if "intensity_unit" not in ex:
        # a file that does not choose gets the gentle reference: no maximal contraction
        # unless the clinician enables it (the dataclass keeps the old defaults, so a
        # protocol stored in an older recording still replays as it ran)
        kwargs.update(_FILE_DEFAULTS)
        if "intensity" not in ex:
            kwargs["intensity_low"], kwargs["intensity_high"] = _REFERENCE_BAND
        if "mvc_capture" in ex:
            kwargs["mvc_capture"] = ex["mvc_capture"]
    try:
        cues = load_cues(kwargs.get("locale", "en"))
    except ConfigError as exc:
        raise ConfigError(f"{path}: exercise.locale: {exc}") from None
    raw_cues = data.get("cues", {})
    if not isinstance(raw_cues, dict) or not all(isinstance(v, str) for v in raw_cues.values()):
        raise ConfigError(f"{path}: [cues] must map cue ids to texts")
    cues.update(raw_cues)
    return ExerciseProtocol(**kwargs, cues=cues, path=path)


def load_protocol(path: Path) -> ExerciseProtocol:
    data = read_toml(path, "protocol")
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
