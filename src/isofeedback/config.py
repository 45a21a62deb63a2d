"""Processing configuration: every parameter that changes detections, in one frozen value.

It is recorded with each session so a replay with the recorded configuration reproduces
the live results exactly, and a researcher can replay with another one (``--config``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isofeedback import checks
from isofeedback.checks import choice
from isofeedback.errors import ConfigError
from isofeedback.tomlfile import read_toml

__all__ = [
    "CURRENT_VERSION",
    "DETECTOR_VERSIONS",
    "DetectorVersion",
    "PipelineConfig",
    "load_pipeline_config",
    "recorded_pipeline_config",
    "versioned_config",
    "with_current_detector",
]


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Signal-processing and detection parameters."""

    mains_hz: float = 50.0
    emg_channels: tuple[int, ...] | None = None  # 0-based channels over the target muscle
    envelope_s: float = 0.05
    # band-pass lower edge: 20 Hz is the surface-EMG standard; 30–50 Hz rejects more ECG
    # on trunk muscles at the cost of some EMG power
    emg_low_hz: float = 20.0
    calibration_s: float = 3.0
    mains_harmonics: float = 3.0
    mains_q: float = 10.0  # notch quality factor: narrower notches ring longer after a release
    emg_full_scale: float = 0.0  # converter limit in EMG units (127 for int8); 0 = unknown
    # which onset/release detector: "cusum" (default) or "double_threshold" (the classic
    # Bonato-style baseline, for comparisons by replay with --config)
    onset_detector: str = "cusum"
    # onset/release detector (CUSUM decision on the filtered power, in rest-noise units)
    onset_ratio: float = 4.0
    onset_h: float = 10.0
    # below 500 Hz (wearables) the onset test uses these instead (DetectorParams.at_rate)
    low_rate_onset_ratio: float = 16.0
    low_rate_onset_h: float = 11.0
    low_rate_onset_sample_max: float = 0.9
    release_ratio: float = 3.0
    release_h: float = 12.0
    # one sample adds at most this fraction of the onset threshold (a contact spike's
    # first, not yet gated sample cannot decide an onset alone)
    onset_sample_max: float = 0.5
    # the release is back-dated with this fraction of the filters' ringing in the model
    # (0 = off); below 500 Hz with low_rate_release_tail
    release_tail: float = 0.25
    low_rate_release_tail: float = 0.25
    # below 500 Hz the release is this blend of the back-dated change and the envelope's
    # fall below a threshold (0 = the back-dated change alone)
    low_rate_release_blend: float = 0.5
    # a release also ends an activation whose power stayed this long under its peak block
    # / release_drop_ratio, at a level above the calibrated rest (the rest then moves there)
    release_drop_ratio: float = 8.0
    release_drop_s: float = 0.75
    # several EMG channels: count a fused sample as the evidence measured on the rest
    # (false: as one channel's), and learn the channel weights once some channel is
    # clearly active (false: once their mean is)
    fused_evidence: bool = True
    weights_from_best_channel: bool = True
    min_active_s: float = 0.2
    # an activation shorter than this (back-dated onset to release) is not a contraction:
    # a ``retracted`` event follows its release (0 = off); the coach's false-start limit
    min_contraction_s: float = 0.5
    backdate_s: float = 0.15
    # the double-threshold detector (onset_detector = "double_threshold") uses these
    onset_k: float = 8.0
    onset_low_k: float = 3.0
    release_k: float = 5.0
    min_on_s: float = 0.03
    min_off_s: float = 0.15
    refractory_s: float = 0.3
    movement_max_deg: float = 5.0
    # the named detector version these settings are (DETECTOR_VERSIONS)
    detector_version: str = "9"  # = CURRENT_VERSION (a test checks it)

    def __post_init__(self) -> None:
        choice(self.detector_version, "detector_version", VERSION_NAMES)
        if self.onset_detector not in ("cusum", "double_threshold"):
            raise ConfigError(
                f"onset_detector must be 'cusum' or 'double_threshold', got {self.onset_detector!r}"
            )
        if self.mains_hz not in (0.0, 50.0, 60.0):
            raise ConfigError(f"mains_hz must be 50, 60 or 0 (off), got {self.mains_hz}")
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float):  # finite, not negative, not absurd (nan/inf/1e9 s)
                checks.number(v, f.name, low=0.0, high=_HIGHEST.get(f.name[-2:], 1e9))
        if self.envelope_s <= 0 or self.calibration_s <= 0 or self.emg_low_hz <= 0:
            raise ConfigError("envelope_s, calibration_s and emg_low_hz must be positive")
        if min(self.onset_ratio, self.release_ratio, self.low_rate_onset_ratio) <= 1:
            raise ConfigError("onset_ratio, low_rate_onset_ratio and release_ratio must exceed 1")
        for name in ("onset_sample_max", "low_rate_onset_sample_max"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive (a fraction of the onset threshold)")
        if self.low_rate_release_blend > 1:
            raise ConfigError("low_rate_release_blend must be between 0 and 1")
        if self.release_drop_ratio <= 1 or self.release_drop_s <= 0:
            raise ConfigError("release_drop_ratio must exceed 1 and release_drop_s be positive")
        if not self.onset_low_k <= self.onset_k:
            raise ConfigError("onset_low_k must not exceed onset_k")

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if self.emg_channels is not None:
            d["emg_channels"] = list(self.emg_channels)
        return d

    def replace(self, **changes: Any) -> PipelineConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> PipelineConfig:
        names = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in names:
                raise ConfigError(
                    f"{where}: unknown pipeline setting {key!r} (known: {', '.join(sorted(names))})"
                )
            if key == "emg_channels":
                if value is not None and not (
                    isinstance(value, list | tuple) and all(isinstance(v, int) for v in value)
                ):
                    raise ConfigError(f"{where}: emg_channels must be a list of channel numbers")
                kwargs[key] = None if value is None else tuple(value)
                continue
            if key in _BOOLEAN:
                if not isinstance(value, bool):
                    raise ConfigError(f"{where}: {key} must be true or false, got {value!r}")
                kwargs[key] = value
                continue
            if key in ("onset_detector", "detector_version"):
                if not isinstance(value, str):
                    raise ConfigError(f"{where}: {key} must be a string, got {value!r}")
                kwargs[key] = value
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{where}: {key} must be a number, got {value!r}")
            kwargs[key] = float(value)
        return cls(**kwargs)


#: upper bounds by unit suffix: a window or time longer than ten minutes (``envelope_s =
#: 1e9`` would size a filter to match) or a frequency above 10 kHz is a typo; others are
#: ratios, where 1e9 is the recorded "off" value of older settings
_HIGHEST = {"_s": 600.0, "hz": 10_000.0}

_BOOLEAN = ("fused_evidence", "weights_from_best_channel")

#: settings of the session, not of the detector: a replay with another detector version
#: keeps them as recorded
SESSION_KEYS = ("mains_hz", "emg_channels", "calibration_s", "mains_harmonics",
                "emg_full_scale", "movement_max_deg", "onset_detector")


@dataclass(frozen=True, slots=True)
class DetectorVersion:
    """A named, frozen detector: ``added`` are the settings this version introduced, with
    their values; a setting introduced later is off in it (``off``). A recording stores
    its version; ``replay --verify`` replays it with that version, a plain replay with
    :data:`CURRENT_VERSION`."""

    name: str
    added: tuple[tuple[str, Any], ...]
    off: tuple[tuple[str, Any], ...]
    what: str


#: every detector version, oldest first. The settings a version introduced, with the
#: value that does what the detector did before (``off``). Versions 1–8 were recorded
#: before versions were named: their recordings store every setting that existed, and the
#: version is the newest one whose settings are all stored.
DETECTOR_VERSIONS: tuple[DetectorVersion, ...] = (
    DetectorVersion("1", (), (), "CUSUM onset/release, ramp back-dating, hold-relative "
                    "release"),
    DetectorVersion("2", (("onset_sample_max", 0.5), ("low_rate_release_tail", 0.25)),
                    (("onset_sample_max", 1e9), ("low_rate_release_tail", 0.0)),
                    "per-sample cap on onset evidence; release tail below 500 Hz"),
    DetectorVersion("3", (("release_drop_ratio", 8.0), ("release_drop_s", 0.75)),
                    (("release_drop_ratio", 1e9), ("release_drop_s", 0.75)),
                    "level-drop release"),
    DetectorVersion("4", (("emg_low_hz", 20.0),), (("emg_low_hz", 20.0),),
                    "configurable band-pass edge"),
    # before it, one per-sample cap for every rate: the stored onset_sample_max
    DetectorVersion("5", (("low_rate_onset_sample_max", 0.9),),
                    (("low_rate_onset_sample_max", "onset_sample_max"),),
                    "wearable-rate onset test 16x / 11 / 0.9"),
    DetectorVersion("6", (("release_tail", 0.25),), (("release_tail", 0.0),),
                    "release tail at every rate"),
    DetectorVersion("7", (("fused_evidence", True), ("weights_from_best_channel", True)),
                    (("fused_evidence", False), ("weights_from_best_channel", False)),
                    "measured evidence of fused channels; weights from the best channel"),
    DetectorVersion("8", (("low_rate_release_blend", 0.5),), (("low_rate_release_blend", 0.0),),
                    "wearable-rate release blended with the envelope's fall"),
    DetectorVersion("9", (("min_contraction_s", 0.5),), (("min_contraction_s", 0.0),),
                    "provisional onsets: activations under 0.5 s are retracted"),
)
VERSION_NAMES = tuple(v.name for v in DETECTOR_VERSIONS)
CURRENT_VERSION = VERSION_NAMES[-1]


def versioned_config(data: dict[str, Any], where: str, version: str | None = None
                     ) -> PipelineConfig:
    """``data`` over the defaults of a detector version (``version``, else the one
    ``data`` names, else :data:`CURRENT_VERSION`): settings introduced after that version
    take the values that do what it did."""
    name = version or (choice(data["detector_version"], "detector_version", VERSION_NAMES,
                              where=where) if "detector_version" in data else CURRENT_VERSION)
    full = dict(data)
    full["detector_version"] = name
    later = VERSION_NAMES[VERSION_NAMES.index(name) + 1 :]
    for v in DETECTOR_VERSIONS:
        if v.name not in later:
            continue
        for key, value in v.off:
            if key not in full:
                # passed on as stored: from_dict checks it, a damaged value gets its error
                full[key] = data.get(value, 1e9) if isinstance(value, str) else value
    return PipelineConfig.from_dict(full, where)


def recorded_pipeline_config(data: dict[str, Any], where: str) -> PipelineConfig:
    """The configuration stored in a recording, with the detector version it was made with
    (for a recording made before versions were named, the newest version whose settings
    it stores).

    >>> old = {"onset_sample_max": 0.5, "low_rate_release_tail": 0.25}
    >>> cfg = recorded_pipeline_config(old, "old.isorec")
    >>> cfg.detector_version, cfg.low_rate_onset_sample_max, cfg.release_drop_ratio
    ('2', 0.5, 1000000000.0)
    """
    if "detector_version" in data:
        return versioned_config(data, where)
    name = DETECTOR_VERSIONS[0].name
    for v in DETECTOR_VERSIONS[1:]:
        if not all(k in data for k, _ in v.added):
            break
        name = v.name
    return versioned_config(data, where, name)


def with_current_detector(cfg: PipelineConfig) -> PipelineConfig:
    """``cfg``'s session settings (mains, channels, calibration …) with the current
    detector version's settings: what a plain replay of an old recording uses."""
    keep = {k: getattr(cfg, k) for k in SESSION_KEYS}
    return PipelineConfig(**keep)


def load_pipeline_config(path: Path) -> PipelineConfig:
    """Read the ``[pipeline]`` table of a TOML file."""
    data = read_toml(path, "config")
    table = data.get("pipeline", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [pipeline] must be a table")
    return versioned_config(table, str(path))
