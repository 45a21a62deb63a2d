"""Broker connection settings from a config table (``[broker]`` in TOML) and the environment.

One validation path for every way of naming a broker: the CLI helpers in
``commands/common.py`` build the same kind of table from options and call this too.
Passwords come from a file (``password_file``) or from the environment variable
``ISOFEEDBACK_MQTT_PASSWORD``, never from the table itself or the command line, so they do
not end up in shell histories, process lists or config files shared with a study.

>>> s = broker_settings_from_table({"host": "broker.lan", "user": "p01"},
...                                {"ISOFEEDBACK_MQTT_PASSWORD": "s3cret"})
>>> s.host, s.port, s.protocol, s.username
('broker.lan', 1883, '5', 'p01')
>>> s.password == "s3cret" and "s3cret" not in repr(s)
True
"""

from __future__ import annotations

import logging
import os
import shlex
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from isofeedback import checks
from isofeedback.errors import ConfigError
from isofeedback.sinks.mqtt import BrokerSettings

__all__ = ["KEYS", "PASSWORD_ENV", "broker_settings_from_table", "check_private",
           "read_secret_file"]

PASSWORD_ENV = "ISOFEEDBACK_MQTT_PASSWORD"

KEYS = ("host", "port", "protocol", "client_id", "user", "password_file", "tls", "tls_ca",
        "tls_cert", "tls_key", "tls_insecure", "keepalive")

log = logging.getLogger(__name__)


def _str(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.{key} must be a non-empty text, got {value!r}")
    return value.strip()


def _int(table: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}.{key} must be a whole number, got {value!r}")
    return value


def _file(table: Mapping[str, Any], key: str, where: str) -> str | None:
    path = _str(table, key, where)
    if path is None:
        return None
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"{where}.{key}: file {str(p)!r} not found")
    try:
        with p.open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"{where}.{key}: cannot read {str(p)!r}: {exc.strerror}") from None
    return str(p)


def check_private(path: str | Path, what: str, kind: str = "password file") -> Path:
    """Refuse a secret (a password file, a TLS private key) that other users can read: a
    secret the whole machine can read is no secret, and saying so now is kinder than a
    leaked password later. ``what`` names the setting in the message.

    Permissions are only checked where they mean something (POSIX); the owner's own
    read access is the only one needed.
    """
    p = Path(path).expanduser()
    try:
        mode = p.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {str(p)!r}: {exc.strerror}") from None
    if os.name == "posix" and mode & 0o077:
        raise ConfigError(
            f"{what}: the {kind} {str(p)!r} can be read by other users (mode "
            f"{stat.S_IMODE(mode):03o}); make it private with: chmod 600 {shlex.quote(str(p))}"
        )
    return p


def read_secret_file(path: str | Path, what: str) -> list[str]:
    """The lines of a password file, refused when other users can read it
    (:func:`check_private`)."""
    p = check_private(path, what)
    try:
        return p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what}: cannot read {str(p)!r}: {exc}") from None


def _password(table: Mapping[str, Any], env: Mapping[str, str], where: str) -> str | None:
    path = _file(table, "password_file", where)
    if path is not None:
        lines = read_secret_file(path, f"{where}.password_file")
        if not lines or not lines[0]:
            raise ConfigError(f"{where}.password_file: {path!r} is empty; put the password "
                              "on its first line")
        return lines[0]
    value = env.get(PASSWORD_ENV)
    return value if value else None


def broker_settings_from_table(
    table: Mapping[str, Any], env: Mapping[str, str], where: str = "mqtt"
) -> BrokerSettings:
    """Validate ``table`` (keys: see ``KEYS``) into :class:`BrokerSettings`.

    ``protocol`` is ``5`` or ``"3.1.1"``; ``port`` defaults to 8883 with TLS, else 1883;
    ``tls = true`` uses the system's certificate authorities unless ``tls_ca`` names one,
    and always checks the broker's certificate and host name unless ``tls_insecure = true``
    (test brokers only; it is logged as a warning).
    Every problem raises ConfigError naming the key (``where`` is its table's name).
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{where}] must be a table of broker settings")
    if "password" in table:
        table_name = where.rpartition(": ")[2]  # ``where`` may start with the file
        raise ConfigError(
            f"{where}.password is not allowed: put the password in a file and set "
            f"{table_name}.password_file, or set the environment variable {PASSWORD_ENV}"
        )
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown broker setting(s) {', '.join(map(repr, unknown))} "
                          f"(known: {', '.join(KEYS)})")
    tls = table.get("tls", False)
    if not isinstance(tls, bool):
        raise ConfigError(f"{where}.tls must be true or false, got {tls!r}")
    tls_ca = _file(table, "tls_ca", where)
    tls_cert = _file(table, "tls_cert", where)
    tls_key = _file(table, "tls_key", where)
    if tls_key is not None:
        check_private(tls_key, f"{where}.tls_key", "private key")
    if tls_key and not tls_cert:
        raise ConfigError(f"{where}.tls_key needs {where}.tls_cert (the client certificate)")
    uses_tls = tls or bool(tls_ca or tls_cert)
    insecure = table.get("tls_insecure", False)
    if not isinstance(insecure, bool):
        raise ConfigError(f"{where}.tls_insecure must be true or false, got {insecure!r}")
    if insecure and not uses_tls:
        raise ConfigError(f"{where}.tls_insecure only makes sense with TLS: set {where}.tls "
                          f"or {where}.tls_ca, or remove {where}.tls_insecure")
    if insecure:
        log.warning("%s.tls_insecure = true: the broker's certificate and host name are NOT "
                    "checked, so anyone on the network path can pose as the broker and read "
                    "the feed and the password; use it only with a test broker", where)
    port = _int(table, "port", where, 8883 if uses_tls else 1883)
    if not 0 < port < 65536:
        raise ConfigError(f"{where}.port must be 1–65535, got {port}")
    raw = table.get("protocol", "5")
    protocol = str(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else ""
    if protocol not in ("5", "3.1.1"):
        raise ConfigError(f"{where}.protocol must be 5 or \"3.1.1\", got {table['protocol']!r}")
    # MQTT carries the keep-alive in 16 bits: a larger value fails inside the client
    keepalive = checks.integer(table.get("keepalive", 15), f"{where}.keepalive", low=5,
                               high=65535)
    user = _str(table, "user", where)
    password = _password(table, env, where)
    if password is not None and user is None:
        source = f"{where}.password_file" if "password_file" in table else PASSWORD_ENV
        raise ConfigError(f"a broker password was given ({source}) but no user name: "
                          f"set {where}.user")
    client_id = _str(table, "client_id", where) or ""
    if len(client_id.encode()) > 65535:
        raise ConfigError(f"{where}.client_id is too long")
    return BrokerSettings(
        host=_str(table, "host", where) or "127.0.0.1", port=port, protocol=protocol,
        client_id=client_id, username=user, password=password, tls=tls, tls_ca=tls_ca,
        tls_cert=tls_cert, tls_key=tls_key, keepalive=keepalive, tls_insecure=insecure,
    )
