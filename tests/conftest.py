"""Shared fixtures: a private Mosquitto broker per test session, unique topics per test."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
