"""Firmware profiles: declarative device descriptions, loaded from TOML and validated.

A profile says how to find a device, its GATT layout, which notifications feed which
stream, how bytes become samples, and which commands start and stop streaming. Validation
happens once, on load, and every error names the file, the key and what was expected, so
that somebody writing a profile for a new wearable is never left guessing.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isofeedback import checks
from isofeedback.errors import ProfileError
from isofeedback.tomlfile import read_toml

__all__ = [
    "CommandSpec",
    "CounterSpec",
    "GattCharacteristic",
    "GattService",
    "PacketSpec",
    "Profile",
    "SelectSpec",
    "StreamSpec",
    "available_profiles",
    "find_profile",
    "load_profile",
    "normalize_uuid",
    "profile_dirs",
]

#: the stream names the pipeline reads (docs/profiles.md)
PIPELINE_STREAMS = ("emg", "gyro", "accel", "quat")

_BASE_UUID_TAIL = "-0000-1000-8000-00805f9b34fb"
#: sample rates a stream may have: no wearable streams faster than 100 kHz (a typo like
#: 2e9 would size buffers absurdly) and none slower than 1 Hz (at 1e-300 Hz one sample
#: would be a lifetime, and loops over chunks of time would never advance)
MIN_FS_HZ = 1.0
#: the Bluetooth Core Specification's largest attribute value: no notification is longer
MAX_NOTIFICATION_BYTES = 512
MAX_FS_HZ = 100_000.0
_GATT_FLAGS = {"read", "write", "write-without-response", "notify", "indicate"}


def normalize_uuid(value: str) -> str:
    """Full lower-case 128-bit form, as bleak reports UUIDs (16-bit ones are expanded)."""
    v = value.strip().lower()
    if v.startswith("0x"):
        v = v[2:]
    if len(v) == 4:
        return f"0000{v}{_BASE_UUID_TAIL}"
    if len(v) == 8:
        return f"{v}{_BASE_UUID_TAIL}"
    return v


@dataclass(frozen=True, slots=True)
class GattCharacteristic:
    uuid: str
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GattService:
    uuid: str
    characteristics: tuple[GattCharacteristic, ...]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A write to a characteristic; ``expect`` (optional) is a byte prefix the device's
    reply on ``reply_characteristic`` must start with, for devices that acknowledge."""

    characteristic: str
    data: bytes
    expect: bytes | None = None
    reply_characteristic: str | None = None
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """Where a packet's sequence counter is and what it counts (``packet`` or ``sample``).

    ``place`` is ``header`` (field of the header struct) or ``frame`` (field of every frame,
    counting samples, as the NPG Lite sends it); the packet's counter is its first frame's.
    """

    field: int
    modulo: int
    unit: str = "packet"
    place: str = "header"


@dataclass(frozen=True, slots=True)
class SelectSpec:
    """Which notifications of a shared characteristic belong to a packet kind: those whose
    byte ``byte`` masked with ``mask`` equals ``equals`` (Polar sends accelerometer and
    gyroscope frames on one characteristic, told apart by the first byte)."""

    byte: int
    equals: int
    mask: int = 0xFF

    def matches(self, data: bytes) -> bool:
        return len(data) > self.byte and data[self.byte] & self.mask == self.equals


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One output stream of a packet kind: a slice of each decoded frame, scaled."""

    name: str
    fs: float
    channels: tuple[str, ...]
    start: int
    stop: int
    scale: float = 1.0
    offset: float = 0.0
    unit: str = "a.u."


@dataclass(frozen=True, slots=True)
class PacketSpec:
    """One kind of notification: which characteristics deliver it and how to decode it."""

    name: str
    characteristics: tuple[str, ...]
    codec: str
    frame: str
    frames: int
    header: str
    counter: CounterSpec | None
    streams: tuple[StreamSpec, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    select: SelectSpec | None = None

    @property
    def frame_width(self) -> int:
        """Number of values in one decoded frame."""
        return len(struct.unpack(self.frame, bytes(struct.calcsize(self.frame))))

    @property
    def size(self) -> int | None:
        """Exact byte size for the plain struct codec, ``None`` for named codecs."""
        if self.codec != "struct":
            return None
        return struct.calcsize(self.header) + self.frames * struct.calcsize(self.frame)


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    name: str
    path: Path
    name_prefixes: tuple[str, ...]
    advertised_services: tuple[str, ...]
    services: tuple[GattService, ...]
    packets: tuple[PacketSpec, ...]
    start: tuple[CommandSpec, ...] = ()
    stop: tuple[CommandSpec, ...] = ()
    haptic: tuple[CommandSpec, ...] = ()
    battery: str | None = None
    confidence: str = "high"
    notes: str = ""

    def packet_for(self, characteristic: str, data: bytes = b"") -> PacketSpec | None:
        """The packet kind a notification on ``characteristic`` carries, if any (``data``
        picks one where several kinds share a characteristic)."""
        for p in self.packets:
            if characteristic in p.characteristics and (
                p.select is None or p.select.matches(data)
            ):
                return p
        return None

    @property
    def streams(self) -> tuple[StreamSpec, ...]:
        return tuple(s for p in self.packets for s in p.streams)

    def stream(self, name: str) -> StreamSpec:
        for s in self.streams:
            if s.name == name:
                return s
        raise ProfileError(f"profile {self.id!r} has no stream {name!r}")

    @property
    def notify_characteristics(self) -> tuple[str, ...]:
        """Every data characteristic, once each, in profile order."""
        return tuple(dict.fromkeys(c for p in self.packets for c in p.characteristics))

    @property
    def expected_characteristics(self) -> tuple[str, ...]:
        """Characteristics a connected device must have: data, commands and replies."""
        cmds = (*self.start, *self.stop)
        wanted = [*self.notify_characteristics, *(c.characteristic for c in cmds)]
        wanted += [c.reply_characteristic for c in cmds if c.reply_characteristic]
        return tuple(dict.fromkeys(wanted))

    def characteristic(self, uuid: str) -> GattCharacteristic | None:
        for s in self.services:
            for c in s.characteristics:
                if c.uuid == uuid:
                    return c
        return None


class _Reader:
    """Typed access to a TOML table that reports errors as `file: key: problem`."""

    def __init__(self, path: Path, table: Mapping[str, Any], where: str) -> None:
        self.path = path
        self.table = table
        self.where = where

    def fail(self, key: str, problem: str) -> ProfileError:
        loc = f"{self.where}.{key}" if self.where else key
        return ProfileError(f"{self.path}: {loc}: {problem}")

    def number(self, key: str, default: Any = ..., **bounds: Any) -> float:
        """A finite float within ``bounds`` (see :func:`checks.number`); TOML allows
        ``nan`` and ``inf``, which would silently break a decoder."""
        value = self.get(key, float, default)
        try:
            return checks.number(value, key, error=ProfileError, **bounds)
        except ProfileError as exc:
            raise self.fail(key, str(exc).removeprefix(f"{key} ")) from None

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.table:
            if default is ...:
                raise self.fail(key, "missing (required)")
            return default
        value = self.table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.fail(key, f"expected {names}, got {type(value).__name__} {value!r}")
        return value

    def strings(self, key: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(key, list, default)
        if not all(isinstance(v, str) for v in value):
            raise self.fail(key, "expected a list of strings")
        return tuple(value)

    def sub(self, key: str, value: Mapping[str, Any]) -> _Reader:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"expected a table, got {type(value).__name__}")
        return _Reader(self.path, value, f"{self.where}.{key}" if self.where else key)

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.table:
            if key not in allowed:
                raise self.fail(key, f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _hex_bytes(r: _Reader, key: str) -> bytes:
    text = r.get(key, str)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise r.fail(key, f"expected hex bytes like '01 03 03 01 00', got {text!r}") from None


def _struct_format(r: _Reader, key: str, default: Any = ...) -> str:
    fmt = r.get(key, str, default)
    if fmt and fmt[0] not in "<>!=@":
        raise r.fail(key, f"struct format {fmt!r} must start with an endianness ('<' or '>')")
    try:
        size = struct.calcsize(fmt)
    except (struct.error, ValueError, OverflowError) as exc:  # (non-ASCII: UnicodeError)
        raise r.fail(key, f"invalid struct format {fmt!r}: {exc}") from None
    if size > MAX_NOTIFICATION_BYTES:
        raise r.fail(key, f"struct format {fmt!r} is {size} bytes, longer than a BLE "
                     f"notification can be ({MAX_NOTIFICATION_BYTES})")
    return str(fmt)


def _uuid(r: _Reader, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise r.fail(key, f"expected a UUID string, got {value!r}")
    u = normalize_uuid(value)
    parts = u.split("-")
    if len(u) != 36 or [len(p) for p in parts] != [8, 4, 4, 4, 12]:
        raise r.fail(key, f"{value!r} is not a UUID (16-bit like '2a19' or 128-bit)")
    try:
        int(u.replace("-", ""), 16)
    except ValueError:
        raise r.fail(key, f"{value!r} is not a UUID (non-hex digits)") from None
    return u


def _commands(r: _Reader, key: str) -> tuple[CommandSpec, ...]:
    items = r.get(key, list, [])
    out = []
    for i, item in enumerate(items):
        c = r.sub(f"{key}[{i}]", item)
        c.check_keys({"characteristic", "data", "expect", "reply_characteristic", "delay_s"})
        expect = _hex_bytes(c, "expect") if "expect" in c.table else None
        reply = c.table.get("reply_characteristic")
        out.append(
            CommandSpec(
                characteristic=_uuid(c, "characteristic", c.get("characteristic", str)),
                data=_hex_bytes(c, "data"),
                expect=expect,
                reply_characteristic=_uuid(c, "reply_characteristic", reply) if reply else None,
                delay_s=c.number("delay_s", 0.0, low=0.0, high=60.0),
            )
        )
    return tuple(out)


def _stream(r: _Reader, width: int | None) -> StreamSpec:
    r.check_keys({"stream", "fs", "channels", "slice", "scale", "offset", "unit"})
    channels = r.strings("channels")
    if not channels:
        raise r.fail("channels", "must name at least one channel")
    fs = r.number("fs", low=MIN_FS_HZ, high=MAX_FS_HZ)
    if "slice" not in r.table and width is not None and len(channels) != width:
        # without a slice a stream takes the frame's first values: fewer channels than the
        # frame holds is almost always a channel forgotten, which would shift nothing and
        # silently drop the last ones
        raise r.fail("channels", f"names {len(channels)} channels but each frame holds "
                                 f"{width} values; name them all, or give slice = [0, "
                                 f"{len(channels)}] to take only the first "
                                 f"{len(channels)}")
    sl = r.get("slice", list, [0, len(channels)])
    if len(sl) != 2 or not all(isinstance(v, int) for v in sl):
        raise r.fail("slice", f"expected [start, stop] integers, got {sl!r}")
    start, stop = sl
    if stop - start != len(channels) or start < 0:
        raise r.fail("slice", f"[{start}, {stop}] must cover exactly the {len(channels)} channels")
    if width is not None and stop > width:
        raise r.fail("slice", f"[{start}, {stop}] runs past the frame's {width} values")
    return StreamSpec(
        name=r.get("stream", str),
        fs=fs,
        channels=channels,
        start=start,
        stop=stop,
        scale=r.number("scale", 1.0),
        offset=r.number("offset", 0.0),
        unit=r.get("unit", str, "a.u."),
    )


def _packet(r: _Reader, known_chars: set[str]) -> PacketSpec:
    from isofeedback.profiles.codecs import CODECS

    r.check_keys(
        {
            "name",
            "characteristics",
            "codec",
            "frame",
            "frames",
            "header",
            "counter",
            "streams",
            "params",
            "select",
        }
    )
    codec = r.get("codec", str, "struct")
    if codec not in CODECS:
        raise r.fail("codec", f"unknown codec {codec!r} (known: {', '.join(sorted(CODECS))})")
    chars = tuple(_uuid(r, "characteristics", c) for c in r.get("characteristics", list))
    if not chars:
        raise r.fail("characteristics", "must list at least one characteristic")
    for c in chars:
        if c not in known_chars:
            raise r.fail("characteristics", f"{c} is not declared in any [[services]] table")
    frame = _struct_format(r, "frame")
    header = _struct_format(r, "header", "<")
    frames = r.get("frames", int, 1)
    if not 1 <= frames <= MAX_NOTIFICATION_BYTES:
        raise r.fail("frames", f"must be 1-{MAX_NOTIFICATION_BYTES} (frames of a packet that "
                     f"fits a BLE notification), got {frames}")
    size = struct.calcsize(header) + frames * struct.calcsize(frame)
    if codec == "struct" and size > MAX_NOTIFICATION_BYTES:
        raise r.fail("frames", f"{frames} frames make a {size}-byte packet, longer than a BLE "
                     f"notification can be ({MAX_NOTIFICATION_BYTES})")
    width = len(struct.unpack(frame, bytes(struct.calcsize(frame))))
    counter = None
    if "counter" in r.table:
        cr = r.sub("counter", r.table["counter"])
        cr.check_keys({"field", "modulo", "unit", "place"})
        place = cr.get("place", str, "header")
        if place not in ("header", "frame"):
            raise cr.fail("place", f"expected 'header' or 'frame', got {place!r}")
        n_fields = len(struct.unpack(header, bytes(struct.calcsize(header))))
        if place == "frame":
            n_fields = width
        fld = cr.get("field", int, 0)
        if codec == "struct" and not 0 <= fld < n_fields:
            raise cr.fail("field", f"{place} has {n_fields} fields, no field {fld}")
        unit = cr.get("unit", str, "packet")
        if unit not in ("packet", "sample"):
            raise cr.fail("unit", f"expected 'packet' or 'sample', got {unit!r}")
        modulo = cr.get("modulo", int)
        if modulo < 2:
            raise cr.fail("modulo", f"must be at least 2, got {modulo}")
        counter = CounterSpec(field=fld, modulo=modulo, unit=unit, place=place)
    streams_raw = r.get("streams", list)
    if not streams_raw:
        raise r.fail("streams", "must define at least one stream")
    streams = tuple(
        _stream(r.sub(f"streams[{i}]", s), width if codec == "struct" else None)
        for i, s in enumerate(streams_raw)
    )
    params = r.get("params", dict, {})
    select = None
    if "select" in r.table:
        sr = r.sub("select", r.table["select"])
        sr.check_keys({"byte", "equals", "mask"})
        byte, equals, mask = sr.get("byte", int), sr.get("equals", int), sr.get("mask", int, 255)
        for key, v in (("byte", byte), ("equals", equals), ("mask", mask)):
            if not 0 <= v <= (1024 if key == "byte" else 255):
                raise sr.fail(key, f"expected {'a byte offset' if key == 'byte' else '0-255'}, "
                              f"got {v}")
        if equals & ~mask:
            raise sr.fail("equals", f"{equals:#x} has bits outside mask {mask:#x}: never matches")
        select = SelectSpec(byte=byte, equals=equals, mask=mask)
    spec = PacketSpec(
        name=r.get("name", str),
        characteristics=chars,
        codec=codec,
        frame=frame,
        frames=frames,
        header=header,
        counter=counter,
        streams=streams,
        params=params,
        select=select,
    )
    try:
        CODECS[codec](spec)
    except (ValueError, KeyError, TypeError, ArithmeticError) as exc:  # int(inf): Overflow
        raise r.fail("params", f"codec {codec!r} rejects these settings: {exc}") from None
    return spec


def _find_char(services: list[GattService], uuid: str) -> GattCharacteristic | None:
    return next((c for s in services for c in s.characteristics if c.uuid == uuid), None)


def parse_profile(path: Path, data: Mapping[str, Any]) -> Profile:
    """Validate a parsed TOML document as a profile."""
    top = _Reader(path, data, "")
    top.check_keys({"profile", "match", "services", "packets", "commands", "battery"})
    meta = top.sub("profile", top.get("profile", dict))
    meta.check_keys({"id", "name", "confidence", "notes", "sources"})
    match = top.sub("match", top.get("match", dict, {}))
    match.check_keys({"name_prefixes", "services"})
    services = []
    for i, s in enumerate(top.get("services", list)):
        sr = top.sub(f"services[{i}]", s)
        sr.check_keys({"uuid", "characteristics"})
        chars = []
        for j, c in enumerate(sr.get("characteristics", list)):
            cr = sr.sub(f"characteristics[{j}]", c)
            cr.check_keys({"uuid", "flags"})
            flags = cr.strings("flags")
            bad = [f for f in flags if f not in _GATT_FLAGS]
            if bad:
                raise cr.fail("flags", f"unknown flags {bad} (known: {sorted(_GATT_FLAGS)})")
            chars.append(GattCharacteristic(_uuid(cr, "uuid", cr.get("uuid", str)), flags))
        services.append(GattService(_uuid(sr, "uuid", sr.get("uuid", str)), tuple(chars)))
    known = {c.uuid for s in services for c in s.characteristics}
    packets_raw = top.get("packets", list)
    if not packets_raw:
        raise top.fail("packets", "must define at least one [[packets]] table")
    packets = tuple(_packet(top.sub(f"packets[{i}]", p), known) for i, p in enumerate(packets_raw))
    shared: dict[str, list[PacketSpec]] = {}
    for p in packets:
        for c in p.characteristics:
            shared.setdefault(c, []).append(p)
    for c, kinds in shared.items():
        if len(kinds) > 1 and any(k.select is None for k in kinds):
            raise top.fail(
                "packets",
                f"characteristic {c} feeds packets {[k.name for k in kinds]}: each needs a "
                "'select' (byte, equals, mask) to tell its notifications apart",
            )
    names = [s.name for p in packets for s in p.streams]
    if len(set(names)) != len(names):
        raise top.fail("packets", f"stream names must be unique, got {names}")
    unknown = [n for n in names if n not in PIPELINE_STREAMS]
    if unknown:  # a typo ("emgx") left the profile without its EMG, and "valid"
        raise top.fail("packets", f"stream {unknown[0]!r} is not one the pipeline reads "
                       f"({', '.join(PIPELINE_STREAMS)})")
    cmds = top.sub("commands", top.get("commands", dict, {}))
    cmds.check_keys({"start", "stop", "haptic"})
    start, stop, haptic = (_commands(cmds, k) for k in ("start", "stop", "haptic"))
    for cmd in (*start, *stop, *haptic):
        if cmd.characteristic not in known:
            raise cmds.fail(
                "characteristic", f"{cmd.characteristic} is not declared in [[services]]"
            )
    for cmd in (*start, *stop, *haptic):
        if cmd.expect is not None and cmd.reply_characteristic is None:
            raise cmds.fail("expect", "a reply check needs 'reply_characteristic' (where the "
                            "device answers)")
        if cmd.reply_characteristic is not None:
            reply = _find_char(services, cmd.reply_characteristic)
            if reply is None or not {"notify", "indicate"} & set(reply.flags):
                raise cmds.fail("reply_characteristic", f"{cmd.reply_characteristic} must be "
                                "declared in [[services]] with flag notify or indicate")
    battery = top.get("battery", dict, None)
    battery_uuid = None
    if battery is not None:
        br = top.sub("battery", battery)
        br.check_keys({"characteristic"})
        battery_uuid = _uuid(br, "characteristic", br.get("characteristic", str))
        if battery_uuid not in known:
            raise br.fail("characteristic", f"{battery_uuid} is not declared in [[services]]")
    confidence = meta.get("confidence", str, "high")
    if confidence not in ("high", "medium", "low"):
        raise meta.fail("confidence", f"expected high, medium or low, got {confidence!r}")
    return Profile(
        id=meta.get("id", str),
        name=meta.get("name", str),
        path=path,
        name_prefixes=match.strings("name_prefixes", ()),
        advertised_services=tuple(
            _uuid(match, "services", u) for u in match.get("services", list, [])
        ),
        services=tuple(services),
        packets=packets,
        start=start,
        stop=stop,
        haptic=haptic,
        battery=battery_uuid,
        confidence=confidence,
        notes=meta.get("notes", str, ""),
    )


def load_profile(path: Path) -> Profile:
    """Load and validate one profile file."""
    data = read_toml(path, "profile", ProfileError)
    return parse_profile(path, data)


def profile_dirs() -> list[Path]:
    """Where profiles are looked up: the packaged copy, then a repo checkout's folder."""
    here = Path(__file__).resolve()
    dirs = [here.parent.parent / "data" / "firmware_profiles"]
    for parent in here.parents:
        candidate = parent / "firmware_profiles"
        if candidate.is_dir():
            dirs.insert(0, candidate)
            break
    return [d for d in dirs if d.is_dir()]


def available_profiles() -> dict[str, Path]:
    """Profile id (file stem) → file, first directory wins."""
    found: dict[str, Path] = {}
    for d in profile_dirs():
        for p in sorted(d.glob("*.toml")):
            found.setdefault(p.stem, p)
    return found


def find_profile(name_or_path: str) -> Profile:
    """A profile by id (``myo``) or by path to a ``.toml`` file."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        return load_profile(Path(name_or_path))
    known = available_profiles()
    if name_or_path not in known:
        names = ", ".join(sorted(known)) or "none found"
        raise ProfileError(
            f"unknown firmware profile {name_or_path!r}; available: {names} "
            "(or give a path to a .toml file)"
        )
    return load_profile(known[name_or_path])
