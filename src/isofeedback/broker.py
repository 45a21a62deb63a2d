"""Finding a broker: the one the user named, a local one, or an embedded one.

At home there may be no broker at all; the demo and the service then start an embedded
pure-Python broker (amqtt, MQTT 3.1.1) so a phone on the same network can still connect.
A broker the user named explicitly must be reachable: silently replacing it would hide a
configuration mistake.

On the loopback address the embedded broker stays anonymous (only this machine can reach
it). On any other address (``--listen 0.0.0.0``) everyone on the network could otherwise
read the patient's feed and publish fake cues, so it then requires a user name and
password for every client and applies a per-patient access list (:class:`BrokerAccess`):

======================  ==========================================  ==========================
user                    may read                                    may publish
======================  ==========================================  ==========================
``isofeedback``         ``isofeedback/<patient>/#``                 ``isofeedback/<patient>/#``
(the service itself)
``<patient>``           ``isofeedback/<patient>/#``                 ``…/<patient>/control``
``clinician``           ``isofeedback/<patient>/#``                 ``…/<patient>/prescription``
======================  ==========================================  ==========================

The same rules, for Mosquitto, are in ``docs/deploy/mosquitto-acl.conf``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from isofeedback.errors import BrokerError, ConfigError
from isofeedback.mqtt_config import read_secret_file
from isofeedback.sinks.mqtt import BrokerSettings

__all__ = [
    "CLINICIAN_PASSWORD_ENV", "CLINICIAN_USER", "LISTEN_PASSWORD_ENV", "SERVICE_USER",
    "BrokerAccess", "broker_reachable", "embedded_broker", "is_loopback", "lan_address",
    "listen_access", "resolve_broker",
]

SERVICE_USER = "isofeedback"
CLINICIAN_USER = "clinician"
LISTEN_PASSWORD_ENV = "ISOFEEDBACK_LISTEN_PASSWORD"
CLINICIAN_PASSWORD_ENV = "ISOFEEDBACK_LISTEN_CLINICIAN_PASSWORD"
MIN_PASSWORD = 12  # characters; a generated one has 22 (128 bits)


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def _within(topic: str, prefix: str) -> bool:
    """``topic`` (a topic or a subscription filter) lies entirely under ``prefix/``: every
    level of the prefix is matched literally, so a wildcard such as ``isofeedback/+/#``
    or ``#`` that would reach other patients is not."""
    head = prefix.split("/")
    levels = topic.split("/")
    return len(levels) > len(head) and levels[:len(head)] == head


@dataclass(frozen=True)
class BrokerAccess:
    """The users of an embedded broker reachable from the network and what each may do.

    One patient per broker (one session): the patient's clients (phone, display) log in
    as the patient id, a clinician as ``clinician``, the service itself as
    ``isofeedback`` with a password that never leaves this process.

    >>> a = BrokerAccess("p-09", "patient-password", "clinician-password")
    >>> a.allowed("p-09", "subscribe", "isofeedback/p-09/#")
    True
    >>> a.allowed("p-09", "subscribe", "isofeedback/#")     # other patients' topics
    False
    >>> a.allowed("p-09", "publish", "isofeedback/p-09/cue")  # a fake cue
    False
    >>> a.allowed("p-09", "publish", "isofeedback/p-09/control")
    True
    """

    patient: str
    patient_password: str = field(repr=False)
    clinician_password: str = field(repr=False)
    service_password: str = field(default_factory=lambda: secrets.token_urlsafe(16),
                                  repr=False)
    # roles ("patient", "clinician") whose passwords were made up here: shown once
    generated: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.patient in (SERVICE_USER, CLINICIAN_USER):
            raise ConfigError(f"the patient id {self.patient!r} is reserved for the built-in "
                              "broker's own users: choose another pseudonym")
        if any(c in self.patient for c in "/#+"):
            raise ConfigError(f"patient id {self.patient!r} must not contain '/', '#' or '+'")

    @property
    def prefix(self) -> str:
        return f"isofeedback/{self.patient}"

    def authenticate(self, user: str | None, password: str | bytes | None) -> bool:
        """Constant-time check of one login (anonymous and unknown users fail)."""
        expected = {SERVICE_USER: self.service_password, self.patient: self.patient_password,
                    CLINICIAN_USER: self.clinician_password}.get(user or "")
        if expected is None or password is None:
            return False
        given = password.encode() if isinstance(password, str) else bytes(password)
        return hmac.compare_digest(given, expected.encode())

    def allowed(self, user: str | None, action: str, topic: str) -> bool:
        """The access list for ``action`` (amqtt's ``"subscribe"``, ``"receive"`` or
        ``"publish"``): everyone known reads the patient's topics; the service publishes
        them, the patient only control commands, the clinician only the prescription.
        Anything else (another patient's topics, ``$SYS``, an unknown action) is refused."""
        if user not in (SERVICE_USER, self.patient, CLINICIAN_USER):
            return False
        if action in ("subscribe", "receive"):
            return _within(topic, self.prefix)
        if action != "publish":
            return False
        if user == SERVICE_USER:
            return _within(topic, self.prefix) and not any(c in topic for c in "+#")
        own = "control" if user == self.patient else "prescription"
        return topic == f"{self.prefix}/{own}"

    def service_settings(self, base: BrokerSettings) -> BrokerSettings:
        return replace(base, username=SERVICE_USER, password=self.service_password)

    def describe(self) -> str:
        """How the patient's and the clinician's clients log in; passwords only when they
        were generated here (shown once; given ones are known to whoever gave them)."""
        def password(role: str, value: str) -> str:
            return f"password {value!r}" if role in self.generated else "the given password"

        text = (f"log in as user {self.patient!r} with "
                f"{password('patient', self.patient_password)} (clinician: user "
                f"{CLINICIAN_USER!r} with {password('clinician', self.clinician_password)})")
        return text + ("; the generated passwords are shown only now" if self.generated else "")


def listen_access(host: str, patient: str, env: Mapping[str, str],
                  password_file: str | Path | None = None) -> BrokerAccess | None:
    """The access list for an embedded broker on ``host``: None (anonymous, as before) on
    loopback, else passwords from ``password_file`` (first line the patient's, an
    optional second line the clinician's; owner-only), the environment
    (``ISOFEEDBACK_LISTEN_PASSWORD``, ``ISOFEEDBACK_LISTEN_CLINICIAN_PASSWORD``) or
    generated. A given password shorter than 12 characters is refused: on a shared
    network it would be guessed."""
    if is_loopback(host):
        return None
    lines: list[str] = []
    if password_file is not None:
        lines = read_secret_file(password_file, "--listen-password-file")
        if not lines or not lines[0]:
            raise ConfigError(f"--listen-password-file: {str(password_file)!r} is empty; put "
                              "the patient's password on its first line")
    given = {
        "patient": (lines[0] if lines else env.get(LISTEN_PASSWORD_ENV)) or None,
        "clinician": (lines[1] if len(lines) > 1 and lines[1] else
                      env.get(CLINICIAN_PASSWORD_ENV)) or None,
    }
    for role, password in given.items():
        if password is not None and len(password) < MIN_PASSWORD:
            raise ConfigError(
                f"the built-in broker's {role} password is shorter than {MIN_PASSWORD} "
                "characters: anyone on the network could guess it; use a longer one or "
                "leave it out to have one generated")
    return BrokerAccess(
        patient, given["patient"] or secrets.token_urlsafe(16),
        given["clinician"] or secrets.token_urlsafe(16),
        generated=tuple(role for role, value in given.items() if value is None),
    )


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
async def embedded_broker(
    host: str = "127.0.0.1", port: int = 0, access: BrokerAccess | None = None
) -> AsyncIterator[tuple[str, int]]:
    """Run an amqtt broker for the duration of the block; yields (host, port).
    ``access``: require these logins and apply their access list (else anonymous)."""
    from amqtt.broker import Broker

    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    port = port or free_port("127.0.0.1" if host in ("0.0.0.0", "::") else host)
    plugins: dict[str, Any] = (
        # amqtt's current (plugin) configuration: anonymous access, nothing else
        {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
        if access is None else
        {"isofeedback._broker_plugins.AccessAuthPlugin": {"access": access},
         "isofeedback._broker_plugins.AccessTopicPlugin": {"access": access}})
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": plugins,
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
    settings: BrokerSettings | None, explicit: bool, listen: tuple[str, int] | None = None,
    *, patient: str | None = None, env: Mapping[str, str] | None = None,
    password_file: str | Path | None = None,
) -> AsyncIterator[tuple[BrokerSettings, str]]:
    """Yield settings for a reachable broker and a one-line description of it.

    ``explicit``: the user named the broker; if it is unreachable, fail with a clear error.
    ``listen``: run the embedded broker on this (address, port), e.g. ("0.0.0.0", 1883)
    for a phone on the LAN. Otherwise use a local broker on 127.0.0.1:1883 if one runs,
    else an embedded one on a free local port. On a non-loopback ``listen`` address the
    broker requires logins for ``patient`` (see :func:`listen_access`; ``env`` defaults to
    ``os.environ``) and the description says how to log in, with the passwords when they
    were generated: print it once.
    """
    base = settings or BrokerSettings()
    if listen is not None:
        host, port = listen
        access = None
        if not is_loopback(host):
            if patient is None:
                raise BrokerError(
                    f"the built-in broker on {host} would be open to the whole network and "
                    "this command has no patient to protect it for: use --listen 127.0.0.1 "
                    "or a broker of your own (--broker)")
            access = listen_access(host, patient, os.environ if env is None else env,
                                   password_file)
        async with embedded_broker(host, port, access) as (_, bound):
            wildcard = host in ("0.0.0.0", "::", "")
            local = ("127.0.0.1" if host != "::" else "::1") if wildcard else host
            where = f"built-in MQTT broker on {host}:{bound} (MQTT 3.1.1)"
            if wildcard:
                where += f"; on this network connect to {lan_address()}:{bound}"
            if access is not None:
                where += f"; {access.describe()}"
                base = access.service_settings(base)
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
