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

__all__ = ["broker_reachable", "embedded_broker", "lan_address", "resolve_broker"]


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


def lan_address() -> str:
    """This machine's address on the local network (the one a phone would use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET: no packet is sent for UDP connect
            return str(s.getsockname()[0])
        except OSError:
            return socket.gethostname()


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
    port = port or free_port("127.0.0.1" if host in ("0.0.0.0", "::") else host)
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        # amqtt's current (plugin) configuration: anonymous access, nothing else
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    try:
        await broker.start()
    except Exception as exc:  # amqtt raises its own error types
        raise BrokerError(
            f"could not start the built-in MQTT broker on {host}:{port}: {exc}; is another "
            "broker using that port? Pick another with --listen ADDRESS:PORT"
        ) from exc
    try:
        yield host, port
    finally:
        with contextlib.suppress(Exception):
            await broker.shutdown()


@contextlib.asynccontextmanager
async def resolve_broker(
    settings: BrokerSettings | None, explicit: bool, listen: tuple[str, int] | None = None
) -> AsyncIterator[tuple[BrokerSettings, str]]:
    """Yield settings for a reachable broker and a one-line description of it.

    ``explicit``: the user named the broker; if it is unreachable, fail with a clear error.
    ``listen``: run the embedded broker on this (address, port), e.g. ("0.0.0.0", 1883)
    for a phone on the LAN. Otherwise use a local broker on 127.0.0.1:1883 if one runs,
    else an embedded one on a free local port.
    """
    base = settings or BrokerSettings()
    if listen is not None:
        host, port = listen
        async with embedded_broker(host, port) as (_, bound):
            local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
            where = f"built-in MQTT broker on {host}:{bound} (MQTT 3.1.1)"
            if host in ("0.0.0.0", "::", ""):
                where += f"; on this network connect to {lan_address()}:{bound}"
            yield replace(base, host=local, port=bound, protocol="3.1.1", tls=False,
                          tls_ca=None, tls_cert=None, tls_key=None), where
        return
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
