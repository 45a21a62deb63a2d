"""The example configuration shipped in docs/ is valid (users copy it)."""

from __future__ import annotations

from pathlib import Path

from isofeedback.run_config import load_run_config


def test_example_session_config_loads() -> None:
    path = Path(__file__).resolve().parent.parent / "docs" / "session.example.toml"
    cfg = load_run_config(path)
    assert cfg.patient == "p01" and cfg.protocol == "pir"
    assert [d.profile.id for d in cfg.devices] == ["myo"] and cfg.devices[0].address is None
    assert cfg.broker is not None and cfg.broker.port == 1883
    assert cfg.recording_folder == path.parent / "recordings"


def test_an_unknown_profile_or_protocol_names_the_file_and_the_key(tmp_path: Path) -> None:
    import pytest

    from isofeedback.errors import ConfigError

    path = tmp_path / "session.toml"
    path.write_text('patient = "p1"\nprotocol = "yoga"\n[[devices]]\nprofile = "myo"\n')
    with pytest.raises(ConfigError, match=rf"^{path}: protocol: unknown protocol 'yoga'"):
        load_run_config(path)
    path.write_text('patient = "p1"\n[[devices]]\nprofile = "fitbit"\n')
    with pytest.raises(ConfigError, match=rf"^{path}: devices\[0\]\.profile: unknown "
                       "firmware profile 'fitbit'"):
        load_run_config(path)
