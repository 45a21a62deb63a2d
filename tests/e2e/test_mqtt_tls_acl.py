"""TLS with a test CA, password authentication, client certificates and a per-patient ACL,
against a private Mosquitto configured like a clinic's broker (see docs/mqtt.md)."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from isofeedback.errors import BrokerError, ConfigError
from isofeedback.mqtt_config import broker_settings_from_table
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.types import Event, EventType, Feedback


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(folder: Path) -> None:
    """A test CA, a server certificate for 127.0.0.1, one for another host name and a
    client certificate."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=isofeedback test CA", cwd=folder)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                      ("client", "extendedKeyUsage=clientAuth"),
                      ("elsewhere", "subjectAltName=DNS:broker.example.org")):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN=isofeedback test {name}", cwd=folder)
        (folder / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", "2",
                 "-extfile", f"{name}.ext", cwd=folder)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ClinicBroker:
    folder: Path
    tls_port: int
    mtls_port: int
    users: dict[str, str]
    wrong_name_port: int  # a certificate from the right CA, for another host name


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory, mosquitto_control: Any) -> Any:
    start, stop = mosquitto_control
    folder = tmp_path_factory.mktemp("clinic")
    make_pki(folder)
    users = {"pa": "alpha-pass", "pb": "beta-pass"}
    pw = folder / "passwords"
    pw.write_text("")
    for user, password in users.items():
        subprocess.run(["mosquitto_passwd", "-b", str(pw), user, password], check=True,
                       capture_output=True)
    acl = folder / "acl"
    acl.write_text("pattern readwrite isofeedback/%u/#\n")
    tls_port, mtls_port, wrong_name_port = _free_port(), _free_port(), _free_port()
    certs = f"cafile {folder}/ca.crt\ncertfile {folder}/server.crt\nkeyfile {folder}/server.key\n"
    elsewhere = (f"cafile {folder}/ca.crt\ncertfile {folder}/elsewhere.crt\n"
                 f"keyfile {folder}/elsewhere.key\n")
    broker = start(folder, f"user root\nallow_anonymous false\npassword_file {pw}\n"
                   f"acl_file {acl}\nlistener {tls_port} 127.0.0.1\n{certs}"
                   f"listener {mtls_port} 127.0.0.1\n{certs}require_certificate true\n"
                   f"listener {wrong_name_port} 127.0.0.1\n{elsewhere}")
    yield ClinicBroker(folder, tls_port, mtls_port, users, wrong_name_port)
    stop(broker)


def _settings(clinic: ClinicBroker, user: str, **extra: Any) -> BrokerSettings:
    (clinic.folder / f"{user}.pw").write_text(clinic.users[user] + "\n")
    (clinic.folder / f"{user}.pw").chmod(0o600)
    table = {"host": "127.0.0.1", "port": clinic.tls_port, "user": user,
             "password_file": str(clinic.folder / f"{user}.pw"),
             "tls_ca": str(clinic.folder / "ca.crt"), **extra}
    return broker_settings_from_table(table, {})


def _is(session: str, reason: str) -> Any:
    def until(doc: dict[str, Any]) -> bool:
        return doc.get("session") == session and doc.get("reason") == reason
    return until


async def _publish_some(settings: BrokerSettings, patient: str, session: str) -> MqttPublisher:
    serializer = Serializer(patient, session, 1.7e9)
    async with MqttPublisher(settings, serializer) as pub:
        assert await pub.wait_connected(5), pub.stats.last_error
        pub.submit(Event(EventType.ONSET, 1.0, 1.05, "emg", 3.0))
        pub.submit(Feedback("cue", 1.05, {"id": "hold", "text": "Hold", "severity": "info",
                                          "rep": 1}))
        pub.submit_message(serializer.device_battery("dev1", 50.0, 1.1))
    return pub


async def test_tls_and_password_from_file(clinic: ClinicBroker, mqtt_collector: Any,
                                          payload_validator: Any) -> None:
    settings = _settings(clinic, "pa")
    assert settings.uses_tls and settings.password == "alpha-pass"
    got: list[dict[str, Any]] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(mqtt_collector(settings, "isofeedback/pa/#", got, ready,
                                             _is("tls-1", "stopped")))
    await asyncio.wait_for(ready.wait(), 5)
    await _publish_some(replace(settings, protocol="3.1.1"), "pa", "tls-1")
    await asyncio.wait_for(sub, 10)
    mine = [d for d in got if d["session"] == "tls-1"]
    assert [d["kind"] for d in mine] == ["status", "service", "event", "cue",
                                         "device_battery", "status"]
    for d in mine:
        payload_validator({k: v for k, v in d.items() if not k.startswith("_")})


async def test_client_certificate(clinic: ClinicBroker) -> None:
    folder = clinic.folder
    with_cert = _settings(clinic, "pa", port=clinic.mtls_port,
                          tls_cert=str(folder / "client.crt"), tls_key=str(folder / "client.key"))
    pub = await _publish_some(with_cert, "pa", "mtls-1")
    assert pub.stats.published >= 6  # online, service, 3 messages, offline
    async with MqttPublisher(replace(with_cert, tls_cert=None, tls_key=None),
                             Serializer("pa", "mtls-2", 1.7e9), flush_timeout_s=0) as refused:
        assert not await refused.wait_connected(2.0)  # the broker demands a certificate
    assert refused.stats.connections == 0


async def test_one_patient_cannot_read_another(clinic: ClinicBroker, mqtt_collector: Any) -> None:
    a, b = _settings(clinic, "pa"), _settings(clinic, "pb")
    # B's session runs first and leaves retained state behind (status, service, battery)
    b_got: list[dict[str, Any]] = []
    b_ready = asyncio.Event()
    b_sub = asyncio.create_task(mqtt_collector(b, "isofeedback/pb/#", b_got, b_ready,
                                               _is("acl-b", "stopped")))
    await asyncio.wait_for(b_ready.wait(), 5)
    await _publish_some(b, "pb", "acl-b")
    await asyncio.wait_for(b_sub, 10)
    assert any(d["kind"] == "event" for d in b_got)  # B's messages do reach B
    # A subscribes to everything, then B publishes again, then A's own session ends it
    a_got: list[dict[str, Any]] = []
    a_ready = asyncio.Event()
    a_sub = asyncio.create_task(mqtt_collector(a, "isofeedback/#", a_got, a_ready,
                                               _is("acl-a", "stopped")))
    await asyncio.wait_for(a_ready.wait(), 5)
    await _publish_some(b, "pb", "acl-b2")
    await _publish_some(a, "pa", "acl-a")
    await asyncio.wait_for(a_sub, 10)
    assert any(d["session"] == "acl-a" and d["kind"] == "event" for d in a_got)
    leaked = [d["_topic"] for d in a_got if not d["_topic"].startswith("isofeedback/pa/")]
    assert leaked == []


async def test_bad_password_and_unknown_ca_are_reported_without_the_secret(
    clinic: ClinicBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = _settings(clinic, "pa")
    wrong = replace(good, password="not-the-alpha-pass")
    assert "alpha" not in repr(wrong) and "alpha" not in str(wrong)
    async with MqttPublisher(wrong, Serializer("pa", "bad-1", 1.7e9),
                             flush_timeout_s=0) as pub:
        with pytest.raises(BrokerError, match="refused the credentials"):
            await pub.wait_connected(1.5)  # not retried: see test_mqtt_refused.py
    assert "authori" in pub.stats.last_error.lower() or "password" in pub.stats.last_error
    untrusted = replace(good, tls_ca=None, tls=True)  # the system CAs do not know the test CA
    async with MqttPublisher(untrusted, Serializer("pa", "bad-2", 1.7e9),
                             flush_timeout_s=0) as pub2:
        assert not await pub2.wait_connected(1.5)
    assert "certificate" in pub2.stats.last_error.lower()
    assert "alpha-pass" not in caplog.text and "not-the-alpha" not in caplog.text
    assert any("retrying" in r.getMessage() for r in caplog.records)


async def test_host_name_is_verified_unless_explicitly_insecure(
    clinic: ClinicBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """The certificate comes from the trusted CA but names another host: refused by
    default; ``tls_insecure = true`` connects and says loudly what it gives up."""
    caplog.set_level(logging.WARNING)
    checked = _settings(clinic, "pa", port=clinic.wrong_name_port)
    assert not checked.tls_insecure
    assert not caplog.records  # a verified connection warns about nothing
    async with MqttPublisher(checked, Serializer("pa", "name-1", 1.7e9),
                             flush_timeout_s=0) as pub:
        assert not await pub.wait_connected(1.5)
    assert "IP address mismatch" in pub.stats.last_error
    insecure = _settings(clinic, "pa", port=clinic.wrong_name_port, tls_insecure=True)
    assert any("tls_insecure = true" in r.getMessage() and "NOT checked" in r.getMessage()
               for r in caplog.records)
    published = await _publish_some(insecure, "pa", "name-2")
    assert published.stats.connections == 1
    with pytest.raises(ConfigError, match=r"mqtt\.tls_insecure only makes sense with TLS"):
        broker_settings_from_table({"tls_insecure": True}, {})
