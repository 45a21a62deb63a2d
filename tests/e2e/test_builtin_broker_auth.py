"""The built-in broker on a network address: logins required, per-patient access list.

Real MQTT clients (aiomqtt) against the real embedded amqtt broker. The broker is bound to
127.0.0.1 with the access list a non-loopback ``--listen`` gets (no test traffic leaves
this machine); which addresses get that list is checked on its own.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from isofeedback.broker import (
    CLINICIAN_PASSWORD_ENV,
    CLINICIAN_USER,
    LISTEN_PASSWORD_ENV,
    BrokerAccess,
    embedded_broker,
    listen_access,
    resolve_broker,
)
from isofeedback.errors import BrokerError, ConfigError
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.types import Event, EventType, Feedback

PATIENT = "p-a"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.5", "::1", "localhost"])
def test_loopback_stays_anonymous(host: str) -> None:
    assert listen_access(host, PATIENT, {}) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "fe80::1", "raspi.local"])
def test_network_addresses_get_generated_passwords(host: str) -> None:
    a = listen_access(host, PATIENT, {})
    b = listen_access(host, PATIENT, {})
    assert a is not None and b is not None and a.generated
    assert len(a.patient_password) >= 20 and a.patient_password != b.patient_password
    assert len({a.patient_password, a.clinician_password, a.service_password}) == 3
    text = a.describe()  # what the command prints once
    assert a.patient_password in text and a.clinician_password in text
    assert a.service_password not in text and "shown only now" in text
    assert a.generated == ("patient", "clinician")
    assert a.patient_password not in repr(a)


def test_given_passwords_from_environment_or_file(tmp_path: Path) -> None:
    env = {LISTEN_PASSWORD_ENV: "patient-pass-123", CLINICIAN_PASSWORD_ENV: "clin-pass-4567"}
    a = listen_access("0.0.0.0", PATIENT, env)
    assert a is not None and not a.generated
    assert (a.patient_password, a.clinician_password) == ("patient-pass-123", "clin-pass-4567")
    assert "patient-pass" not in a.describe() and "clin-pass" not in a.describe()
    mixed = listen_access("0.0.0.0", PATIENT, {LISTEN_PASSWORD_ENV: "patient-pass-123"})
    assert mixed is not None and mixed.generated == ("clinician",)
    text = mixed.describe()  # only the generated one is printed
    assert "patient-pass-123" not in text and mixed.clinician_password in text
    f = tmp_path / "listen.pw"
    f.write_text("file-patient-pass\nfile-clinician-pass\n")
    f.chmod(0o600)
    b = listen_access("0.0.0.0", PATIENT, env, f)
    assert b is not None
    assert (b.patient_password, b.clinician_password) == ("file-patient-pass",
                                                          "file-clinician-pass")
    f.chmod(0o644)
    with pytest.raises(ConfigError, match=r"can be read by other users.*chmod 600"):
        listen_access("0.0.0.0", PATIENT, env, f)


def test_weak_or_reserved_is_refused() -> None:
    with pytest.raises(ConfigError, match="patient password is shorter than 12 characters"):
        listen_access("0.0.0.0", PATIENT, {LISTEN_PASSWORD_ENV: "1234"})
    with pytest.raises(ConfigError, match="reserved for the built-in broker"):
        listen_access("0.0.0.0", CLINICIAN_USER, {})


async def test_network_listen_without_a_patient_is_refused() -> None:
    with pytest.raises(BrokerError, match="open to the whole network"):
        async with resolve_broker(None, False, ("0.0.0.0", 1)):
            pass


def _client(port: int, user: str | None = None, password: str | None = None) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", port, username=user, password=password,
                          protocol=aiomqtt.ProtocolVersion.V311, timeout=3.0)


async def _refused(port: int, user: str | None, password: str | None) -> str:
    with pytest.raises(aiomqtt.MqttError) as err:
        async with _client(port, user, password):
            pass
    return str(err.value)


async def test_logins_and_access_list_with_real_clients() -> None:
    access = BrokerAccess(PATIENT, "patient-password", "clinician-password")
    async with embedded_broker("127.0.0.1", 0, access) as (host, port):
        # nobody gets in without the right password
        assert "authori" in (await _refused(port, None, None)).lower()
        assert "authori" in (await _refused(port, PATIENT, "wrong-password")).lower()
        assert "authori" in (await _refused(port, "p-b", "patient-password")).lower()
        assert "authori" in (await _refused(port, "isofeedback", "patient-password")).lower()

        got: list[tuple[str, dict[str, Any]]] = []
        async with _client(port, PATIENT, "patient-password") as phone, \
                _client(port, CLINICIAN_USER, "clinician-password") as clinician:
            # the patient's clients read only their own topics
            assert await _granted(phone, f"isofeedback/{PATIENT}/#")
            for other in ("isofeedback/#", "#", "isofeedback/+/status", "isofeedback/p-b/#",
                          "$SYS/#"):
                assert not await _granted(phone, other), other
            assert await _granted(clinician, f"isofeedback/{PATIENT}/#")
            reader = asyncio.create_task(_read(phone, got, until="done"))

            # the service publishes the session as usual (its own login)
            service = access.service_settings(BrokerSettings(host=host, port=port,
                                                             protocol="3.1.1"))
            serializer = Serializer(PATIENT, "s-1", 1.7e9)
            async with MqttPublisher(service, serializer) as pub:
                assert await pub.wait_connected(5), pub.stats.last_error
                pub.submit(Event(EventType.ONSET, 1.0, 1.05, "emg", 3.0))
                # fake cues from the patient's login and from the clinician's are dropped
                fake = json.dumps({"kind": "cue", "text": "FAKE"}).encode()
                await phone.publish(f"isofeedback/{PATIENT}/cues", fake, qos=1)
                await phone.publish(f"isofeedback/{PATIENT}/control/ack", fake, qos=1)
                await clinician.publish(f"isofeedback/{PATIENT}/cues", fake, qos=1)
                await phone.publish("isofeedback/p-b/cues", fake, qos=1)
                # what each role may publish arrives
                await phone.publish(f"isofeedback/{PATIENT}/control",
                                    json.dumps({"schema": 1, "command": "pause",
                                                "id": "c1"}).encode(), qos=1)
                await clinician.publish(f"isofeedback/{PATIENT}/prescription",
                                        json.dumps({"kind": "prescription"}).encode(), qos=1)
                await clinician.publish(f"isofeedback/{PATIENT}/control",
                                        json.dumps({"command": "stop", "id": "c2"}).encode(),
                                        qos=1)
                pub.submit(Feedback("cue", 2.0, {"id": "hold", "text": "Hold",
                                                 "severity": "info", "rep": 1}))
                await phone.publish(f"isofeedback/{PATIENT}/control",
                                    json.dumps({"command": "done", "id": "c3"}).encode(), qos=1)
            await asyncio.wait_for(reader, 10)
    topics = [t.removeprefix(f"isofeedback/{PATIENT}/") for t, _ in got]
    assert "control" in topics and "prescription" in topics  # allowed ones do arrive
    assert "events" in topics and "cues" in topics  # the service's session does too
    assert not any(d.get("text") == "FAKE" for _, d in got)
    assert not any(d.get("command") == "stop" for _, d in got)  # clinician may not control
    assert all(t.startswith(f"isofeedback/{PATIENT}/") for t, _ in got)


async def _granted(client: aiomqtt.Client, topic: str) -> bool:
    result = await client.subscribe(topic, qos=1)
    codes = [int(getattr(r, "value", r)) for r in result] if result is not None else []
    return bool(codes) and all(c < 0x80 for c in codes)


async def _read(client: aiomqtt.Client, out: list[tuple[str, dict[str, Any]]],
                until: str) -> None:
    async for msg in client.messages:
        assert isinstance(msg.payload, bytes)
        doc = json.loads(msg.payload)
        out.append((str(msg.topic), doc))
        if doc.get("command") == until:
            return


async def test_the_demo_s_watch_line_logs_in_where_the_broker_demands_it() -> None:
    """The demo prints a mosquitto_sub line to watch the feed; on a built-in broker with
    logins (``--listen`` on a network address) that line had no login and was refused
    ("not authorised"). It names the patient's user now; with the password put in for
    ``<password>`` the real mosquitto_sub subscribes."""
    from isofeedback.commands.demo import watch_command

    access = BrokerAccess(PATIENT, "patient-password", "clinician-password")
    async with embedded_broker("127.0.0.1", 0, access) as (host, port):
        service = access.service_settings(BrokerSettings(host=host, port=port,
                                                         protocol="3.1.1"))
        line = watch_command(service, f"isofeedback/{PATIENT}/#")
        assert f"-u {PATIENT} -P '<password>'" in line and "isofeedback'" not in line, line
        args = [a.replace("<password>", "patient-password") for a in shlex.split(line)]
        proc = await asyncio.create_subprocess_exec(
            *args, "-E", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 0, err.decode()
    # no login needed (the built-in broker on this machine): the familiar short line
    assert watch_command(BrokerSettings(port=1883), "isofeedback/demo/#") == (
        "mosquitto_sub -h 127.0.0.1 -p 1883 -t 'isofeedback/demo/#' -v")
