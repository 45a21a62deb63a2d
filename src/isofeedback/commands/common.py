"""Option parsing shared by several commands (broker connection, speed, patient id, LSL)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from typing import Any

from isofeedback.broker import CLINICIAN_PASSWORD_ENV, LISTEN_PASSWORD_ENV
from isofeedback.checks import cli_integer, cli_number
from isofeedback.errors import ConfigError
from isofeedback.mqtt_config import PASSWORD_ENV, broker_settings_from_table
from isofeedback.profiles.schema import MAX_FS_HZ, MIN_FS_HZ
from isofeedback.session.lsl import LslOptions, open_lsl
from isofeedback.sinks.mqtt import BrokerSettings

__all__ = [
    "LslOptions",
    "add_broker_arguments",
    "add_lsl_arguments",
    "broker_address",
    "broker_settings_from_args",
    "jobs",
    "listen_address",
    "lsl_options",
    "open_lsl",
    "patient_id",
    "sample_rate",
    "scan_timeout",
    "seed",
    "speed",
    "time_scale",
]


def counted(n: int, word: str) -> str:
    """``n`` and ``word``, plural unless one (``1 movement``, ``3 onsets``).

    >>> counted(1, "movement"), counted(0, "onset")
    ('1 movement', '0 onsets')
    """
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def broker_address(text: str) -> tuple[str, int]:
    """``host[:port]`` → (host, port); port defaults to 1883."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, "1883"
    if not host:
        raise argparse.ArgumentTypeError(
            f"broker address {text!r} must look like HOST or HOST:PORT"
        )
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"broker port {port!r} is not a number") from None
    if not 0 < number < 65536:
        raise argparse.ArgumentTypeError(f"broker port {number} must be 1–65535")
    return host, number


#: argparse ``type=`` for the numeric options several commands share, checked by the one
#: vocabulary (finite, in range, the option named): ``--fs nan`` or ``--seed -1`` is a
#: one-line usage error, never a traceback, a hang or a MemoryError later
sample_rate = cli_number("--fs", low=MIN_FS_HZ, high=MAX_FS_HZ)
seed = cli_integer("--seed", low=0, high=2**32 - 1)
jobs = cli_integer("--jobs", low=1, high=1024)
scan_timeout = cli_number("--scan-timeout", low=0.0, low_open=True, high=24 * 3600.0)
time_scale = cli_number("--time-scale", low=1e-3, high=1e4)
_speed_factor = cli_number("--speed", low=1e-3, high=1e4)


def speed(text: str) -> float | None:
    """``realtime`` → 1, ``max`` → None (as fast as possible), or a factor (0.001–10000:
    slower would pace one packet per hour, faster is ``max``)."""
    if text == "realtime":
        return 1.0
    if text == "max":
        return None
    try:
        float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"speed {text!r} must be 'realtime', 'max' or a factor like 10"
        ) from None
    return _speed_factor(text)


def patient_id(text: str) -> str:
    if not text or any(c in text for c in "/#+ ") or not text.isprintable():
        raise argparse.ArgumentTypeError(
            f"patient id {text!r} must be a pseudonym without spaces, '/', '#' or '+'"
        )
    return text


def check_positive(name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")


def listen_address(text: str) -> tuple[str, int]:
    """``ADDRESS[:PORT]`` for the built-in broker; port defaults to 1883."""
    return broker_address(text)


WEB_PORT = 8080


def web_address(text: str) -> tuple[str, int]:
    """``ADDRESS[:PORT]`` for the patient's page; port defaults to 8080.

    >>> web_address("0.0.0.0"), web_address("127.0.0.1:9000")
    (('0.0.0.0', 8080), ('127.0.0.1', 9000))
    """
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(WEB_PORT)
    if not host:
        raise argparse.ArgumentTypeError(f"--web {text!r} must look like ADDRESS or "
                                         "ADDRESS:PORT, e.g. 0.0.0.0:8080")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--web port {port!r} is not a number") from None
    if not 0 < number < 65536:
        raise argparse.ArgumentTypeError(f"--web port {number} must be 1–65535")
    return host, number


def add_web_argument(parser: argparse.ArgumentParser) -> None:
    """``--web [ADDRESS:PORT]``: serve the patient's page for a phone or tablet."""
    parser.add_argument(
        "--web", nargs="?", const=("0.0.0.0", WEB_PORT), type=web_address,
        metavar="ADDRESS[:PORT]",
        help=f"serve the patient's page (phone/tablet) and print its address and a QR code; "
        f"alone: on every network address, port {WEB_PORT} (the address then carries a "
        "secret token); 127.0.0.1:PORT keeps it on this machine")
    parser.add_argument(
        "--speak", action="store_true",
        help="say every cue aloud on this machine (needs espeak-ng: apt install espeak-ng)")


class _RefusePassword(argparse.Action):
    """``--mqtt-password`` exists only to refuse it (without echoing the value); otherwise
    argparse would take it as an abbreviation of ``--mqtt-password-file``."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        parser.error(
            "passwords are not accepted on the command line (other users can see them and "
            "they stay in the shell history): use --mqtt-password-file FILE or the "
            f"environment variable {PASSWORD_ENV}"
        )


def add_broker_arguments(parser: argparse.ArgumentParser) -> None:
    """The MQTT broker options shared by every command that publishes (demo, run, replay).

    There is deliberately no password option: a password on the command line is visible
    to every user of the machine (process list) and stays in the shell history.
    """
    g = parser.add_argument_group(
        "MQTT broker",
        f"Without --broker, a local broker on 127.0.0.1:1883 is used if one runs, else a "
        f"built-in one. The password comes from --mqtt-password-file or the environment "
        f"variable {PASSWORD_ENV}.",
    )
    g.add_argument("--broker", type=broker_address, metavar="HOST[:PORT]",
                   help="publish to this MQTT broker (must be reachable; port 1883, "
                   "or 8883 with TLS)")
    g.add_argument("--listen", type=listen_address, metavar="ADDRESS[:PORT]",
                   help="run the built-in broker on this address, e.g. 0.0.0.0 so a phone "
                   "on the same network can connect (MQTT 3.1.1, no TLS); on any address "
                   "but 127.0.0.1 it requires a login per client (passwords generated and "
                   "printed once, or from --listen-password-file)")
    g.add_argument("--listen-password-file", metavar="FILE",
                   help="owner-only file: first line the patient's password for the "
                   "built-in broker, optional second line the clinician's (else "
                   f"{LISTEN_PASSWORD_ENV} / {CLINICIAN_PASSWORD_ENV}, else generated)")
    g.add_argument("--mqtt-tls", action="store_true",
                   help="use TLS, trusting the system's certificate authorities")
    g.add_argument("--mqtt-tls-ca", metavar="FILE",
                   help="use TLS, trusting this CA certificate (PEM)")
    g.add_argument("--mqtt-cert", metavar="FILE", help="TLS client certificate (PEM)")
    g.add_argument("--mqtt-key", metavar="FILE", help="TLS client key (PEM)")
    g.add_argument("--mqtt-user", metavar="NAME", help="broker user name")
    g.add_argument("--mqtt-password-file", metavar="FILE",
                   help="file whose first line is the broker password")
    g.add_argument("--mqtt-password", action=_RefusePassword, nargs="?", help=argparse.SUPPRESS)
    g.add_argument("--mqtt-protocol", choices=["5", "3.1.1"],
                   help="MQTT protocol version (default: 5)")
    g.add_argument("--mqtt-client-id", metavar="ID",
                   help="MQTT client id (default: chosen by the library)")


_OPTION_KEYS = {
    "mqtt_tls": "tls", "mqtt_tls_ca": "tls_ca", "mqtt_cert": "tls_cert",
    "mqtt_key": "tls_key", "mqtt_user": "user", "mqtt_password_file": "password_file",
    "mqtt_protocol": "protocol", "mqtt_client_id": "client_id",
}

_OPTION_NAMES = {"tls": "--mqtt-tls", "tls_ca": "--mqtt-tls-ca", "tls_cert": "--mqtt-cert",
                 "tls_key": "--mqtt-key", "user": "--mqtt-user",
                 "password_file": "--mqtt-password-file", "protocol": "--mqtt-protocol",
                 "client_id": "--mqtt-client-id", "host": "--broker", "port": "--broker"}


def broker_settings_from_args(
    args: argparse.Namespace, env: Mapping[str, str], base: Mapping[str, Any] | None = None
) -> BrokerSettings | None:
    """Settings from the options of :func:`add_broker_arguments` over an optional config
    table ``base`` (``[broker]``); None when neither names a broker (then the caller finds a
    local or built-in one). Errors name the option, e.g. ``--mqtt-tls-ca: file … not found``.
    """
    table: dict[str, Any] = dict(base or {})
    given: set[str] = set()
    if getattr(args, "broker", None) is not None:
        table["host"], table["port"] = args.broker
        given |= {"host", "port"}
    for attr, key in _OPTION_KEYS.items():
        value = getattr(args, attr, None)
        if value not in (None, False):
            table[key] = value
            given.add(key)
    if getattr(args, "listen_password_file", None) and getattr(args, "listen", None) is None:
        raise ConfigError("--listen-password-file is for the built-in broker: give --listen "
                          "ADDRESS too")
    if getattr(args, "listen", None) is not None and "host" in table:
        raise ConfigError("--listen runs the built-in broker and --broker names another one: "
                          "use one of them")
    if "host" not in table:
        extra = sorted(k for k in table if k not in ("protocol", "client_id"))
        if extra:
            names = ", ".join(_OPTION_NAMES.get(k, k) for k in extra)
            raise ConfigError(f"{names} given without --broker: name the broker to connect to")
        if not table:
            return None
    try:
        return broker_settings_from_table(table, env, where="mqtt")
    except ConfigError as exc:
        raise ConfigError(_option_names(str(exc), given)) from None


def _option_names(message: str, given: set[str]) -> str:
    """``mqtt.tls_ca: …`` → ``--mqtt-tls-ca: …`` for the settings the user typed as
    options, so the message names what they typed."""
    for key in sorted(given, key=len, reverse=True):
        message = re.sub(rf"\bmqtt\.{key}\b", _OPTION_NAMES[key], message)
    return message


def add_data_dir(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--data-dir`` (alias ``--calibration-dir``): the per-patient store's folder."""
    parser.add_argument("--data-dir", "--calibration-dir", dest="data_dir", metavar="DIR",
                        default=None, help=help_text)


_seconds = cli_number("--lsl-wait", low=0.0, high=3600.0)


def add_lsl_arguments(parser: argparse.ArgumentParser) -> None:
    """``--lsl`` and ``--lsl-wait``: Lab Streaming Layer outlets (demo, run, replay)."""
    g = parser.add_argument_group(
        "Lab Streaming Layer",
        "Publish the session as LSL streams (the level at 20 Hz and the events and cues as "
        "JSON markers) for LabRecorder and other lab software; needs "
        "pip install 'isofeedback[lsl]'. See docs/recordings.md.",
    )
    g.add_argument("--lsl", action="store_true",
                   help="publish LSL streams 'isofeedback PATIENT level' and "
                   "'isofeedback PATIENT markers'")
    g.add_argument("--lsl-wait", type=_seconds, default=0.0, metavar="SECONDS",
                   help="with --lsl: before the session starts, wait up to SECONDS for a "
                   "consumer (e.g. LabRecorder recording) of both streams (default: 0)")


def lsl_options(args: argparse.Namespace) -> LslOptions | None:
    """The LSL options of :func:`add_lsl_arguments`, None without ``--lsl``. Checks at once
    that pylsl works (a clear error before anything is started, not mid-session)."""
    if not getattr(args, "lsl", False):
        if getattr(args, "lsl_wait", 0.0):
            raise ConfigError("--lsl-wait given without --lsl")
        return None
    from isofeedback.sinks.lsl import import_pylsl

    import_pylsl()
    return LslOptions(wait_s=float(args.lsl_wait))
