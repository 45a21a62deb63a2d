"""Pipeline settings that would make a detector silently useless are refused, by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from isofeedback.config import PipelineConfig, load_pipeline_config, recorded_pipeline_config
from isofeedback.errors import ConfigError


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("onset_sample_max", 0.0, "detector.onset.sample_max must be greater than 0"),
    ("low_rate_onset_sample_max", 0.0,
     "detector.low_rate.onset_sample_max must be greater than 0"),
    ("release_drop_ratio", 1.0, "detector.level_drop.ratio must be greater than 1"),
    ("release_drop_s", 0.0, "detector.level_drop.s must be greater than 0"),
    ("emg_low_hz", 0.0, "chain.envelope_s, chain.low_hz and chain.ecg_low_hz must be positive"),
    ("low_rate_release_tail", -0.1, "low_rate_release_tail must be at least 0"),
    ("mains_hz", 55.0, "chain.mains_hz must be 50, 60 or 0"),
    ("fused_evidence", 1.0, "fused_evidence must be true or false"),
    ("low_rate_release_blend", 1.5, "detector.low_rate.release_blend must be at most 1"),
    ("detector.onset.ratio", 1.0, "detector.onset.ratio must be greater than 1"),
    ("onset_low_k", 9.0, "double_threshold.onset_low_k must not exceed onset_k"),
])
def test_bad_setting_is_refused_by_name(setting: str, value: float, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PipelineConfig.from_dict({setting: value}, "session.toml")


def test_unknown_setting_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"session.toml: unknown pipeline setting 'drop'.*"
                                          r"detector\.level_drop\.ratio.*release_drop_ratio"):
        PipelineConfig.from_dict({"drop": 8}, "session.toml")
    with pytest.raises(ConfigError, match=r"unknown pipeline setting 'detector\.onset\.hh'"):
        PipelineConfig.from_dict({"detector": {"onset": {"hh": 8}}}, "session.toml")


def test_a_misspelt_setting_names_the_one_meant_first() -> None:
    """One letter missing: the message says which setting was meant before the list of
    about a hundred names (the one to look for was somewhere in 3 000 characters)."""
    with pytest.raises(ConfigError, match=r"^session\.toml: unknown pipeline setting "
                       r"'min_contracton_s'; did you mean 'min_contraction_s'\? \(known: "):
        PipelineConfig.from_dict({"min_contracton_s": 0.3}, "session.toml")


def test_defaults_round_trip() -> None:
    cfg = PipelineConfig()
    assert PipelineConfig.from_dict(cfg.as_dict()) == cfg
    changed = cfg.updated({"emg_channels": [1, 2], "detector.onset.h": 9})
    assert PipelineConfig.from_dict(changed.as_dict()) == changed != cfg


def test_nested_dotted_and_flat_forms_are_one_configuration(tmp_path: Path) -> None:
    """A [pipeline] table with sections, a recorded flat configuration (before the
    nesting) and dotted paths name the same settings; the flat refractory_s was shared
    by both detectors."""
    nested = tmp_path / "n.toml"
    nested.write_text("[pipeline.chain]\nmains_hz = 60\n[pipeline.detector.onset]\nh = 9\n"
                      "[pipeline.detector.rest]\ncalibration_s = 2\n")
    flat = tmp_path / "f.toml"
    flat.write_text("[pipeline]\nmains_hz = 60\nonset_h = 9\ncalibration_s = 2\n")
    a, b = load_pipeline_config(nested), load_pipeline_config(flat)
    assert a == b == PipelineConfig().updated(
        {"chain.mains_hz": 60, "detector.onset.h": 9, "detector.rest.calibration_s": 2})
    assert (a.chain.mains_hz, a.detector.onset.h, a.calibration_s) == (60.0, 9.0, 2.0)
    both = PipelineConfig.from_dict({"refractory_s": 0.4})
    assert both.detector.onset.refractory_s == both.double_threshold.refractory_s == 0.4
    with pytest.raises(ConfigError, match="chain must be a table"):
        PipelineConfig.from_dict({"chain": 3})


def test_switches_are_read_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[pipeline]\nfused_evidence = false\nweights_from_best_channel = false\n")
    cfg = load_pipeline_config(path)
    assert cfg.detector.fused_evidence is False and cfg.chain.weights_from_best_channel is False
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
    from isofeedback.config import FLAT_NAMES, setting_names

    fields = set(setting_names())
    for v in DETECTOR_VERSIONS:
        assert {k for k, _ in v.added + v.off} <= fields, v.name
    # a recording made by version 8 (before versions were named, and before the nesting):
    # every flat setting but the retraction's is stored, so it replays without retracted
    # events
    cfg = PipelineConfig()
    stored = {k: cfg.value(paths[0]) for k, paths in FLAT_NAMES.items()
              if k not in ("min_contraction_s", "detector_version")}
    old = recorded_pipeline_config(stored, "old.isorec")
    assert old.detector_version == "8" and old.detector.confirmation.min_contraction_s == 0.0
    named = recorded_pipeline_config({"detector_version": "6"}, "x.isorec")
    d = named.detector
    assert (d.low_rate.release_blend, d.fused_evidence, d.release.tail) == (0.0, False, 0.25)
    with pytest.raises(ConfigError, match="detector_version must be one of"):
        recorded_pipeline_config({"detector_version": "99"}, "x.isorec")
    path = tmp_path / "c.toml"
    path.write_text('[pipeline]\ndetector_version = "8"\nmains_hz = 60\n')
    cfg = load_pipeline_config(path)
    assert cfg.detector.confirmation.min_contraction_s == 0.0 and cfg.chain.mains_hz == 60.0
    # a plain replay: the session's settings as recorded, the current detector
    now = with_current_detector(old.updated({"calibration_s": 4.0, "release_h": 20.0}))
    assert now.detector_version == CURRENT_VERSION
    assert now.detector.confirmation.min_contraction_s == 0.5
    assert now.calibration_s == 4.0
    assert now.detector.release.h == PipelineConfig().detector.release.h


def test_a_setting_that_is_not_a_finite_number_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="onset_h must be a finite number"):
        PipelineConfig.from_dict({"onset_h": float("nan")})
    with pytest.raises(ConfigError, match=r"detector\.release\.h must be at least 0"):
        PipelineConfig.from_dict({"detector": {"release": {"h": -1.0}}})


@pytest.mark.parametrize(("text", "words"), [
    ("min_contraction_s = 0.3\n", "min_contraction_s: not in the [pipeline] table"),
    ("[pipelines]\nmin_contraction_s = 0.3\n", "pipelines: not in the [pipeline] table"),
    ("", "no [pipeline] table"),
])
def test_replay_config_without_its_pipeline_table_is_an_error(
    tmp_path: Path, text: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``replay --config`` with the settings outside a [pipeline] table (the header
    forgotten or misspelt): one clear error naming the file and the key. The file was read
    as empty and the replay ran with the default settings as if they had been applied."""
    from isofeedback.cli import main

    path = tmp_path / "c.toml"
    path.write_text(text)
    data = tmp_path / "d.csv"
    data.write_text("t,emg1\n" + "".join(f"{i / 1000},{(-1) ** i}\n" for i in range(200)))
    assert main(["replay", str(data), "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"isofeedback: error: {path}: ") and words in err, err


def test_a_detector_version_written_as_a_number_is_that_version(tmp_path: Path) -> None:
    """``detector_version = 13`` (a TOML integer, as anyone writes a version number) names
    version "13"; it was refused with "must be one of '1', …, '13', …, got 13"."""
    path = tmp_path / "c.toml"
    path.write_text("[pipeline]\ndetector_version = 13\n")
    path2 = tmp_path / "c2.toml"
    path2.write_text('[pipeline]\ndetector_version = "13"\n')
    assert load_pipeline_config(path) == load_pipeline_config(path2)
    assert load_pipeline_config(path).detector_version == "13"
    path.write_text("[pipeline]\ndetector_version = 99\n")
    with pytest.raises(ConfigError, match="detector_version must be one of"):
        load_pipeline_config(path)
