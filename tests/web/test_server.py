"""The web server against a real private Mosquitto that has only a TCP listener, with
passwords and a per-patient ACL: the page's MQTT-over-WebSocket stream is relayed with the
session's credentials, and a page may read only its own patient's subtree and publish only
its control topic."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from isofeedback.broker import free_port
from isofeedback.coach.protocol import load_cues
from isofeedback.sinks.mqtt import BrokerSettings
from isofeedback.web import MQTTJS_VERSION, WebServer, print_url
from isofeedback.web.server import static_files

PASSWORD = "s3cret-for-tests"


@pytest.fixture(scope="module")
def secured(mosquitto_control: Any) -> Iterator[Any]:
    """Mosquitto with passwords and the documented ACL (each user its own subtree)."""
    start, stop = mosquitto_control
    # run as root, mosquitto reads these as its own user after dropping privileges
    folder = Path(tempfile.mkdtemp(prefix="isofeedback-web-"))
    folder.chmod(0o755)
    passwd = folder / "passwd"
    passwd.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "p01", PASSWORD], check=True)
    (folder / "acl").write_text("pattern readwrite isofeedback/%u/#\n")
    for f in (passwd, folder / "acl"):
        f.chmod(0o644)
    broker = start(folder, f"allow_anonymous false\npassword_file {passwd}\n"
                           f"acl_file {folder / 'acl'}\n")
    yield broker
    stop(broker)
    shutil.rmtree(folder, ignore_errors=True)


def page_client(web: WebServer, query: str = "", timeout: float = 5.0) -> aiomqtt.Client:
    """An MQTT client that connects like the page: WebSocket to /mqtt, no credentials."""
    return aiomqtt.Client("127.0.0.1", web.port, transport="websockets",
                          websocket_path=f"/mqtt{query}", timeout=timeout)


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


async def test_serves_page_config_cues_and_vendored_client(mosquitto: Any) -> None:
    broker = BrokerSettings(mosquitto.host, mosquitto.port, protocol="3.1.1")
    async with WebServer(broker, patient="p01") as web:
        assert web.url == f"http://127.0.0.1:{web.port}/"  # loopback: no token needed
        status, headers, body = await asyncio.to_thread(get, web.url)
        assert status == 200 and b'src="vendor/mqtt.min.js"' in body
        assert headers["Content-Type"].startswith("text/html")
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        _, _, cfg = await asyncio.to_thread(get, web.url + "config.json")
        assert json.loads(cfg) == {"patient": "p01", "root": "isofeedback", "protocol": 4}
        _, _, cues = await asyncio.to_thread(get, web.url + "cues.json")
        assert json.loads(cues)["en"] == load_cues("en")
        status, _, js = await asyncio.to_thread(get, web.url + "vendor/mqtt.min.js")
        assert status == 200 and len(js) > 100_000
        assert (await asyncio.to_thread(get, web.url + "../pyproject.toml"))[0] == 404
    readme = static_files()["/vendor/README.md"].decode()
    assert f"| {MQTTJS_VERSION} |" in readme and "MQTT.js-LICENSE.md" in readme


async def test_relay_uses_session_credentials_and_patient_scope(secured: Any) -> None:
    broker = BrokerSettings(secured.host, secured.port, username="p01", password=PASSWORD)
    async with WebServer(broker, patient="p01") as web:
        async with page_client(web) as page:  # the page itself has no password
            await page.subscribe("isofeedback/p01/#", qos=1)
            async with broker.client() as service:
                await service.publish("isofeedback/p01/cues", b'{"kind":"cue"}', qos=1)
                await page.publish("isofeedback/p01/control", b'{"command":"pause"}', qos=1)
            got = []
            async with asyncio.timeout(5):
                async for msg in page.messages:
                    got.append((str(msg.topic), msg.payload))
                    if len(got) == 2:
                        break
        assert got == [("isofeedback/p01/cues", b'{"kind":"cue"}'),
                       ("isofeedback/p01/control", b'{"command":"pause"}')]
        assert web.relays == 1 and web.refused == 0


@pytest.mark.parametrize("action", ["subscribe_all", "publish_elsewhere", "other_patient"])
async def test_relay_refuses_what_a_page_may_not_do(mosquitto: Any, action: str) -> None:
    broker = BrokerSettings(mosquitto.host, mosquitto.port)
    async with WebServer(broker, patient="p01") as web:
        with pytest.raises(aiomqtt.MqttError):  # the relay closes the link
            async with page_client(web, timeout=1.0) as page:
                if action == "subscribe_all":
                    await page.subscribe("#", qos=1)
                elif action == "other_patient":
                    await page.subscribe("isofeedback/p02/#", qos=1)
                else:
                    await page.publish("isofeedback/p01/cues", b"{}", qos=1)
                async with asyncio.timeout(5):
                    async for _ in page.messages:
                        pass
        assert web.refused == 1


async def test_token_is_required_when_set(mosquitto: Any) -> None:
    broker = BrokerSettings(mosquitto.host, mosquitto.port)
    async with WebServer(broker, patient="p01", token="tok-123") as web:
        assert web.url.endswith("/?token=tok-123")
        with pytest.raises(aiomqtt.MqttError):
            async with page_client(web, "?token=wrong"):
                pass
        async with page_client(web, "?token=tok-123") as page:
            await page.subscribe("isofeedback/p01/status")
        assert web.refused == 1 and web.relays == 1


def test_non_loopback_address_gets_a_random_token() -> None:
    web = WebServer(BrokerSettings(), patient="p01", host="0.0.0.0", port=8080)
    other = WebServer(BrokerSettings(), patient="p01", host="0.0.0.0", port=8080)
    assert web.token and other.token and web.token != other.token and len(web.token) >= 20
    assert web.url.endswith(f":8080/?token={web.token}")


def test_print_url_draws_a_qr_code() -> None:
    import io

    out = io.StringIO()
    print_url("http://192.0.2.5:8080/?token=abc", out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Patient page: http://192.0.2.5:8080/?token=abc"
    qr = lines[1:]
    assert len(qr) >= 12 and len({len(line) for line in qr if line}) == 1  # a square block
    assert any("█" in line or "▀" in line or "▄" in line for line in qr)


async def test_relay_to_the_built_in_broker() -> None:
    """The built-in broker (amqtt, MQTT 3.1.1, TCP only) serves the page as well."""
    from isofeedback.broker import embedded_broker

    async with embedded_broker() as (host, port):
        broker = BrokerSettings(host, port, protocol="3.1.1")
        async with WebServer(broker, patient="p01") as web, page_client(web) as page:
            await page.subscribe("isofeedback/p01/#", qos=1)
            async with broker.client() as service:
                await service.publish("isofeedback/p01/status", b'{"state":"online"}',
                                      qos=1)
            async with asyncio.timeout(5):
                async for msg in page.messages:
                    assert msg.payload == b'{"state":"online"}'
                    break


async def test_relay_to_a_tls_broker(tmp_path: Path, mosquitto_control: Any) -> None:
    """A broker reachable only over TLS, with a password: the page still speaks plain
    WebSocket to the session's server, which speaks TLS to the broker."""
    start, stop = mosquitto_control

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=isofeedback web test CA")
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=isofeedback web test broker")
    (tmp_path / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext")
    passwd = tmp_path / "passwd"
    passwd.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "p01", PASSWORD], check=True)
    tls_port = free_port()
    broker_proc = start(
        tmp_path, f"user root\nallow_anonymous false\npassword_file {passwd}\n"
                  f"listener {tls_port} 127.0.0.1\ncafile {tmp_path}/ca.crt\n"
                  f"certfile {tmp_path}/server.crt\nkeyfile {tmp_path}/server.key\n")
    try:
        broker = BrokerSettings("127.0.0.1", tls_port, username="p01", password=PASSWORD,
                                tls_ca=str(tmp_path / "ca.crt"))
        async with WebServer(broker, patient="p01") as web, page_client(web) as page:
            await page.subscribe("isofeedback/p01/#", qos=1)
            async with broker.client() as service:
                await service.publish("isofeedback/p01/cues", b"{}", qos=1)
            async with asyncio.timeout(5):
                async for msg in page.messages:
                    assert str(msg.topic) == "isofeedback/p01/cues"
                    break
        assert web.relays == 1
    finally:
        stop(broker_proc)
