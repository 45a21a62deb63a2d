"""The home gateway's one configuration file (TOML): the live session plus how the service runs.

It is a ``run`` configuration (see :mod:`isofeedback.run_config`: patient, protocol,
``[[devices]]``, ``[broker]``, ``[recording]``, ``[ble]``) with two more keys::

    version = 1                  # the format of this file; see below

    [service]
    data_dir = "/var/lib/isofeedback/patients"   # calibration + session history
    log_format = "text"          # or "json" (one JSON object per line)
    home_assistant = false       # publish Home Assistant MQTT discovery configs
    discovery_prefix = "homeassistant"
    web = "0.0.0.0:8080"         # serve the patient's page (phone/tablet) across sessions;
                                 # it reads the [broker] (else the one on 127.0.0.1:1883)

Secrets never live here: the broker password comes from ``[broker] password_file`` or the
environment variable ``ISOFEEDBACK_MQTT_PASSWORD`` (the systemd unit reads it from an
``EnvironmentFile``), exactly as for ``run``.

``version``: this isofeedback reads format 1. A file without ``version`` (a plain ``run``
configuration, or one written before the service existed) is read as format 1 - its keys
mean the same - and the service logs that it should say ``version = 1``. A file from a
newer isofeedback is refused with one sentence saying to upgrade, never half-read.

Folders: with ``--system`` paths (the systemd system unit) data lives under
``/var/lib/isofeedback``; for a user service under ``$XDG_DATA_HOME/isofeedback``
(``~/.local/share/isofeedback``); both are created owner-only (0700).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isofeedback.checks import choice, integer, of_type
from isofeedback.errors import ConfigError
from isofeedback.run_config import RunConfig, parse_run_config
from isofeedback.tomlfile import read_toml

__all__ = [
    "FORMAT_VERSION",
    "SERVICE_KEYS",
    "ServiceConfig",
    "ServicePaths",
    "load_service_config",
    "parse_service_config",
    "read_env_file",
    "service_paths",
    "web_token",
]

FORMAT_VERSION = 1
SERVICE_KEYS = ("data_dir", "log_format", "home_assistant", "discovery_prefix", "web")


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """A validated service configuration. ``version_note`` is a sentence to log when the file
    had no ``version`` key (read as the current format), else empty."""

    run: RunConfig
    data_dir: Path | None
    log_format: str = "text"
    home_assistant: bool = False
    discovery_prefix: str = "homeassistant"
    version_note: str = ""
    web: tuple[str, int] | None = None  # the patient's page: address and port


@dataclass(frozen=True, slots=True)
class ServicePaths:
    """Where a system or a user service keeps its config and data."""

    config: Path
    env_file: Path
    data: Path
    recordings: Path
    patients: Path
    unit_dir: Path


def service_paths(user: bool, env: Mapping[str, str] | None = None) -> ServicePaths:
    """The folders of a ``--user`` service (XDG) or of the system service (/etc, /var/lib).

    >>> service_paths(False).data
    PosixPath('/var/lib/isofeedback')
    >>> service_paths(True, {"HOME": "/home/pi"}).config
    PosixPath('/home/pi/.config/isofeedback/service.toml')
    """
    env = os.environ if env is None else env
    if user:
        home = Path(env.get("HOME") or Path.home())
        config = Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "isofeedback"
        data = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / "isofeedback"
        units = config.parent / "systemd" / "user"
    else:
        config, data = Path("/etc/isofeedback"), Path("/var/lib/isofeedback")
        units = Path("/etc/systemd/system")
    return ServicePaths(config / "service.toml", config / "secrets.env", data,
                        data / "recordings", data / "patients", units)


def _version(data: Mapping[str, Any], where: str) -> str:
    if "version" not in data:
        return (f"{where}: no 'version' key: read as format {FORMAT_VERSION}; add "
                f"'version = {FORMAT_VERSION}' at the top to silence this note")
    raw = data["version"]
    version = integer(raw, "version", where=where, low=1)
    if version > FORMAT_VERSION:
        raise ConfigError(
            f"{where}: version = {version} was written for a newer isofeedback; this one "
            f"reads version {FORMAT_VERSION}: upgrade isofeedback (pip install -U isofeedback)"
            " or write the file in the older format")
    return ""


def parse_service_config(data: Mapping[str, Any], path: Path | None = None) -> ServiceConfig:
    """Validate a parsed service configuration (every error names the file and key)."""
    where = str(path or "config")
    note = _version(data, where)
    service = of_type(data.get("service", {}), "service", dict, where=where)
    unknown = sorted(set(service) - set(SERVICE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: service.{unknown[0]}: unknown key (allowed: "
                          f"{', '.join(SERVICE_KEYS)})")
    run = parse_run_config({k: v for k, v in data.items() if k not in ("version", "service")},
                           path)
    data_dir = None
    if "data_dir" in service:
        raw = of_type(service["data_dir"], "service.data_dir", str, where=where)
        data_dir = Path(raw).expanduser()
        if path is not None and not data_dir.is_absolute():
            data_dir = path.parent / data_dir
    log_format = choice(service.get("log_format", "text"), "service.log_format",
                        ("text", "json"), where=where)
    ha = of_type(service.get("home_assistant", False), "service.home_assistant", bool,
                 where=where)
    prefix = of_type(service.get("discovery_prefix", "homeassistant"),
                     "service.discovery_prefix", str, where=where)
    if not prefix or any(c in prefix for c in "#+ ") or prefix.strip("/") != prefix:
        raise ConfigError(f"{where}: service.discovery_prefix must be a topic without "
                          f"spaces, '#', '+' or leading/trailing '/', got {prefix!r}")
    web = None
    if "web" in service:
        web = _web(of_type(service["web"], "service.web", str, where=where), where)
        from isofeedback.broker import is_loopback

        if data_dir is None and not is_loopback(web[0]):
            # the token must outlive the service's restarts and be the one 'service page'
            # prints: it is kept there
            raise ConfigError(f"{where}: service.web on a network address needs "
                              "service.data_dir, where the page's token is kept (else the "
                              "patient's bookmark would stop working at every restart)")
    return ServiceConfig(run, data_dir, log_format, ha, prefix, note, web)


def _web(text: str, where: str) -> tuple[str, int]:
    """``service.web``: ``ADDRESS[:PORT]`` as ``run --web`` takes it."""
    import argparse

    from isofeedback.commands.common import web_address

    try:
        return web_address(text)
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(f"{where}: service.{str(exc).removeprefix('--')}") from None


def web_token(data_dir: Path | None) -> str | None:
    """The token of the service's page, kept in ``data_dir/web-token`` (made once, owner
    only): the patient's bookmark, or the QR code a clinician scanned once, must open the
    page after every restart of the gateway. None without a ``data_dir`` (the page then
    makes a new one at each start, or needs none on a loopback address)."""
    import secrets

    from isofeedback.files import open_private

    if data_dir is None:
        return None
    path = data_dir / "web-token"
    try:
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        token = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the page's token: {exc}") from None
    if len(token) < 16 or not token.replace("-", "").replace("_", "").isalnum():
        token = secrets.token_urlsafe(16)
        try:
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            with open_private(path) as f:
                f.write(token + "\n")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot keep the page's token: {exc}") from None
    return token


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a systemd ``EnvironmentFile`` (blank lines and ``#`` comments
    skipped, one level of quotes removed), so ``doctor`` sees the secrets the unit gets.

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "secrets.env"
    >>> _ = f.write_text("# broker\\nISOFEEDBACK_MQTT_PASSWORD='s3 cret'\\n")
    >>> read_env_file(f)
    {'ISOFEEDBACK_MQTT_PASSWORD': 's3 cret'}
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the environment file: {exc}") from None
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise ConfigError(f"{path}: line {n}: expected KEY=VALUE, e.g. "
                              "ISOFEEDBACK_MQTT_PASSWORD=...")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key] = value
    return out


def load_service_config(path: Path) -> ServiceConfig:
    """Read and validate a service configuration file."""
    return parse_service_config(read_toml(path, "service configuration"), path)
