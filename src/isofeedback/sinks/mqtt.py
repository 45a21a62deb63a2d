"""Live feedback over MQTT (aiomqtt), never blocking acquisition.

``submit`` only enqueues; a named task owns the broker connection. The delivery policy:

- Reliable messages (events, cues, session state, reps, summary) wait in one bounded FIFO
  while the broker is away or slow and are delivered in order afterwards. They are removed
  only once the broker acknowledged them (QoS 1), so a connection lost mid-flight means
  they are sent again: at-least-once, deduplicated by the payload's ``seq``. When the FIFO
  is full the *oldest* is dropped and counted (``events_overflowed``): a late display
  wants the recent state; the complete history is in the recording.
- Live levels are dropped and counted (``live_dropped``) when the broker is away or the
  link cannot keep up (a small queue, newest kept), because a late level is useless.
- The connection loop reconnects with capped, jittered exponential backoff (aiomqtt's
  client is reusable but not re-entrant, hence a loop around ``async with``), announces
  ``online`` (retained) on every connect and leaves a retained ``offline`` will.
- A broker that refuses the *credentials* (CONNACK 4/5 in MQTT 3.1.1, 134/135 in MQTT 5)
  is not a passing outage: retrying would only hammer the broker (and its brute-force
  defences) with the same wrong password. The publisher says so once, as a
  :class:`~isofeedback.errors.BrokerError` (``error``; ``wait_connected`` raises it), and
  stops connecting; the session itself goes on.
- Every ``stats_interval_s`` the counters go out on ``…/service`` (retained), and
  ``stats`` exposes them to the service for its log and the recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from isofeedback.errors import BrokerError, ConfigError
from isofeedback.sinks.messages import MqttMessage, Serializer
from isofeedback.types import Event, Feedback

if TYPE_CHECKING:
    # aiomqtt (with paho, urllib and http.client) is imported where a client is made or
    # its errors are caught: a command that never connects (a replay without --publish,
    # --help) does not pay for it, yet needs :class:`BrokerSettings` from this module
    import aiomqtt
    from paho.mqtt.properties import Properties

__all__ = ["REFUSED_CREDENTIALS", "BrokerSettings", "MqttPublisher", "PublisherStats",
           "refused_credentials"]

log = logging.getLogger(__name__)

# CONNACK codes that mean "these credentials will never be accepted": MQTT 3.1.1's 4 (bad
# user name or password) and 5 (not authorised), MQTT 5's 0x86, 0x87 and 0x8C (bad
# authentication method); paho reports 3.1.1's as the MQTT 5 codes, both are listed so
# neither spelling slips through
REFUSED_CREDENTIALS = frozenset({4, 5, 134, 135, 140})


def refused_credentials(exc: BaseException) -> bool:
    """True when ``exc`` is the broker's CONNACK refusing the login, not a network problem
    (paho's own error numbers, e.g. 4 = "not connected", reuse the same small integers,
    hence only connection refusals are looked at)."""
    from aiomqtt.exceptions import MqttConnectError

    rc = getattr(exc, "rc", None)
    value = getattr(rc, "value", rc)
    return isinstance(exc, MqttConnectError) and value in REFUSED_CREDENTIALS


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """How to reach the broker. Build it from config/CLI with
    :func:`isofeedback.mqtt_config.broker_settings_from_table`. The password is never
    printed: it is left out of ``repr`` and every log line."""

    host: str = "127.0.0.1"
    port: int = 1883
    protocol: str = "5"  # "5" or "3.1.1"
    client_id: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False  # TLS with the system's CAs unless tls_ca names one
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    keepalive: int = 15
    # skip checking the broker's certificate and host name: only for a test broker; with
    # it anyone on the network path can pose as the broker (and read the password)
    tls_insecure: bool = False

    def __post_init__(self) -> None:
        if self.protocol not in ("5", "3.1.1"):
            raise ConfigError(f"MQTT protocol must be '5' or '3.1.1', got {self.protocol!r}")
        if isinstance(self.port, bool) or not 0 < self.port < 65536:
            raise ConfigError(f"broker port must be 1–65535, got {self.port}")
        if not self.host:
            raise ConfigError("broker host must not be empty")
        if self.keepalive < 5:
            raise ConfigError(f"MQTT keepalive must be at least 5 s, got {self.keepalive}")
        if self.password is not None and not self.username:
            raise ConfigError("an MQTT password was given without a user name: set the user")
        if self.tls_key and not self.tls_cert:
            raise ConfigError("an MQTT client key was given without its certificate")
        if self.tls_insecure and not self.uses_tls:
            raise ConfigError("tls_insecure was given without TLS")

    @property
    def uses_tls(self) -> bool:
        return self.tls or bool(self.tls_ca or self.tls_cert)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}{' (TLS)' if self.uses_tls else ''}"

    def client(self, will: MqttMessage | None = None, **extra: Any) -> aiomqtt.Client:
        """A new (not yet connected) aiomqtt client for these settings."""
        import aiomqtt

        tls = None
        if self.uses_tls:
            # verified by default: the certificate chain (system CAs or tls_ca) and that
            # the certificate names the host we connect to
            tls = aiomqtt.TLSParameters(
                ca_certs=self.tls_ca, certfile=self.tls_cert, keyfile=self.tls_key,
                cert_reqs=ssl.CERT_NONE if self.tls_insecure else ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
            extra.setdefault("tls_insecure", self.tls_insecure)
        version = (aiomqtt.ProtocolVersion.V5 if self.protocol == "5"
                   else aiomqtt.ProtocolVersion.V311)
        if will is not None:
            extra["will"] = aiomqtt.Will(will.topic, will.payload, will.qos, will.retain)
        return aiomqtt.Client(
            self.host, self.port, identifier=self.client_id or None, username=self.username,
            password=self.password, tls_params=tls, protocol=version,
            keepalive=self.keepalive, timeout=5.0, **extra,
        )


@dataclass
class PublisherStats:
    """Counters since the publisher started; see ``schemas/service.json``."""

    published: int = 0
    live_dropped: int = 0
    events_overflowed: int = 0
    rejected: int = 0
    resent: int = 0
    pending_max: int = 0
    connections: int = 0
    reconnects: int = 0
    outage_s: float = 0.0
    connected: bool = False
    last_error: str = ""
    attempts: int = 0  # connection attempts, failed ones included (not published)

    def as_dict(self) -> dict[str, Any]:
        return {
            "published": self.published, "live_dropped": self.live_dropped,
            "events_overflowed": self.events_overflowed, "rejected": self.rejected,
            "resent": self.resent, "pending_max": self.pending_max,
            "connections": self.connections, "reconnects": self.reconnects,
            "outage_s": round(self.outage_s, 3), "connected": self.connected,
        }


def _no_delay(client: aiomqtt.Client) -> None:
    """Disable Nagle's algorithm on the broker connection. Otherwise a QoS 0 live level
    (which the broker never answers) holds back the next event until the broker's delayed
    TCP acknowledgement, ~40 ms: measured 21 ms median, 45 ms worst, instead of ~1 ms.
    aiomqtt has no public access to the socket, hence its paho client."""
    with contextlib.suppress(AttributeError, OSError):
        sock = client._client.socket()
        if isinstance(sock, socket.socket):  # also ssl.SSLSocket
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _EagerWrites:
    """paho's socket-write callbacks on a connection that aiomqtt drives: a packet paho
    queues is written to the socket at once, inside ``publish``, as paho does itself when
    no event loop drives it, instead of through the event loop.

    aiomqtt's callbacks register the socket for writing on every packet
    (``call_soon_threadsafe``, a wake-up of the loop and an ``epoll_ctl``), let the loop
    call ``loop_write`` and unregister it again (another wake-up and ``epoll_ctl``); a
    QoS 0 live level then waits for that round trip with an event, a pending-call entry
    and a timeout. That was most of the MQTT client's per-message work with many
    wearables in one process (~16 % of a 50-wearable run). Written at once, a QoS 0
    message is sent (one ``send``) before ``publish`` returns, so aiomqtt's early return
    applies; QoS 1 still waits for its acknowledgement. The same bytes go out in the same
    order. Only when the socket cannot take everything (a slow broker) is aiomqtt's own
    callback used to wait for it, and anything unusual (another thread, a paho callback
    running, an error) is left to aiomqtt's callbacks as well."""

    def __init__(self, register: Callable[[Any, Any, Any], None],
                 unregister: Callable[[Any, Any, Any], None]) -> None:
        self._register = register  # aiomqtt's callbacks
        self._unregister = unregister
        self._thread = threading.get_ident()  # the event loop's
        self._waiting = False  # aiomqtt's writer is registered: the socket was full
        self._writing = False

    @classmethod
    def install(cls, client: aiomqtt.Client) -> None:
        """On a connected client (from then on paho is called from the loop's thread;
        aiomqtt's connect runs in an executor thread). Nothing when aiomqtt's callbacks
        are not there (another aiomqtt): its own then drive the writes."""
        paho = getattr(client, "_client", None)
        register = getattr(paho, "on_socket_register_write", None)
        unregister = getattr(paho, "on_socket_unregister_write", None)
        if (paho is None or not callable(register) or not callable(unregister)
                or not hasattr(paho, "_in_callback_mutex")):
            return
        eager = cls(register, unregister)
        # a write still under way (aiomqtt's writer registered): its end passes through
        eager._waiting = bool(getattr(paho, "_registered_write", False))
        paho.on_socket_register_write = eager._on_register
        paho.on_socket_unregister_write = eager._on_unregister

    def _on_register(self, client: Any, userdata: Any, sock: Any) -> None:
        busy = client._in_callback_mutex  # held while paho runs a callback (cf. its own
        if (self._waiting or self._writing or threading.get_ident() != self._thread
                or not busy.acquire(False)):  # direct write in _packet_queue)
            self._wait_for_socket(client, userdata, sock)
            return
        busy.release()
        self._writing = True
        # paho builds a reason code and properties (~20 µs) to tell on_publish that a
        # QoS 0 packet went out; aiomqtt's on_publish then looks up a pending publish,
        # but the packets written here are the current publish call's (an older one's
        # would have been left to aiomqtt's writer), which looks at its message info
        # itself (and finds it published) before it registers to wait: not needed here
        on_publish = client.on_publish
        client.on_publish = None
        try:
            client.loop_write()
        except Exception:  # aiomqtt's writer meets it again and ends the connection
            self._wait_for_socket(client, userdata, sock)
            return
        finally:
            client.on_publish = on_publish
            self._writing = False
        if client.want_write():  # the socket took part of it: wait until it takes more
            self._wait_for_socket(client, userdata, sock)

    def _wait_for_socket(self, client: Any, userdata: Any, sock: Any) -> None:
        self._waiting = True
        self._register(client, userdata, sock)

    def _on_unregister(self, client: Any, userdata: Any, sock: Any) -> None:
        if self._waiting:
            self._waiting = False
            self._unregister(client, userdata, sock)


@functools.cache
def _expiry_properties(seconds: int) -> Properties:
    """The MQTT 5 PUBLISH properties of a message that expires after ``seconds``, built
    once per value and shared: paho only reads (packs) them when it sends, and building
    them cost ~9 µs per live level (~20 a second per wearable), more than the rest of
    the publish call's own work on our side. Packed once as well: paho packs a message's
    properties on every publish, ~15 µs for this one property on a slow core, and their
    bytes never change (nothing sets a property on them after this)."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    class PackedOnce(Properties):
        def pack(self) -> bytes:
            return packed

    props = PackedOnce(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.MessageExpiryInterval = seconds
    packed: bytes = Properties.pack(props)  # type: ignore[no-untyped-call]
    return props


class MqttPublisher:
    """Publishes one session's outputs. Use as ``async with MqttPublisher(...) as pub:``.

    ``max_pending`` bounds the reliable FIFO, ``max_live`` the live queue; ``window`` is how
    many reliable messages may await their acknowledgement at once (order is kept: one
    connection, published in order).
    """

    def __init__(
        self,
        settings: BrokerSettings,
        serializer: Serializer,
        *,
        max_pending: int = 10_000,
        max_live: int = 5,
        window: int = 10,
        flush_timeout_s: float = 5.0,
        stats_interval_s: float = 5.0,
        backoff_s: tuple[float, float] = (0.25, 5.0),
    ) -> None:
        if max_pending < 1 or max_live < 1 or window < 1:
            raise ValueError("max_pending, max_live and window must be at least 1")
        if stats_interval_s <= 0 or flush_timeout_s < 0:
            raise ValueError("stats_interval_s must be positive, flush_timeout_s not negative")
        self.settings = settings
        self.serializer = serializer
        self.max_pending = max_pending
        self.window = window
        self.flush_timeout_s = flush_timeout_s
        self.stats_interval_s = stats_interval_s
        self.backoff_s = backoff_s
        self.stats = PublisherStats()
        self._pending: deque[MqttMessage] = deque()
        self._inflight: list[MqttMessage] = []
        self._live: deque[MqttMessage] = deque(maxlen=max_live)
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._t = 0.0  # latest session time seen
        self._offline_sent = False
        self._stopping = False
        self._status_stale = False  # refresh_status() asked for the online status again
        self._stop_wanted = False  # close(): say 'offline, stopped' once nothing is pending
        self._down_since: float | None = None
        self._handlers: dict[str, Callable[[bytes], None]] = {}
        self._retained_handlers: dict[str, Callable[[bytes], None]] = {}
        self.error: BrokerError | None = None  # set when the broker refused the login
        self._gave_up = asyncio.Event()

    def subscribe(self, topic: str, handler: Callable[[bytes], None],
                  retained: Callable[[bytes], None] | None = None) -> None:
        """Call ``handler(payload)`` for every message on ``topic`` (QoS 1), subscribed on
        every (re)connect. Used for the session's control topic; the handler must not
        block (it validates and enqueues). ``retained``: where a message the broker kept
        from before the subscription goes instead (a command left on the broker by an
        earlier session must not act on this one). Subscribe before entering the
        publisher."""
        if self._task is not None:
            raise RuntimeError("subscribe before the publisher connects")
        self._handlers[topic] = handler
        if retained is not None:
            self._retained_handlers[topic] = retained

    async def __aenter__(self) -> MqttPublisher:
        self._task = asyncio.create_task(self._run(), name="mqtt-publisher")
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def wait_connected(self, timeout: float) -> bool:
        """True once connected, False after ``timeout`` (used to fail fast when the user
        named a broker). Raises the :class:`BrokerError` at once when the broker refused
        the credentials: waiting longer cannot help."""
        waits = [asyncio.ensure_future(self._connected.wait()),
                 asyncio.ensure_future(self._gave_up.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        if self.error is not None:
            raise self.error
        return self._connected.is_set()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def pending(self) -> int:
        """Reliable messages not yet acknowledged by the broker."""
        return len(self._pending) + len(self._inflight)

    def counters(self) -> dict[str, Any]:
        """The service payload's counters (also for the service's own report)."""
        d = self.stats.as_dict()
        del d["connected"]
        d["pending"] = self.pending
        d["pending_limit"] = self.max_pending
        return d

    # -- input (never blocks) --------------------------------------------------------------
    def submit(self, item: Event | Feedback) -> None:
        """Queue one pipeline output."""
        self._t = max(self._t, item.t_decided if isinstance(item, Event) else item.t)
        try:
            msg = self.serializer.message(item)
        except ValueError as exc:
            self.stats.rejected += 1
            log.error("MQTT: cannot serialize %r: %s", item, exc)
            return
        self.submit_message(msg)
        if isinstance(item, Feedback):  # (events publish nothing else)
            extra = self.serializer.follow_up(item)
            if extra is not None:
                self.submit_message(extra)

    def submit_message(self, msg: MqttMessage) -> None:
        """Queue a ready message (device state, or anything built by the Serializer)."""
        if msg.droppable:
            if not self._connected.is_set():
                self.stats.live_dropped += 1
                return
            if len(self._live) == self._live.maxlen:
                self.stats.live_dropped += 1
            self._live.append(msg)
        else:
            if self.pending >= self.max_pending and self._pending:
                self._pending.popleft()
                self.stats.events_overflowed += 1
            self._pending.append(msg)
            self.stats.pending_max = max(self.stats.pending_max, self.pending)
        self._wake.set()

    # -- shutdown ----------------------------------------------------------------------
    async def close(self) -> None:
        """Deliver what is pending (up to ``flush_timeout_s``), say ``offline`` (reason
        ``stopped``, retained), disconnect."""
        if self._task is None:
            return
        # made when it is sent, after what is pending: made now, during an outage, it was
        # the old connection's and went out after the reconnect's 'online' with a higher one
        self._stop_wanted = True
        self._offline_sent = False
        self._wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.flush_timeout_s
        while not self._offline_sent and loop.time() < deadline and not self._task.done():
            await asyncio.sleep(0.01)
        # aiomqtt's __aexit__ may turn our cancellation into an MqttError (its disconnect
        # timed out), which _run would take for a lost broker and retry: the flag ends it
        self._stopping = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self.pending:
            log.warning("MQTT: %d messages could not be delivered to %s before shutdown",
                        self.pending, self.settings.address)

    def refresh_status(self) -> None:
        """Publish the retained ``online`` status again, after the session learnt more
        about itself (e.g. whether a motion sensor checks the joint); no-op offline (the
        next connect announces it anyway). Made when it is sent, not now: one queued
        across an outage the publisher had not noticed yet said the old connection's
        'connected' after the reconnect's 'reconnected', and the broker kept that."""
        if self.stats.connected:
            self._status_stale = True
            self._wake.set()

    # -- the connection task -------------------------------------------------------------
    def _status(self, online: bool, reason: str) -> MqttMessage:
        return self.serializer.status(online, self._t, reason=reason,
                                      connection=max(self.stats.connections, 1))

    async def _run(self) -> None:
        import aiomqtt

        low, high = self.backoff_s
        backoff = low
        loop = asyncio.get_running_loop()
        while True:
            attempt = self.stats.connections + 1
            self.stats.attempts += 1
            will = self.serializer.status(False, self._t, reason="connection lost",
                                          connection=attempt)
            try:
                async with self.settings.client(will) as client:
                    _no_delay(client)
                    _EagerWrites.install(client)
                    self.stats.connections = attempt
                    if self._down_since is not None:
                        self.stats.outage_s += loop.time() - self._down_since
                        self.stats.reconnects += 1
                    self._down_since = None
                    reason = "connected" if attempt == 1 else "reconnected"
                    self._status_stale = False  # this one says everything known now
                    online = self._status(True, reason)
                    await client.publish(online.topic, online.payload, online.qos, online.retain)
                    self.stats.published += 1
                    self._connected.set()
                    self.stats.connected = True
                    backoff = low
                    log.info("MQTT: %s to %s", reason, self.settings.address)
                    for topic in self._handlers:
                        await client.subscribe(topic, qos=1)
                    receiver = asyncio.create_task(self._receive(client), name="mqtt-receiver")
                    try:
                        await self._drain(client)
                    finally:
                        receiver.cancel()
                        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                            await receiver
            except aiomqtt.MqttError as exc:
                if refused_credentials(exc):
                    self._refused(exc)
                    return
                self._failed(str(exc))
            except (ssl.SSLError, OSError) as exc:
                self._failed(f"{type(exc).__name__}: {exc}")
            if self._stopping:
                return
            if self._connected.is_set() and self._down_since is None:
                self._down_since = loop.time()
            self._connected.clear()
            self.stats.connected = False
            self._requeue_inflight()
            self.stats.live_dropped += len(self._live)
            self._live.clear()
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, high)

    async def _receive(self, client: aiomqtt.Client) -> None:
        """Hand each subscribed message to its handler (a bad handler is logged, never
        allowed to end the connection)."""
        if not self._handlers:
            return
        async for message in client.messages:
            topic = str(message.topic)
            handler = self._handlers.get(topic)
            if handler is None:
                continue
            if message.retain:
                handler = self._retained_handlers.get(topic, handler)
            payload = message.payload
            data = payload if isinstance(payload, bytes) else str(payload).encode()
            try:
                handler(data)
            except Exception:
                log.exception("MQTT: handler for %s failed", message.topic)

    def _refused(self, exc: BaseException) -> None:
        """The broker refused the login: one clear error, no more attempts."""
        s = self.settings
        who = f"user {s.username!r}" if s.username else "no user name (anonymous)"
        self.error = BrokerError(
            f"the broker at {s.address} refused the credentials ({who}: {exc}); check the "
            "user name and password (--mqtt-user, --mqtt-password-file or the environment "
            "variable ISOFEEDBACK_MQTT_PASSWORD) against the broker's password file and "
            "access list; not retrying")
        self.stats.last_error = str(exc)
        self.stats.connected = False
        self._connected.clear()
        self._gave_up.set()
        log.error("MQTT: %s", self.error)

    def _failed(self, error: str) -> None:
        if error != self.stats.last_error:  # log a persistent problem once, not every retry
            log.warning("MQTT broker %s: %s; retrying", self.settings.address, error)
        self.stats.last_error = error

    def _requeue_inflight(self) -> None:
        """Messages sent but not acknowledged go back to the front, in order."""
        if self._inflight:
            self.stats.resent += len(self._inflight)
            self._pending.extendleft(reversed(self._inflight))
            self._inflight.clear()

    async def _publish(self, client: aiomqtt.Client, msg: MqttMessage) -> None:
        props = None
        if msg.expiry_s is not None and self.settings.protocol == "5":
            props = _expiry_properties(msg.expiry_s)
        await client.publish(msg.topic, msg.payload, msg.qos, msg.retain, properties=props)

    async def _drain(self, client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        next_stats = loop.time()
        # the wake-up for the next stats message: one timer per stats interval, not one
        # per wait (a live level is a wait of its own, ~20 a second per wearable)
        stats_timer: asyncio.TimerHandle | None = None

        def stats_due() -> None:
            nonlocal stats_timer
            stats_timer = None
            self._wake.set()

        try:
            while True:
                if loop.time() >= next_stats:
                    next_stats = loop.time() + self.stats_interval_s
                    svc = self.serializer.service(self._t, self.counters(),
                                                  self.stats_interval_s, wall=time.time())
                    await self._publish(client, svc)
                    self.stats.published += 1
                if self._stopping:  # a cancellation lost inside a library call still stops us
                    raise asyncio.CancelledError
                if self._status_stale:
                    self._status_stale = False
                    await self._publish(client, self._status(
                        True, "reconnected" if self.stats.reconnects else "connected"))
                    self.stats.published += 1
                    continue
                if self._stop_wanted and not self._pending and not self._offline_sent:
                    await self._publish(client, self._status(False, "stopped"))
                    self.stats.published += 1
                    self._offline_sent = True
                    continue
                if not self._pending and not self._live:
                    self._wake.clear()
                    # until a message comes or the stats are due (a timer that fired a
                    # hair early, within the clock's resolution, is set again above);
                    # no wait_for: on 3.11 it can swallow a cancellation that races with
                    # the event (the publisher then never stops)
                    if stats_timer is None:
                        stats_timer = loop.call_at(next_stats, stats_due)
                    await self._wake.wait()
                    continue
                if self._pending:
                    n = min(self.window, len(self._pending))
                    self._inflight = [self._pending.popleft() for _ in range(n)]
                    results = await asyncio.gather(
                        *(self._publish(client, m) for m in self._inflight),
                        return_exceptions=True)
                    for r in results:
                        if isinstance(r, BaseException):
                            raise r
                    self.stats.published += len(self._inflight)
                    self._inflight = []
                else:
                    await self._publish(client, self._live.popleft())
                    self.stats.published += 1
        except asyncio.CancelledError:
            if not self._offline_sent:  # stopping before the flush finished: still say so
                with contextlib.suppress(Exception):
                    offline = self._status(False, "stopped")
                    await asyncio.wait_for(client.publish(
                        offline.topic, offline.payload, offline.qos, offline.retain), 1.0)
            raise
        finally:
            if stats_timer is not None:
                stats_timer.cancel()
