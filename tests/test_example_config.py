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


def test_the_broker_table_in_docs_mqtt_is_the_one_config_files_read(tmp_path: Path) -> None:
    """docs/mqtt.md's config-file example, copied into a session config with the files it
    names, loads (it was headed ``[mqtt]``, which every config file refuses as an unknown
    key: a clinic following the page could not connect a gateway to its broker)."""
    import re
    import tomllib

    text = (Path(__file__).resolve().parent.parent / "docs" / "mqtt.md").read_text()
    block = re.search(r"The same settings from .*?```toml\n(.*?)```", text, re.S)
    assert block is not None
    doc = tomllib.loads(block[1])
    assert list(doc) == ["broker"]
    for key in ("password_file", "tls_ca", "tls_cert", "tls_key"):  # real, owner-only files
        target = tmp_path / Path(doc["broker"][key]).name
        target.write_text("x\n")
        target.chmod(0o600)
        doc["broker"][key] = str(target)
    path = tmp_path / "session.toml"
    broker = "".join(f"{k} = {v!r}\n".replace("'", '"').replace("True", "true")
                     for k, v in doc["broker"].items())
    path.write_text(f'patient = "p01"\n[[devices]]\nprofile = "myo"\n[broker]\n{broker}')
    cfg = load_run_config(path)
    assert cfg.broker is not None and cfg.broker.host == doc["broker"]["host"]
