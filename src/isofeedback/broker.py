"""Finding a broker: the one the user named, a local one, or an embedded one.

At home there may be no broker at all; the demo and the service then start an embedded
pure-Python broker (amqtt, MQTT 3.1.1) so a phone on the same network can still connect.
A broker the user named explicitly must be reachable: silently replacing it would hide a
configuration mistake.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import replace

from isofeedback.errors import BrokerError
from isofeedback.sinks.mqtt import BrokerSettings

__all__ = ["broker_reachable", "embedded_broker", "resolve_broker"]


async def broker_reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def embedded_broker(host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[tuple[str, int]]:
    """Run an amqtt broker for the duration of the block; yields (host, port)."""
    from amqtt.broker import Broker

    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    port = port or free_port(host)
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "sys_interval": 0,
        "auth": {"allow-anonymous": True, "plugins": ["auth_anonymous"]},
        "topic-check": {"enabled": False},
    }
    broker = Broker(config)
    try:
        await broker.start()
    except Exception as exc:  # amqtt raises its own error types
        raise BrokerError(f"could not start the built-in MQTT broker on {host}:{port}: {exc}") from exc
    try:
        yield host, port
    finally:
        with contextlib.suppress(Exception):
            await broker.shutdown()


@contextlib.asynccontextmanager
async def resolve_broker(
    settings: BrokerSettings | None, explicit: bool
) -> AsyncIterator[tuple[BrokerSettings, str]]:
    """Yield settings for a reachable broker and a one-line description of it.

    ``explicit``: the user named the broker; if it is unreachable, fail with a clear error.
    Otherwise use a local broker on 127.0.0.1:1883 if one runs, else an embedded one.
    """
    base = settings or BrokerSettings()
    if explicit:
        if not await broker_reachable(base.host, base.port):
            raise BrokerError(
                f"cannot reach the MQTT broker at {base.address}: check the address and that "
                "the broker is running, or leave out --broker to use the built-in one"
            )
        yield base, f"MQTT broker {base.address}"
        return
    if await broker_reachable(base.host, base.port, timeout=0.5):
        yield base, f"local MQTT broker {base.address}"
        return
    async with embedded_broker("127.0.0.1") as (host, port):
        yield replace(base, host=host, port=port, protocol="3.1.1"), (
            f"built-in MQTT broker on {host}:{port} (MQTT 3.1.1)"
        )
