"""The live service's configuration file (TOML): devices, broker, protocol, recording.

```toml
patient = "p01"              # pseudonymous id, the MQTT topic prefix
protocol = "pir"             # or "met", or a path to a protocol file

[[devices]]
name = "arm"                 # how the device is named in the session and on MQTT
address = "auto"             # or "AA:BB:CC:DD:EE:FF"
profile = "myo"              # firmware profile id or path to a .toml

[broker]                     # optional; all keys: docs/mqtt.md
host = "127.0.0.1"
port = 1883
protocol = "5"               # or "3.1.1"
# tls_ca = "ca.crt"; user = "p01"; password_file = "mqtt-password.txt"

[recording]
folder = "recordings"        # where sessions are recorded

[ble]
scan_timeout = 10.0          # seconds to look for a device before giving up
```

Every error names the file, the key and what is expected, like the profile loader.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isofeedback import checks
from isofeedback.coach.protocol import find_protocol
from isofeedback.errors import ConfigError, IsofeedbackError
from isofeedback.mqtt_config import broker_settings_from_table
from isofeedback.profiles.schema import Profile, find_profile
from isofeedback.sinks.mqtt import BrokerSettings
from isofeedback.tomlfile import read_toml

__all__ = ["DeviceConfig", "RunConfig", "load_run_config"]

_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$|^[0-9A-Fa-f-]{36}$")


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    name: str
    profile: Profile
    address: str | None  # None = the first device matching the profile


@dataclass(frozen=True, slots=True)
class RunConfig:
    path: Path | None
    patient: str
    protocol: str
    devices: tuple[DeviceConfig, ...]
    broker: BrokerSettings | None
    recording_folder: Path | None
    scan_timeout: float = 10.0


def _fail(path: Path | None, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{path or 'config'}: {key}: {problem}")


def _get(path: Path | None, table: Mapping[str, Any], key: str, kind: type, where: str,
         default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise _fail(path, f"{where}{key}", "missing (required)")
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _fail(path, f"{where}{key}",
                    f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


def _devices(path: Path | None, items: Any) -> tuple[DeviceConfig, ...]:
    if not isinstance(items, list) or not items:
        raise _fail(path, "devices", "expected at least one [[devices]] table")
    out = []
    for i, item in enumerate(items):
        where = f"devices[{i}]."
        if not isinstance(item, Mapping):
            raise _fail(path, f"devices[{i}]", "expected a table")
        for key in item:
            if key not in ("name", "address", "profile"):
                raise _fail(path, f"{where}{key}", "unknown key (allowed: address, name, profile)")
        profile_ref = _get(path, item, "profile", str, where)
        if path is not None and profile_ref.endswith(".toml"):
            profile_ref = str((path.parent / profile_ref).resolve())
        try:
            profile = find_profile(profile_ref)
        except IsofeedbackError as exc:  # name the file and the key, as every other error
            raise _fail(path, f"{where}profile", str(exc)) from None
        address = _get(path, item, "address", str, where, "auto")
        if address != "auto" and not _ADDRESS.match(address):
            raise _fail(path, f"{where}address",
                        f"expected 'auto' or an address like AA:BB:CC:DD:EE:FF, got {address!r}")
        name = _get(path, item, "name", str, where, profile.id if len(items) == 1 else "")
        if not name or any(c in name for c in "/#+ "):
            raise _fail(path, f"{where}name", "a short name without spaces, '/', '#' or '+' "
                        "is required (it names the device on MQTT)")
        out.append(DeviceConfig(name, profile, None if address == "auto" else address.upper()))
    names = [d.name for d in out]
    if len(set(names)) != len(names):
        raise _fail(path, "devices", f"device names must be unique, got {names}")
    return tuple(out)


def parse_run_config(data: Mapping[str, Any], path: Path | None = None) -> RunConfig:
    """Validate a parsed configuration document."""
    allowed = {"patient", "protocol", "devices", "broker", "recording", "ble"}
    for key in data:
        if key not in allowed:
            raise _fail(path, key, f"unknown key (allowed: {', '.join(sorted(allowed))})")
    patient = _get(path, data, "patient", str, "", "patient")
    if not patient or any(c in patient for c in "/#+ "):
        raise _fail(path, "patient", "a pseudonym without spaces, '/', '#' or '+' is required")
    broker = None
    if "broker" in data:
        where = f"{path}: broker" if path is not None else "broker"
        broker = broker_settings_from_table(_get(path, data, "broker", dict, ""), os.environ,
                                            where=where)
    folder = None
    if "recording" in data:
        rec = _get(path, data, "recording", dict, "")
        for key in rec:
            if key != "folder":
                raise _fail(path, f"recording.{key}", "unknown key (allowed: folder)")
        raw = _get(path, rec, "folder", str, "recording.")
        folder = Path(raw).expanduser()
        if path is not None and not folder.is_absolute():
            folder = path.parent / folder
        if folder.exists() and not folder.is_dir():
            raise _fail(path, "recording.folder", f"{folder} exists and is not a folder")
    ble = _get(path, data, "ble", dict, "", {})
    for key in ble:
        if key != "scan_timeout":
            raise _fail(path, f"ble.{key}", "unknown key (allowed: scan_timeout)")
    scan_timeout = checks.number(_get(path, ble, "scan_timeout", float, "ble.", 10.0),
                                 "ble.scan_timeout", low=0.0, low_open=True, high=24 * 3600.0,
                                 where=str(path or "config"))
    protocol = _get(path, data, "protocol", str, "", "pir")
    try:
        find_protocol(protocol)
    except IsofeedbackError as exc:  # name the file and the key, as every other error
        raise _fail(path, "protocol", str(exc)) from None
    return RunConfig(
        path=path,
        patient=patient,
        protocol=protocol,
        devices=_devices(path, data.get("devices")),
        broker=broker,
        recording_folder=folder,
        scan_timeout=scan_timeout,
    )


def load_run_config(path: Path) -> RunConfig:
    """Read and validate a configuration file."""
    data = read_toml(path, "configuration")
    return parse_run_config(data, path)
