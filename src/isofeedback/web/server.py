"""The patient's page: an asyncio HTTP server for its static files and an MQTT relay.

One port serves everything a phone needs, so the page works whatever broker the session
uses (the built-in one, a Mosquitto with only a TCP listener, a remote TLS broker):

- ``/`` and the static files shipped in the package (no CDN, no build step),
- ``/config.json``: the patient id, topic root and MQTT protocol level the page must use,
- ``/cues.json``: the cue texts of every shipped language (``coach/cues/*.toml``),
- ``/mqtt``: MQTT over WebSockets (subprotocol ``mqtt``), relayed to the session's broker
  over TCP or TLS with the *session's* credentials (see :mod:`isofeedback.web.packets`
  for what a page may send).

Security: on a loopback address anyone who can open the page is already on this machine.
On any other address the page needs a random token, which is part of the printed URL and
QR code (``?token=…``); ``/mqtt`` refuses a connection without it. The broker user and
password never leave the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import secrets
import ssl
import sys
from importlib import resources
from types import TracebackType
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from isofeedback.coach.protocol import available_locales, load_cues
from isofeedback.errors import ConfigError
from isofeedback.sinks.messages import topic_prefix
from isofeedback.sinks.mqtt import BrokerSettings
from isofeedback.web.packets import (
    PacketRefused,
    check_client_packet,
    connect_level,
    next_packet,
    rewrite_connect,
)

__all__ = ["WebServer", "print_url", "static_files"]

log = logging.getLogger(__name__)

LINGER_S = 0.5  # at close, how long open pages get to receive the last messages

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".svg": "image/svg+xml",
}
# the page loads nothing from elsewhere (MQTT.js runs its keep-alive timer in a blob:
# worker, so it is not throttled in a background tab); the token in the URL must not
# leak as a referrer
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                               "worker-src 'self' blob:; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def static_files() -> dict[str, bytes]:
    """URL path → bytes of every shipped static file (read once, at start)."""
    root = resources.files("isofeedback.web") / "static"
    files: dict[str, bytes] = {}

    def walk(folder: Any, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif not entry.name.startswith("."):
                files[f"/{prefix}{entry.name}"] = entry.read_bytes()

    walk(root, "")
    files["/"] = files["/index.html"]
    return files


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _broker_tls(broker: BrokerSettings) -> ssl.SSLContext | None:
    if not broker.uses_tls:
        return None
    context = ssl.create_default_context(cafile=broker.tls_ca)
    if broker.tls_cert:
        context.load_cert_chain(broker.tls_cert, broker.tls_key)
    return context


class WebServer:
    """Serves the page and relays MQTT for one patient's session.

    ``async with WebServer(broker, host="0.0.0.0", port=8080, patient="p01") as web:``
    then ``web.url`` is the address to open (with the token when one is needed). Port 0
    picks a free port. ``token``: the page's secret; by default a random one on a
    non-loopback address and none on loopback.
    """

    def __init__(
        self,
        broker: BrokerSettings,
        *,
        patient: str,
        host: str = "127.0.0.1",
        port: int = 0,
        root: str = "isofeedback",
        token: str | None = None,
    ) -> None:
        self.broker = broker
        self.prefix = topic_prefix(patient, root)
        self.patient = patient
        self.root = root
        self.host = host
        self.port = port
        self.token = token if token is not None else (
            None if _is_loopback(host) else secrets.token_urlsafe(16))
        self.relays = 0  # page connections relayed so far
        self.refused = 0  # page connections closed for a forbidden packet or bad token
        self.active = 0  # page connections open now
        self._server: Server | None = None
        self._files = static_files()
        self._files["/config.json"] = json.dumps({
            "patient": patient, "root": root,
            "protocol": 5 if broker.protocol == "5" else 4,
        }).encode()
        self._files["/cues.json"] = json.dumps(
            {loc: load_cues(loc) for loc in available_locales()}, ensure_ascii=False
        ).encode()

    @property
    def url(self) -> str:
        """The page's address; on 0.0.0.0 the machine's LAN address, for a phone."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            from isofeedback.broker import lan_address

            host = lan_address()
        if ":" in host:
            host = f"[{host}]"
        query = f"?token={self.token}" if self.token else ""
        return f"http://{host}:{self.port}/{query}"

    async def __aenter__(self) -> WebServer:
        try:
            self._server = await serve(
                self._relay, self.host, self.port, process_request=self._http,
                subprotocols=["mqtt"],  # type: ignore[list-item]
                compression=None, max_size=2 ** 20, ping_interval=20, ping_timeout=20,
                server_header=None,
            )
        except OSError as exc:
            raise ConfigError(
                f"cannot serve the web page on {self.host}:{self.port}: {exc.strerror}; "
                "pick another address or port with --web ADDRESS:PORT") from None
        sock = next(iter(self._server.sockets))
        self.port = int(sock.getsockname()[1])
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._server is not None:
            if self.active:  # let the last messages (summary, offline) reach open pages
                await asyncio.sleep(LINGER_S)
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5.0)
            self._server = None

    # -- HTTP --------------------------------------------------------------------------
    def _response(self, status: int, reason: str, body: bytes, ctype: str) -> Response:
        headers = Headers({"Content-Type": ctype, **_SECURITY_HEADERS})
        headers["Content-Length"] = str(len(body))
        return Response(status, reason, headers, body)

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path == "/mqtt":
            given = parse_qs(url.query).get("token", [""])[0]
            if self.token and not hmac.compare_digest(given.encode(), self.token.encode()):
                self.refused += 1
                return self._response(403, "Forbidden", b"wrong or missing token\n",
                                      "text/plain; charset=utf-8")
            return None  # the WebSocket handshake goes on
        body = self._files.get(url.path)
        if body is None:
            return self._response(404, "Not Found", b"not found\n", "text/plain; charset=utf-8")
        suffix = url.path[url.path.rfind("."):] if "." in url.path else ".html"
        return self._response(200, "OK", body, _TYPES.get(suffix, "application/octet-stream"))

    # -- MQTT relay -------------------------------------------------------------------
    async def _relay(self, ws: ServerConnection) -> None:
        """One page connection ↔ one broker connection, packet by packet."""
        buf = bytearray()
        try:
            connect = None
            while connect is None:
                data = await ws.recv()
                buf += data if isinstance(data, bytes) else data.encode()
                connect = next_packet(buf)
            level = connect_level(connect)
            connect = rewrite_connect(connect, self.broker.username, self.broker.password)
        except (PacketRefused, ConnectionClosed) as exc:
            self.refused += isinstance(exc, PacketRefused)
            await ws.close(1008, str(exc)[:120])
            return
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                self.broker.host, self.broker.port, ssl=_broker_tls(self.broker),
                server_hostname=self.broker.host if self.broker.uses_tls else None), 5.0)
        except (OSError, TimeoutError) as exc:
            log.info("web relay: broker %s unreachable: %s", self.broker.address, exc)
            await ws.close(1011, "the MQTT broker is unreachable")
            return
        self.relays += 1
        self.active += 1
        with contextlib.suppress(OSError, AttributeError):
            import socket

            writer.get_extra_info("socket").setsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        writer.write(connect)
        try:
            async with asyncio.TaskGroup() as tasks:
                up = tasks.create_task(self._page_to_broker(ws, buf, writer, level))
                down = tasks.create_task(self._broker_to_page(reader, ws))
                await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
                for task in (up, down):
                    task.cancel()
        except* PacketRefused as group:
            self.refused += 1
            await ws.close(1008, str(group.exceptions[0])[:120])
        except* (ConnectionClosed, OSError, ssl.SSLError):
            pass
        finally:
            self.active -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            await ws.close()

    async def _page_to_broker(self, ws: ServerConnection, buf: bytearray,
                              writer: asyncio.StreamWriter, level: int) -> None:
        while True:
            while (packet := next_packet(buf)) is not None:
                check_client_packet(packet, self.prefix, level)
                writer.write(packet)
            await writer.drain()
            data = await ws.recv()
            buf += data if isinstance(data, bytes) else data.encode()

    async def _broker_to_page(self, reader: asyncio.StreamReader, ws: ServerConnection) -> None:
        buf = bytearray()
        while True:
            data = await reader.read(65536)
            if not data:
                return
            buf += data
            while (packet := next_packet(buf, limit=1 << 28)) is not None:
                await ws.send(packet)


def print_url(url: str, out: IO[str] | None = None, qr: bool = True) -> None:
    """Print the page's address and, for a phone's camera, a QR code of it (segno's
    terminal rendering: half-block characters, no colours needed)."""
    stream = out or sys.stdout
    stream.write(f"Patient page: {url}\n")
    if qr:
        import segno

        segno.make(url, error="m").terminal(out=stream, compact=True,  # type: ignore[arg-type]
                                            border=2)
    stream.flush()
