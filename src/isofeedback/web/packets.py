"""MQTT packet framing and the relay's rules for what a page may send (pure, no I/O).

The web server relays a page's MQTT-over-WebSocket stream to the session's broker over
plain TCP or TLS. It does not trust the page: it cuts the byte stream into whole MQTT
packets (3.1.1 and 5 share the framing), and before forwarding

- rewrites the page's ``CONNECT`` so it carries the *session's* broker user and password
  (the page never learns them, and a broker with an ACL sees the patient's own user),
- lets the page subscribe only below ``isofeedback/<patient>/`` and publish only to
  ``isofeedback/<patient>/control``, refusing a will or enhanced authentication,

so a page can read its own patient's feedback and send commands, nothing else, even on a
broker without an ACL.

>>> buf = bytearray(b"\\xc0\\x00\\xd0")  # PINGREQ, then the first byte of a PINGRESP
>>> next_packet(buf), bytes(buf)
(b'\\xc0\\x00', b'\\xd0')
>>> next_packet(buf) is None
True
"""

from __future__ import annotations

__all__ = [
    "MAX_PACKET",
    "PacketRefused",
    "check_client_packet",
    "next_packet",
    "rewrite_connect",
]

MAX_PACKET = 256 * 1024  # a page sends small control messages; refuse anything huge

CONNECT, PUBLISH, SUBSCRIBE, AUTH = 1, 3, 8, 15


class PacketRefused(Exception):
    """The page sent something it may not: the relay closes its connection."""


def _varint(buf: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """MQTT variable byte integer at ``pos`` → (value, next position); None if cut off."""
    value, shift = 0, 0
    for i in range(4):
        if pos + i >= len(buf):
            return None
        byte = buf[pos + i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos + i + 1
        shift += 7
    raise PacketRefused("malformed MQTT remaining length")


def encode_varint(value: int) -> bytes:
    """MQTT variable byte integer.

    >>> encode_varint(321).hex()
    'c102'
    """
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def next_packet(buf: bytearray, limit: int = MAX_PACKET) -> bytes | None:
    """Remove and return the first whole packet of ``buf`` (None until it is complete)."""
    if not buf:
        return None
    head = _varint(buf, 1)
    if head is None:
        return None
    length, start = head
    if length > limit:
        raise PacketRefused(f"MQTT packet of {length} bytes is larger than {limit}")
    end = start + length
    if len(buf) < end:
        return None
    packet = bytes(buf[:end])
    del buf[:end]
    return packet


def _string(buf: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 2 > len(buf):
        raise PacketRefused("MQTT packet cut short")
    n = int.from_bytes(buf[pos:pos + 2], "big")
    if pos + 2 + n > len(buf):
        raise PacketRefused("MQTT packet cut short")
    return buf[pos + 2:pos + 2 + n], pos + 2 + n


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _body(packet: bytes) -> tuple[int, bytes]:
    head = _varint(packet, 1)
    if head is None:
        raise PacketRefused("MQTT packet cut short")
    return head[1], packet


def rewrite_connect(packet: bytes, username: str | None, password: str | None) -> bytes:
    """The page's CONNECT with its own user/password replaced by the session's (or none).

    A will is refused: the page has nothing to announce, and a will could publish anywhere.

    >>> page = bytes.fromhex("100c00044d5154540402003c0000")  # 3.1.1, clean, no client id
    >>> out = rewrite_connect(page, "p01", "secret")
    >>> out[9] == 0x02 | 0xC0, out.endswith(b"\\x00\\x03p01\\x00\\x06secret")
    (True, True)
    """
    if packet[0] >> 4 != CONNECT:
        raise PacketRefused("the first MQTT packet must be CONNECT")
    pos, _ = _body(packet)
    _, pos = _string(packet, pos)  # protocol name
    if pos + 4 > len(packet):
        raise PacketRefused("MQTT CONNECT cut short")
    level, flags = packet[pos], packet[pos + 1]
    header_end = pos + 4  # level, flags, keep-alive
    props_end = header_end
    if level == 5:
        head = _varint(packet, header_end)
        if head is None:
            raise PacketRefused("MQTT CONNECT cut short")
        props_end = head[1] + head[0]
    if flags & 0x04:
        raise PacketRefused("a page may not set an MQTT will")
    _, payload_pos = _string(packet, props_end)  # client identifier
    new_flags = flags & ~0xC0 & 0xFF
    tail = b""
    if username is not None:
        new_flags |= 0x80
        tail += _field(username.encode())
        if password is not None:
            new_flags |= 0x40
            tail += _field(password.encode())
    variable = packet[_body(packet)[0]:pos + 1] + bytes([new_flags]) + packet[pos + 2:payload_pos]
    rest = variable + tail
    return bytes([packet[0]]) + encode_varint(len(rest)) + rest


def check_client_packet(packet: bytes, prefix: str, level: int) -> None:
    """Raise :class:`PacketRefused` unless a page may send ``packet`` (after CONNECT).

    ``prefix`` is ``isofeedback/<patient>``; ``level`` the MQTT protocol level (4 or 5).

    >>> sub = bytes.fromhex("82160001") + _field(b"isofeedback/p01/#") + b"\\x01"
    >>> check_client_packet(sub, "isofeedback/p01", 4)
    >>> check_client_packet(bytes.fromhex("82060001") + _field(b"#") + b"\\x01",
    ...                     "isofeedback/p01", 4)
    Traceback (most recent call last):
    ...
    isofeedback.web.packets.PacketRefused: a page may subscribe only below isofeedback/p01/, not '#'
    """
    kind = packet[0] >> 4
    pos, _ = _body(packet)
    if kind == CONNECT:
        raise PacketRefused("a second MQTT CONNECT on one connection")
    if kind == AUTH:
        raise PacketRefused("a page may not use MQTT enhanced authentication")
    if kind == PUBLISH:
        topic, _ = _string(packet, pos)
        if topic.decode("utf-8", "replace") != f"{prefix}/control":
            raise PacketRefused(f"a page may publish only to {prefix}/control, "
                                f"not {topic.decode('utf-8', 'replace')!r}")
    elif kind == SUBSCRIBE:
        pos += 2  # packet identifier
        if level == 5:
            head = _varint(packet, pos)
            if head is None:
                raise PacketRefused("MQTT SUBSCRIBE cut short")
            pos = head[1] + head[0]
        if pos >= len(packet):
            raise PacketRefused("MQTT SUBSCRIBE without a topic")
        while pos < len(packet):
            topic, pos = _string(packet, pos)
            pos += 1  # options
            text = topic.decode("utf-8", "replace")
            if not text.startswith(f"{prefix}/"):
                raise PacketRefused(f"a page may subscribe only below {prefix}/, not {text!r}")


def connect_level(packet: bytes) -> int:
    """The protocol level of a CONNECT (4 = MQTT 3.1.1, 5 = MQTT 5)."""
    pos, _ = _body(packet)
    _, pos = _string(packet, pos)
    if pos >= len(packet):
        raise PacketRefused("MQTT CONNECT cut short")
    return packet[pos]
