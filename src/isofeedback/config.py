"""Processing configuration: every parameter that changes detections, in one frozen value.

It is recorded with each session so a replay with the recorded configuration reproduces
the live results exactly, and a researcher can replay with another one (``--config``).

The value is nested, one section per part of the processing: ``chain`` (the EMG chain),
``detector`` (the onset/release detector's :class:`~isofeedback.detectors.params.DetectorParams`,
itself one group per concept), ``double_threshold`` (the classic detector kept for
comparisons), ``movement``; at the top the detector's kind and version. Settings are
addressed by their dotted path (``detector.onset.h``). Files and recordings made before
the nesting name them flat (``onset_h``): :data:`FLAT_NAMES` maps every flat name to its
path, the one place the old form is read, so a ``[pipeline]`` table may use either form
and old recordings replay exactly.

>>> cfg = PipelineConfig.from_dict({"onset_h": 12, "chain": {"mains_hz": 60}})
>>> cfg.detector.onset.h, cfg.chain.mains_hz, cfg.calibration_s
(12.0, 60.0, 3.0)
>>> cfg.updated({"detector.onset.h": 9}).value("detector.onset.h")
9.0
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isofeedback import checks
from isofeedback.checks import choice
from isofeedback.detectors.params import (
    Confirmation,
    DetectorParams,
    OnsetTest,
    ReleaseTest,
    RestModel,
)
from isofeedback.errors import ConfigError
from isofeedback.tomlfile import read_toml

__all__ = [
    "CURRENT_VERSION",
    "DETECTOR_VERSIONS",
    "FLAT_NAMES",
    "ChainSettings",
    "DetectorVersion",
    "DoubleThresholdSettings",
    "MovementSettings",
    "PipelineConfig",
    "load_pipeline_config",
    "recorded_pipeline_config",
    "setting_names",
    "versioned_config",
    "with_current_detector",
]


@dataclass(frozen=True, slots=True)
class ChainSettings:
    """The EMG chain: band-pass from ``low_hz`` (20 Hz is the surface-EMG standard;
    30–50 Hz rejects more ECG on trunk muscles at the cost of some EMG power), mains
    notches at ``mains_hz`` (0 = off) and ``mains_harmonics`` harmonics with quality
    ``mains_q`` (narrower notches ring longer after a release), the envelope's window,
    the converter limit ``full_scale`` in EMG units (127 for int8; 0 = unknown), the
    ``channels`` over the target muscle (0-based; None = all), whether the channel
    weights are learnt once some channel is clearly active (false: once their mean is),
    and whether samples at the converter's limit are gated like contact spikes
    (``gate_saturation``; false from detector version 12: a strong contraction clips an
    int8 armband for seconds, and a clipped sample is a lower bound of a high power, not
    an artifact — contact spikes that reach the limit are still gated as spikes, and
    saturation is still reported as a signal-quality event), and whether a channel 60 dB
    below the liveliest at rest is left out of the fusion from the start
    (``drop_dead_channels``, from version 13: a flat or lifted channel counted until the
    weights were learnt, then left the fused rest level off the detector's), and whether
    the rest calibration's hum chooses the notch (``mains_auto``, from version 16: a
    sensor used under the other mains frequency than ``mains_hz`` is notched at the one
    it hums at, see :class:`~isofeedback.dsp.emg_chain.EmgChain`), and whether heartbeats
    in the rest calibration raise the band-pass's low edge to ``ecg_low_hz``
    (``ecg_auto``, from version 17: over the trunk the heart's QRS reached the electrodes
    at several times the rest level and each beat decided a provisional onset; see
    :mod:`~isofeedback.dsp.heartbeats`), and whether a gated "spike" whose raw signal stays
    up ends its gate a few ms after it began (``spike_level``, from version 20: a
    contraction that starts at once far above the rest looked like a spike and its first
    ~70 ms were held back)."""

    mains_hz: float = 50.0
    mains_harmonics: float = 3.0
    mains_q: float = 10.0
    envelope_s: float = 0.05
    low_hz: float = 20.0
    full_scale: float = 0.0
    channels: tuple[int, ...] | None = None
    weights_from_best_channel: bool = True
    gate_saturation: bool = False
    drop_dead_channels: bool = True
    mains_auto: bool = True
    ecg_auto: bool = True
    ecg_low_hz: float = 60.0
    spike_level: bool = True

    def __post_init__(self) -> None:
        if self.mains_hz not in (0.0, 50.0, 60.0):
            raise ConfigError(f"chain.mains_hz must be 50, 60 or 0 (off), got {self.mains_hz}")
        if self.envelope_s <= 0 or self.low_hz <= 0 or self.ecg_low_hz <= 0:
            raise ConfigError("chain.envelope_s, chain.low_hz and chain.ecg_low_hz must be "
                              "positive")


@dataclass(frozen=True, slots=True)
class DoubleThresholdSettings:
    """The classic double-threshold detector (``onset_detector = "double_threshold"``),
    kept as a baseline for comparisons by replay with another configuration."""

    onset_k: float = 8.0
    onset_low_k: float = 3.0
    release_k: float = 5.0
    min_on_s: float = 0.03
    min_off_s: float = 0.15
    refractory_s: float = 0.3

    def __post_init__(self) -> None:
        if not self.onset_low_k <= self.onset_k:
            raise ConfigError("double_threshold.onset_low_k must not exceed onset_k")


@dataclass(frozen=True, slots=True)
class MovementSettings:
    """The joint may move at most ``max_deg`` from the neutral pose during a hold."""

    max_deg: float = 5.0


def _current_detector() -> DetectorParams:
    """The current detector version's parameters (a 3 s rest calibration, 0.3 s
    refractory after a release; activations under 0.5 s, the coach's false-start limit,
    are retracted; the rest level followed within seconds, the release judged against
    the rest the onset left; the onset back-dated against the rest level the samples
    before it show, and again 0.1 s after its decision over the rise seen since; above
    1 kHz each sample counts 1000/fs of one in the change tests; a train of brief
    activations with no contraction within 2 s raises the rest)."""
    return DetectorParams(
        rest=RestModel(calibration_s=3.0, level_s=3.0, settle_s=0.25, confirm_s=0.5,
                       train_s=2.0),
        onset=OnsetTest(refractory_s=0.3, rest_fit=True, rest_anchor_s=0.3, refine_s=0.1),
        release=ReleaseTest(local_rest=True),
        confirmation=Confirmation(min_contraction_s=0.5),
        evidence_hz=1000.0,
    )


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Signal-processing and detection parameters, one section per part."""

    chain: ChainSettings = field(default_factory=ChainSettings)
    # which onset/release detector: "cusum" (default) or "double_threshold" (the classic
    # Bonato-style baseline, for comparisons by replay with --config)
    onset_detector: str = "cusum"
    detector: DetectorParams = field(default_factory=_current_detector)
    double_threshold: DoubleThresholdSettings = field(default_factory=DoubleThresholdSettings)
    movement: MovementSettings = field(default_factory=MovementSettings)
    # the named detector version these settings are (DETECTOR_VERSIONS)
    detector_version: str = "23"  # = CURRENT_VERSION (a test checks it)

    def __post_init__(self) -> None:
        choice(self.detector_version, "detector_version", VERSION_NAMES)
        choice(self.onset_detector, "onset_detector", ("cusum", "double_threshold"))
        for path, v in _leaves(self):
            if isinstance(v, float):  # finite, not negative, not absurd (nan/inf/1e9 s)
                _check_number(v, path)

    @property
    def calibration_s(self) -> float:
        """The session's rest calibration (the rest model's; the chain, the IMU and the
        double threshold use it too)."""
        return self.detector.rest.calibration_s

    def value(self, path: str) -> Any:
        """The setting at a dotted ``path`` (``"detector.onset.h"``)."""
        v: Any = self
        for part in path.split("."):
            v = getattr(v, part)
        return v

    def as_dict(self) -> dict[str, Any]:
        """The nested form a recording stores (tuples as lists)."""
        d = dataclasses.asdict(self)
        if self.chain.channels is not None:
            d["chain"]["channels"] = list(self.chain.channels)
        return d

    def updated(self, settings: Mapping[str, Any], where: str = "config") -> PipelineConfig:
        """These settings with ``settings`` changed (dotted paths, sections or flat names)."""
        names: dict[str, str] = {}
        paths = dict(_leaves(self))
        paths.update(_paths(settings, where, names=names))
        return _build(paths, where, names)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "config") -> PipelineConfig:
        """Settings in nested (sections), dotted or flat form over the defaults."""
        names: dict[str, str] = {}
        return _build(_paths(data, where, names=names), where, names)


#: every flat setting name (files and recordings made before the nesting) → its paths;
#: ``refractory_s`` was shared by both detectors
FLAT_NAMES: dict[str, tuple[str, ...]] = {
    "mains_hz": ("chain.mains_hz",),
    "emg_channels": ("chain.channels",),
    "envelope_s": ("chain.envelope_s",),
    "emg_low_hz": ("chain.low_hz",),
    "calibration_s": ("detector.rest.calibration_s",),
    "mains_harmonics": ("chain.mains_harmonics",),
    "mains_q": ("chain.mains_q",),
    "emg_full_scale": ("chain.full_scale",),
    "weights_from_best_channel": ("chain.weights_from_best_channel",),
    "onset_detector": ("onset_detector",),
    "onset_ratio": ("detector.onset.ratio",),
    "onset_h": ("detector.onset.h",),
    "onset_sample_max": ("detector.onset.sample_max",),
    "backdate_s": ("detector.onset.backdate_s",),
    "low_rate_onset_ratio": ("detector.low_rate.onset_ratio",),
    "low_rate_onset_h": ("detector.low_rate.onset_h",),
    "low_rate_onset_sample_max": ("detector.low_rate.onset_sample_max",),
    "release_ratio": ("detector.release.ratio",),
    "release_h": ("detector.release.h",),
    "min_active_s": ("detector.release.min_active_s",),
    "release_tail": ("detector.release.tail",),
    "low_rate_release_tail": ("detector.low_rate.release_tail",),
    "low_rate_release_blend": ("detector.low_rate.release_blend",),
    "release_drop_ratio": ("detector.level_drop.ratio",),
    "release_drop_s": ("detector.level_drop.s",),
    "fused_evidence": ("detector.fused_evidence",),
    "min_contraction_s": ("detector.confirmation.min_contraction_s",),
    "onset_k": ("double_threshold.onset_k",),
    "onset_low_k": ("double_threshold.onset_low_k",),
    "release_k": ("double_threshold.release_k",),
    "min_on_s": ("double_threshold.min_on_s",),
    "min_off_s": ("double_threshold.min_off_s",),
    "refractory_s": ("double_threshold.refractory_s", "detector.onset.refractory_s"),
    "movement_max_deg": ("movement.max_deg",),
    "detector_version": ("detector_version",),
}

#: upper bounds by unit suffix: a window or time longer than ten minutes (``envelope_s =
#: 1e9`` would size a filter to match) or a frequency above 10 kHz is a typo; others are
#: ratios, where 1e9 is the recorded "off" value of older settings
_HIGHEST = {"_s": 600.0, "hz": 10_000.0}


def _check_number(value: Any, name: str, where: str = "") -> float:
    return checks.number(value, name, low=0.0, high=_HIGHEST.get(name[-2:], 1e9),
                         where=where)


def _leaves(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every setting of a section (a dataclass) as (dotted path, value)."""
    out: list[tuple[str, Any]] = []
    for f in dataclasses.fields(value):
        v = getattr(value, f.name)
        if dataclasses.is_dataclass(v):
            out += _leaves(v, f"{prefix}{f.name}.")
        else:
            out.append((prefix + f.name, v))
    return out


@functools.cache
def _defaults() -> dict[str, Any]:
    """Every setting's path and its default (its type decides how a stored value is read)."""
    return dict(_leaves(PipelineConfig()))


@functools.cache
def _sections() -> frozenset[str]:
    """Every section's path (``detector``, ``detector.onset`` …)."""
    return frozenset(".".join(p.split(".")[:i]) for p in _defaults()
                     for i in range(1, p.count(".") + 1))


def setting_names() -> tuple[str, ...]:
    """Every setting a ``[pipeline]`` table may name: dotted paths and flat names."""
    return tuple(_defaults()) + tuple(k for k in FLAT_NAMES if k not in _defaults())


def _paths(data: Mapping[str, Any], where: str, prefix: str = "",
           names: dict[str, str] | None = None) -> dict[str, Any]:
    """``data`` (sections as tables, dotted or flat names) as {dotted path: stored value};
    values are checked later (:func:`_build`), as stored. ``names``: filled with the name
    each path was given by (errors name the key as written)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = prefix + str(key)
        if path in _defaults():
            targets: tuple[str, ...] = (path,)
        elif not prefix and key in FLAT_NAMES:
            targets = FLAT_NAMES[key]
        elif path in _sections():
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: {path} must be a table of settings")
            out.update(_paths(value, where, path + ".", names))
            continue
        else:
            known = list(setting_names())
            close = difflib.get_close_matches(path, known, n=1, cutoff=0.75)
            raise ConfigError(f"{where}: unknown pipeline setting {path!r}"
                              + (f"; did you mean {close[0]!r}?" if close else "")
                              + f" (known: {', '.join(known)})")
        for t in targets:
            out[t] = value
            if names is not None:
                names[t] = path
    return out


def _read(path: str, value: Any, where: str, name: str) -> Any:
    """A stored value for ``path`` (given as ``name``), as its default's type, with a
    clear error."""
    default = _defaults()[path]
    if path == "chain.channels":
        if value is not None and not (
            isinstance(value, list | tuple) and all(isinstance(v, int) and not isinstance(
                v, bool) for v in value)
        ):
            raise ConfigError(f"{where}: {name} must be a list of channel numbers")
        return None if value is None else tuple(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {name} must be true or false, got {value!r}")
        return value
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {name} must be a string, got {value!r}")
        return value
    if isinstance(default, int):  # a count, not a measure
        return checks.integer(value, name, low=0, where=where)
    return _check_number(value, name, where)


def _build(paths: Mapping[str, Any], where: str,
           names: Mapping[str, str] | None = None) -> PipelineConfig:
    """The configuration of {dotted path: stored value}, the defaults elsewhere."""
    names = names or {}
    values = {p: _read(p, v, where, names.get(p, p)) for p, v in paths.items()}
    cfg = _section(PipelineConfig, PipelineConfig(), "", values, where)
    assert isinstance(cfg, PipelineConfig)
    return cfg


def _section(cls: type[Any], default: Any, prefix: str, values: Mapping[str, Any],
             where: str) -> Any:
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        d = getattr(default, f.name)
        path = prefix + f.name
        if dataclasses.is_dataclass(d):
            kwargs[f.name] = _section(type(d), d, path + ".", values, where)
        else:
            kwargs[f.name] = values.get(path, d)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        # a detector group names itself ("onset.ratio"): prefix the path above it
        above = prefix[: prefix.rstrip(".").rfind(".") + 1] if prefix else ""
        raise ConfigError(f"{where}: {above}{exc}") from None


#: settings of the session, not of the detector: a replay with another detector version
#: keeps them as recorded
SESSION_KEYS = ("chain.mains_hz", "chain.channels", "detector.rest.calibration_s",
                "chain.mains_harmonics", "chain.full_scale", "movement.max_deg",
                "onset_detector")


@dataclass(frozen=True, slots=True)
class DetectorVersion:
    """A named, frozen detector: ``added`` are the settings (dotted paths) this version
    introduced, with their values; a setting introduced later is off in it (``off``: a
    value, or the path of the stored setting whose value it takes — a string that is a
    setting's path is one). A recording stores
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
    DetectorVersion("2", (("detector.onset.sample_max", 0.5),
                          ("detector.low_rate.release_tail", 0.25)),
                    (("detector.onset.sample_max", 1e9), ("detector.low_rate.release_tail", 0.0)),
                    "per-sample cap on onset evidence; release tail below 500 Hz"),
    DetectorVersion("3", (("detector.level_drop.ratio", 8.0), ("detector.level_drop.s", 0.75)),
                    (("detector.level_drop.ratio", 1e9), ("detector.level_drop.s", 0.75)),
                    "level-drop release"),
    DetectorVersion("4", (("chain.low_hz", 20.0),), (("chain.low_hz", 20.0),),
                    "configurable band-pass edge"),
    # before it, one per-sample cap for every rate: the stored onset sample cap
    DetectorVersion("5", (("detector.low_rate.onset_sample_max", 0.9),),
                    (("detector.low_rate.onset_sample_max", "detector.onset.sample_max"),),
                    "wearable-rate onset test 16x / 11 / 0.9"),
    DetectorVersion("6", (("detector.release.tail", 0.25),), (("detector.release.tail", 0.0),),
                    "release tail at every rate"),
    DetectorVersion("7", (("detector.fused_evidence", True),
                          ("chain.weights_from_best_channel", True)),
                    (("detector.fused_evidence", False),
                     ("chain.weights_from_best_channel", False)),
                    "measured evidence of fused channels; weights from the best channel"),
    DetectorVersion("8", (("detector.low_rate.release_blend", 0.5),),
                    (("detector.low_rate.release_blend", 0.0),),
                    "wearable-rate release blended with the envelope's fall"),
    DetectorVersion("9", (("detector.confirmation.min_contraction_s", 0.5),),
                    (("detector.confirmation.min_contraction_s", 0.0),),
                    "provisional onsets: activations under 0.5 s are retracted"),
    DetectorVersion("10", (("detector.rest.level_s", 3.0), ("detector.rest.settle_s", 0.25),
                           ("detector.rest.confirm_s", 0.5),
                           ("detector.release.local_rest", True)),
                    (("detector.rest.level_s", 30.0), ("detector.rest.settle_s", 1.0),
                     ("detector.rest.confirm_s", 0.0),
                     ("detector.release.local_rest", False)),
                    "rest level followed within seconds; release to the rest the onset "
                    "left"),
    DetectorVersion("11", (("detector.onset.rest_fit", True),
                           ("detector.onset.rest_anchor_s", 0.3)),
                    (("detector.onset.rest_fit", False),
                     ("detector.onset.rest_anchor_s", 0.1)),
                    "onset back-dated against the rest level before it (from 500 Hz)"),
    DetectorVersion("12", (("chain.gate_saturation", False),),
                    (("chain.gate_saturation", True),),
                    "samples at the converter's limit are evidence, not gated"),
    DetectorVersion("13", (("chain.drop_dead_channels", True),),
                    (("chain.drop_dead_channels", False),),
                    "a dead (flat) channel is out of the fusion from the start"),
    DetectorVersion("14", (("detector.onset.refine_s", 0.1),),
                    (("detector.onset.refine_s", 0.0),),
                    "onsets back-dated again 0.1 s after the decision (onset_refined)"),
    DetectorVersion("15", (("detector.evidence_hz", 1000.0),),
                    (("detector.evidence_hz", 0.0),),
                    "above 1 kHz a sample counts 1000/fs of one in the change tests"),
    DetectorVersion("16", (("chain.mains_auto", True),), (("chain.mains_auto", False),),
                    "the rest calibration's hum chooses the mains notch (50 or 60 Hz)"),
    DetectorVersion("17", (("chain.ecg_auto", True),), (("chain.ecg_auto", False),),
                    "heartbeats in the rest calibration raise the band-pass edge to 60 Hz"),
    DetectorVersion("18", (("detector.rest.train_s", 2.0),), (("detector.rest.train_s", 0.0),),
                    "a train of brief activations after a hold raises the rest"),
    DetectorVersion("19", (("detector.release.decay", "convolved"),
                           ("detector.release.estimate", "median")),
                    (("detector.release.decay", "added"), ("detector.release.estimate", "mean")),
                    "the release model rings as each fall does (no tuned tail scale); the "
                    "posterior's median"),
    DetectorVersion("20", (("chain.spike_level", True),), (("chain.spike_level", False),),
                    "a gated spike whose raw signal stays up is a contraction that started "
                    "at once: its gate ends within ~10 ms"),
    DetectorVersion("21", (("detector.release.fit_cap", 10.0),),
                    (("detector.release.fit_cap", 0.0),),
                    "the release is fitted to a strong hold's real power, not to the change "
                    "tests' clip"),
    DetectorVersion("22", (("detector.spatial_rest", True),),
                    (("detector.spatial_rest", False),),
                    "a rest left raised after a hold is split on the electrodes into the "
                    "sensor's noise and the muscle's tension; the sensor's part moves the "
                    "coach's baseline (no \"relax fully\" to a relaxed patient)"),
    DetectorVersion("23", (("detector.spatial_release", True),),
                    (("detector.spatial_release", False),),
                    "the electrodes are asked after every release how much of the rest's "
                    "rise since the calibration is the sensor's (a milder rise ended the "
                    "hold by an ordinary release), told against the calibrated baseline"),
)
VERSION_NAMES = tuple(v.name for v in DETECTOR_VERSIONS)
CURRENT_VERSION = VERSION_NAMES[-1]


def versioned_config(data: Mapping[str, Any], where: str, version: str | None = None
                     ) -> PipelineConfig:
    """``data`` (nested, dotted or flat) over the defaults of a detector version
    (``version``, else the one ``data`` names, else :data:`CURRENT_VERSION`): settings
    introduced after that version take the values that do what it did."""
    names: dict[str, str] = {}
    stored = _paths(data, where, names=names)
    return _versioned(stored, names, where, version)


def _versioned(stored: Mapping[str, Any], names: Mapping[str, str], where: str,
               version: str | None) -> PipelineConfig:
    named = stored.get("detector_version")
    if isinstance(named, int) and not isinstance(named, bool):
        named = str(named)  # detector_version = 13 in TOML: version "13" (it was refused as
        # "must be one of … '13' …, got 13")
    name = version or (choice(named, "detector_version", VERSION_NAMES, where=where)
                       if "detector_version" in stored else CURRENT_VERSION)
    full = dict(stored)
    full["detector_version"] = name
    later = VERSION_NAMES[VERSION_NAMES.index(name) + 1 :]
    for v in DETECTOR_VERSIONS:
        if v.name not in later:
            continue
        for key, value in v.off:
            if key not in full:
                # passed on as stored: _build checks it, a damaged value gets its error
                ref = isinstance(value, str) and value in _defaults()
                full[key] = stored.get(value, 1e9) if ref else value
    return _build(full, where, names)


def recorded_pipeline_config(data: Mapping[str, Any], where: str) -> PipelineConfig:
    """The configuration stored in a recording (nested, or flat before the nesting), with
    the detector version it was made with (for a recording made before versions were
    named, the newest version whose settings it stores).

    >>> old = {"onset_sample_max": 0.5, "low_rate_release_tail": 0.25}
    >>> cfg = recorded_pipeline_config(old, "old.isorec")
    >>> cfg.detector_version, cfg.detector.low_rate.onset_sample_max
    ('2', 0.5)
    >>> cfg.detector.level_drop.ratio
    1000000000.0
    """
    names: dict[str, str] = {}
    stored = _paths(data, where, names=names)
    if "detector_version" in stored:
        return _versioned(stored, names, where, None)
    name = DETECTOR_VERSIONS[0].name
    for v in DETECTOR_VERSIONS[1:]:
        if not all(k in stored for k, _ in v.added):
            break
        name = v.name
    return _versioned(stored, names, where, name)


def with_current_detector(cfg: PipelineConfig) -> PipelineConfig:
    """``cfg``'s session settings (mains, channels, calibration …) with the current
    detector version's settings: what a plain replay of an old recording uses."""
    return _build({k: cfg.value(k) for k in SESSION_KEYS}, "config")


def load_pipeline_config(path: Path) -> PipelineConfig:
    """Read the ``[pipeline]`` table of a TOML file (nested sections or flat names)."""
    data = read_toml(path, "config")
    # a setting outside the table (its header forgotten, or misspelt) was silently left
    # out: the replay ran with the defaults as if the file had been read
    stray = [k for k in data if k != "pipeline"]
    if stray:
        raise ConfigError(f"{path}: {stray[0]}: not in the [pipeline] table (the settings "
                          "go under a [pipeline] header)")
    if "pipeline" not in data:
        raise ConfigError(f"{path}: no [pipeline] table: nothing to set")
    table = data["pipeline"]
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [pipeline] must be a table")
    return versioned_config(table, str(path))
