"""Live feedback over MQTT (aiomqtt), never blocking acquisition.

``submit`` only enqueues. A named task owns the connection: it reconnects with backoff
(aiomqtt's client is reusable, not re-entrant, hence a loop around ``async with``),
announces ``online`` (retained) and leaves a retained ``offline`` will. Events, cues and
session state wait in a bounded queue while the broker is away and are delivered in order
afterwards; live levels are dropped (and counted) instead, because a late level is useless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from isofeedback.errors import BrokerError
from isofeedback.sinks.messages import MqttMessage, Serializer
from isofeedback.types import Event, Feedback

__all__ = ["BrokerSettings", "MqttPublisher", "PublisherStats"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """How to reach the broker. The password is never printed (see ``__repr__``)."""

    host: str = "127.0.0.1"
    port: int = 1883
    protocol: str = "5"  # "5" or "3.1.1"
    client_id: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    keepalive: int = 15

    def __post_init__(self) -> None:
        if self.protocol not in ("5", "3.1.1"):
            raise BrokerError(f"MQTT protocol must be '5' or '3.1.1', got {self.protocol!r}")
        if not 0 < self.port < 65536:
            raise BrokerError(f"broker port must be 1–65535, got {self.port}")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def client(self, will: MqttMessage | None = None) -> aiomqtt.Client:
        tls = None
        if self.tls_ca or self.tls_cert:
            tls = aiomqtt.TLSParameters(
                ca_certs=self.tls_ca, certfile=self.tls_cert, keyfile=self.tls_key,
                cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        version = (aiomqtt.ProtocolVersion.V5 if self.protocol == "5"
                   else aiomqtt.ProtocolVersion.V311)
        kwargs: dict[str, Any] = {}
        if will is not None:
            kwargs["will"] = aiomqtt.Will(will.topic, will.payload, will.qos, will.retain)
        return aiomqtt.Client(
            self.host, self.port, identifier=self.client_id or None, username=self.username,
            password=self.password, tls_params=tls, protocol=version,
            keepalive=self.keepalive, timeout=5.0, **kwargs,
        )


@dataclass
class PublisherStats:
    published: int = 0
    live_dropped: int = 0
    events_overflowed: int = 0
    reconnects: int = 0
    connected: bool = False
    last_error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "published": self.published, "live_dropped": self.live_dropped,
            "events_overflowed": self.events_overflowed, "reconnects": self.reconnects,
            "connected": self.connected,
        }


class MqttPublisher:
    """Publishes a session's outputs. Use as ``async with MqttPublisher(...) as pub:``."""

    def __init__(
        self,
        settings: BrokerSettings,
        serializer: Serializer,
        max_pending: int = 10_000,
        max_live: int = 50,
        flush_timeout_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self.serializer = serializer
        self.max_pending = max_pending
        self.flush_timeout_s = flush_timeout_s
        self.stats = PublisherStats()
        self._pending: deque[MqttMessage] = deque()
        self._live: deque[MqttMessage] = deque(maxlen=max_live)
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def __aenter__(self) -> MqttPublisher:
        self._task = asyncio.create_task(self._run(), name="mqtt-publisher")
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def wait_connected(self, timeout: float) -> bool:
        """True once connected (used to fail fast when the user named a broker)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout)
        return self._connected.is_set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, item: Event | Feedback) -> None:
        """Queue one pipeline output; never blocks."""
        self.submit_message(self.serializer.message(item))

    def submit_message(self, msg: MqttMessage) -> None:
        if msg.droppable:
            if not self._connected.is_set():
                self.stats.live_dropped += 1
                return
            if len(self._live) == self._live.maxlen:
                self.stats.live_dropped += 1
            self._live.append(msg)
        else:
            if len(self._pending) >= self.max_pending:
                self._pending.popleft()
                self.stats.events_overflowed += 1
            self._pending.append(msg)
        self._wake.set()

    async def close(self) -> None:
        """Deliver what is pending (up to ``flush_timeout_s``), say ``offline``, disconnect."""
        if self._task is None:
            return
        self._closing = True
        self._pending.append(self.serializer.availability(False))
        self._wake.set()
        deadline = asyncio.get_running_loop().time() + self.flush_timeout_s
        while self._pending and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._pending:
            log.warning("%d MQTT messages could not be delivered before shutdown",
                        len(self._pending))

    async def _run(self) -> None:
        backoff = 0.5
        will = self.serializer.availability(False)
        while True:
            try:
                async with self.settings.client(will) as client:
                    self._connected.set()
                    self.stats.connected = True
                    backoff = 0.5
                    online = self.serializer.availability(True)
                    await client.publish(online.topic, online.payload, online.qos, online.retain)
                    await self._drain(client)
            except aiomqtt.MqttError as exc:
                self.stats.last_error = str(exc)
                log.info("MQTT broker %s unavailable (%s); retrying in %.1f s",
                         self.settings.address, exc, backoff)
            except ssl.SSLError as exc:
                self.stats.last_error = f"TLS: {exc}"
                log.warning("MQTT TLS error: %s", exc)
            if self._connected.is_set():
                self.stats.reconnects += 1
            self._connected.clear()
            self.stats.connected = False
            self._live.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _drain(self, client: aiomqtt.Client) -> None:
        v5 = self.settings.protocol == "5"
        while True:
            if not self._pending and not self._live:
                self._wake.clear()
                await self._wake.wait()
            queue = self._pending if self._pending else self._live
            msg = queue[0]
            props = None
            if v5 and msg.expiry_s is not None:
                props = Properties(PacketTypes.PUBLISH)
                props.MessageExpiryInterval = msg.expiry_s
            await client.publish(msg.topic, msg.payload, msg.qos, msg.retain, properties=props)
            if queue and queue[0] is msg:
                queue.popleft()
            self.stats.published += 1
