"""Pipeline settings that would make a detector silently useless are refused, by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from isofeedback.config import PipelineConfig, load_pipeline_config, recorded_pipeline_config
from isofeedback.errors import ConfigError


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("onset_sample_max", 0.0, "onset_sample_max must be positive"),
    ("low_rate_onset_sample_max", 0.0, "low_rate_onset_sample_max must be positive"),
    ("release_drop_ratio", 1.0, "release_drop_ratio must exceed 1"),
    ("release_drop_s", 0.0, "release_drop_s be positive"),
    ("emg_low_hz", 0.0, "emg_low_hz must be positive"),
    ("low_rate_release_tail", -0.1, "low_rate_release_tail must be at least 0"),
    ("mains_hz", 55.0, "mains_hz must be 50, 60 or 0"),
    ("fused_evidence", 1.0, "fused_evidence must be true or false"),
    ("low_rate_release_blend", 1.5, "low_rate_release_blend must be between 0 and 1"),
])
def test_bad_setting_is_refused_by_name(setting: str, value: float, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PipelineConfig.from_dict({setting: value}, "session.toml")


def test_unknown_setting_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"session.toml: unknown pipeline setting 'drop'.*"
                                          r"release_drop_ratio"):
        PipelineConfig.from_dict({"drop": 8}, "session.toml")


def test_defaults_round_trip() -> None:
    cfg = PipelineConfig()
    assert PipelineConfig.from_dict(cfg.as_dict()) == cfg


def test_switches_are_read_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[pipeline]\nfused_evidence = false\nweights_from_best_channel = false\n")
    cfg = load_pipeline_config(path)
    assert cfg.fused_evidence is False and cfg.weights_from_best_channel is False
    assert PipelineConfig.from_dict(cfg.as_dict()) == cfg


def test_a_damaged_stored_setting_is_a_clear_error_not_a_crash() -> None:
    """An old recording's config without the newer key derives it from a damaged value:
    the damage is reported by name, not as a Python exception."""
    with pytest.raises(ConfigError, match="must be a number"):
        recorded_pipeline_config({"onset_sample_max": "lots"}, "old.isorec (config)")


def test_detector_versions_are_named_and_the_default_is_the_current_one(tmp_path: Path) -> None:
    from isofeedback.config import (
        CURRENT_VERSION,
        DETECTOR_VERSIONS,
        with_current_detector,
    )

    assert PipelineConfig().detector_version == CURRENT_VERSION == DETECTOR_VERSIONS[-1].name
    fields = set(PipelineConfig().as_dict())
    for v in DETECTOR_VERSIONS:
        assert {k for k, _ in v.added + v.off} <= fields, v.name
    # a recording made by version 8 (before versions were named): every setting but the
    # retraction's is stored, so it replays without retracted events
    stored = {k: v for k, v in PipelineConfig().as_dict().items()
              if k not in ("min_contraction_s", "detector_version")}
    old = recorded_pipeline_config(stored, "old.isorec")
    assert old.detector_version == "8" and old.min_contraction_s == 0.0
    named = recorded_pipeline_config({"detector_version": "6"}, "x.isorec")
    assert (named.low_rate_release_blend, named.fused_evidence, named.release_tail) == (
        0.0, False, 0.25)
    with pytest.raises(ConfigError, match="detector_version must be one of"):
        recorded_pipeline_config({"detector_version": "99"}, "x.isorec")
    path = tmp_path / "c.toml"
    path.write_text('[pipeline]\ndetector_version = "8"\nmains_hz = 60\n')
    cfg = load_pipeline_config(path)
    assert cfg.min_contraction_s == 0.0 and cfg.mains_hz == 60.0
    # a plain replay: the session's settings as recorded, the current detector
    now = with_current_detector(old.replace(calibration_s=4.0, release_h=20.0))
    assert now.detector_version == CURRENT_VERSION and now.min_contraction_s == 0.5
    assert now.calibration_s == 4.0 and now.release_h == PipelineConfig().release_h


def test_a_setting_that_is_not_a_finite_number_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="onset_h must be a finite number"):
        PipelineConfig(onset_h=float("nan"))
    with pytest.raises(ConfigError, match="release_h must be at least 0"):
        PipelineConfig(release_h=-1.0)
