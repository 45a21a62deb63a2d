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
