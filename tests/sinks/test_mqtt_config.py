"""Broker settings from a config table, the environment and the command line."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import pytest

from isofeedback.commands.common import add_broker_arguments, broker_settings_from_args
from isofeedback.errors import ConfigError
from isofeedback.mqtt_config import PASSWORD_ENV, broker_settings_from_table
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher


def _parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_broker_arguments(p)
    return p.parse_args(list(argv))


def test_defaults_and_tls_port(tmp_path: Path) -> None:
    s = broker_settings_from_table({}, {})
    assert (s.host, s.port, s.protocol, s.uses_tls) == ("127.0.0.1", 1883, "5", False)
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    t = broker_settings_from_table({"host": "b", "tls_ca": str(ca), "protocol": "3.1.1"}, {})
    assert (t.port, t.uses_tls, t.tls_ca, t.protocol) == (8883, True, str(ca), "3.1.1")
    assert broker_settings_from_table({"protocol": 5}, {}).protocol == "5"


def test_password_from_file_or_environment(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("from-file\nignored\n")
    pw.chmod(0o600)
    s = broker_settings_from_table({"user": "u", "password_file": str(pw)},
                                   {PASSWORD_ENV: "from-env"})
    assert s.password == "from-file"
    assert broker_settings_from_table({"user": "u"}, {PASSWORD_ENV: "from-env"}).password == (
        "from-env")
    assert "from-file" not in repr(s) and "from-file" not in str(s)


@pytest.mark.parametrize(("table", "env", "message"), [
    ({"password": "x"}, {}, "mqtt.password is not allowed: put the password in a file"),
    ({"hostname": "x"}, {}, "unknown broker setting(s) 'hostname'"),
    ({"port": 0}, {}, "mqtt.port must be 1–65535, got 0"),
    ({"port": "1883"}, {}, "mqtt.port must be a whole number, got '1883'"),
    ({"protocol": "4"}, {}, "mqtt.protocol must be 5 or \"3.1.1\", got '4'"),
    ({"tls": "yes"}, {}, "mqtt.tls must be true or false"),
    ({"tls_ca": "/nonexistent/ca.crt"}, {}, "mqtt.tls_ca: file '/nonexistent/ca.crt' not found"),
    ({"keepalive": 1}, {}, "mqtt.keepalive must be at least 5, got 1"),
    ({"keepalive": 10**30}, {}, "mqtt.keepalive must be at most 65535"),
    ({"host": ""}, {}, "mqtt.host must be a non-empty text"),
    ({}, {PASSWORD_ENV: "pw"}, f"a broker password was given ({PASSWORD_ENV}) but no user"),
])
def test_precise_errors(table: dict[str, Any], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        broker_settings_from_table(table, env)
    assert message in str(err.value)


def test_key_without_cert_and_empty_password_file(tmp_path: Path) -> None:
    key, empty = tmp_path / "k.pem", tmp_path / "empty"
    key.write_text("k")
    key.chmod(0o600)
    empty.write_text("")
    empty.chmod(0o600)
    with pytest.raises(ConfigError, match=r"mqtt\.tls_key needs mqtt\.tls_cert"):
        broker_settings_from_table({"tls_key": str(key)}, {})
    with pytest.raises(ConfigError, match="is empty; put the password on its first line"):
        broker_settings_from_table({"user": "u", "password_file": str(empty)}, {})


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_password_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    pw = tmp_path / "broker password"
    pw.write_text("hunter2-secret\n")
    pw.chmod(mode)
    with pytest.raises(ConfigError) as err:
        broker_settings_from_table({"user": "u", "password_file": str(pw)}, {})
    assert str(err.value) == (
        f"mqtt.password_file: the password file '{pw}' can be read by other users (mode "
        f"{mode:03o}); make it private with: chmod 600 '{pw}'")
    assert "hunter2" not in str(err.value)
    pw.chmod(0o400)  # owner-only, read-only: fine
    assert broker_settings_from_table({"user": "u", "password_file": str(pw)},
                                      {}).password == "hunter2-secret"


def test_private_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("c")
    key.write_text("k")
    key.chmod(0o644)
    with pytest.raises(ConfigError, match=r"mqtt\.tls_key: the private key .* can be read by "
                       r"other users \(mode 644\); make it private with: chmod 600"):
        broker_settings_from_table({"tls_cert": str(cert), "tls_key": str(key)}, {})
    key.chmod(0o600)
    assert broker_settings_from_table({"tls_cert": str(cert), "tls_key": str(key)},
                                      {}).tls_key == str(key)


def test_cli_options(tmp_path: Path) -> None:
    assert broker_settings_from_args(_parse(), {}) is None  # find a local/built-in broker
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    pw.chmod(0o600)
    args = _parse("--broker", "broker.lan:8884", "--mqtt-user", "p01", "--mqtt-password-file",
                  str(pw), "--mqtt-protocol", "3.1.1", "--mqtt-client-id", "gw-1", "--mqtt-tls")
    s = broker_settings_from_args(args, {})
    assert s == BrokerSettings("broker.lan", 8884, "3.1.1", "gw-1", "p01", "secret", tls=True)


def test_cli_errors_name_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--mqtt-tls-ca: file '/no/ca' not found"):
        broker_settings_from_args(_parse("--broker", "h", "--mqtt-tls-ca", "/no/ca"), {})
    with pytest.raises(ConfigError, match="--mqtt-user given without --broker"):
        broker_settings_from_args(_parse("--mqtt-user", "u"), {})
    with pytest.raises(ConfigError, match="--listen runs the built-in broker"):
        broker_settings_from_args(_parse("--broker", "h", "--listen", "0.0.0.0"), {})

def test_password_option_is_refused_without_echo(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--mqtt-password", "hunter2"], ["--mqtt-pass", "hunter2"],
                 ["--mqtt-password=hunter2"]):
        with pytest.raises(SystemExit):
            _parse("--broker", "h", *argv)
        err = capsys.readouterr().err
        assert "--mqtt-password-file" in err and "hunter2" not in err


async def test_publisher_without_broker_never_blocks_and_counts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing listens: submits return at once, live levels are dropped and counted,
    reliable ones are kept up to the bound (oldest dropped first, counted)."""
    from isofeedback.broker import free_port
    from isofeedback.types import Event, EventType, Feedback

    caplog.set_level(logging.DEBUG)
    settings = BrokerSettings(port=free_port(), username="u", password="hunter2-secret")
    async with MqttPublisher(settings, Serializer("p01", "s1", 0.0), max_pending=10,
                             flush_timeout_s=0.2, backoff_s=(0.05, 0.1)) as pub:
        for i in range(25):
            pub.submit(Event(EventType.ONSET, i, i))
            pub.submit(Feedback("level", i, {"intensity": 1.0}))
        await __import__("asyncio").sleep(0.3)
        assert pub.pending == 10 and pub.stats.events_overflowed == 15
        assert pub.stats.live_dropped == 25 and not pub.connected
        assert pub.counters()["pending"] == 10 and pub.counters()["pending_limit"] == 10
    assert "Connection refused" in pub.stats.last_error
    assert "hunter2" not in caplog.text
    assert sum("retrying" in r.getMessage() for r in caplog.records) == 1  # logged once
