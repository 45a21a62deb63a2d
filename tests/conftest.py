"""Shared fixtures: a private Mosquitto broker per test session, unique topics per test."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class Mosquitto:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    config: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"mosquitto did not start listening on port {port}")


def start_mosquitto(folder: Path, extra_config: str = "", port: int | None = None) -> Mosquitto:
    """Start a private mosquitto (the test command installs the Debian package)."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists():
        raise RuntimeError("mosquitto is not installed: run the README's test command")
    port = port or _free_port()
    config = folder / f"mosquitto-{port}.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{extra_config}"
    )
    proc = subprocess.Popen(
        [exe, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _wait_port(port)
    return Mosquitto("127.0.0.1", port, proc, config)


def stop_mosquitto(broker: Mosquitto) -> None:
    broker.process.terminate()
    try:
        broker.process.wait(5)
    except subprocess.TimeoutExpired:
        broker.process.kill()
        broker.process.wait(5)


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    broker = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield broker
    stop_mosquitto(broker)


@pytest.fixture
def patient(request: pytest.FixtureRequest) -> str:
    """A unique pseudonymous patient id (hence topic prefix) per test."""
    name = "".join(c if c.isalnum() else "-" for c in request.node.name)[-40:]
    return f"t{time.monotonic_ns() % 10**9}-{name}"


@pytest.fixture(scope="session")
def payload_validator() -> Any:
    """``validate(doc)``: checks one MQTT payload against ``schemas/<kind>.json``."""
    import json as _json

    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    folder = Path(__file__).resolve().parent.parent / "schemas"
    docs = {p.stem: _json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
    registry: Registry[Any] = Registry().with_resources(
        (d["$id"], Resource.from_contents(d)) for d in docs.values()
    )
    validators = {
        kind: Draft202012Validator(d, registry=registry,
                                   format_checker=Draft202012Validator.FORMAT_CHECKER)
        for kind, d in docs.items()
    }
    for v in validators.values():
        Draft202012Validator.check_schema(v.schema)

    def validate(doc: dict[str, Any]) -> None:
        validators[doc["kind"]].validate(doc)

    # "control" is what clients send (no envelope): checked through ``validate.schemas``
    validate.kinds = set(docs) - {"envelope", "control"}  # type: ignore[attr-defined]
    validate.schemas = validators  # type: ignore[attr-defined]
    return validate


async def collect_mqtt(
    settings: Any,
    topic: str,
    out: list[dict[str, Any]],
    ready: asyncio.Event,
    until: Any,
    *,
    persistent_id: str | None = None,
) -> None:
    """Subscribe to ``topic`` and append every payload (with ``_topic``) to ``out`` until
    ``until(doc)`` is true. With ``persistent_id`` it is an MQTT v5 persistent session
    that reconnects (like a phone app would) and so survives a broker restart."""
    import json as _json

    import aiomqtt

    extra: dict[str, Any] = {}
    if persistent_id:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        extra = {"identifier": persistent_id, "clean_start": False, "properties": props}
    while True:
        try:
            client = settings.client(**extra) if not persistent_id else aiomqtt.Client(
                settings.host, settings.port, protocol=aiomqtt.ProtocolVersion.V5,
                keepalive=5, timeout=5.0, **extra)
            async with client:
                await client.subscribe(topic, qos=1)
                ready.set()
                async for msg in client.messages:
                    assert isinstance(msg.payload, bytes)
                    doc = _json.loads(msg.payload)
                    doc["_topic"] = str(msg.topic)
                    doc["_retain"] = bool(msg.retain)
                    doc["_qos"] = int(msg.qos)
                    expiry = getattr(msg.properties, "MessageExpiryInterval", None)
                    doc["_expiry"] = int(expiry) if expiry is not None else None
                    out.append(doc)
                    if until(doc):
                        return
        except aiomqtt.MqttError:
            if not persistent_id:
                raise
            await asyncio.sleep(0.2)


@pytest.fixture
def mqtt_collector() -> Any:
    """The :func:`collect_mqtt` helper, for tests that subscribe."""
    return collect_mqtt


@pytest.fixture(scope="session")
def mosquitto_control() -> Any:
    """``(start_mosquitto, stop_mosquitto)`` for tests that run their own broker."""
    return start_mosquitto, stop_mosquitto
