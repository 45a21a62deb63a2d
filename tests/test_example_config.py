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
