"""Option parsing shared by several commands (broker address, speed, patient id)."""

from __future__ import annotations

import argparse

from isofeedback.errors import ConfigError

__all__ = ["broker_address", "patient_id", "speed"]


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


def speed(text: str) -> float | None:
    """``realtime`` → 1, ``max`` → None (as fast as possible), or a positive factor."""
    if text == "realtime":
        return 1.0
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"speed {text!r} must be 'realtime', 'max' or a factor like 10"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"speed must be positive, got {value}")
    return value


def patient_id(text: str) -> str:
    if not text or any(c in text for c in "/#+ ") or not text.isprintable():
        raise argparse.ArgumentTypeError(
            f"patient id {text!r} must be a pseudonym without spaces, '/', '#' or '+'"
        )
    return text


def check_positive(name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")


def add_data_dir(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--data-dir`` (alias ``--calibration-dir``): the per-patient store's folder."""
    parser.add_argument("--data-dir", "--calibration-dir", dest="data_dir", metavar="DIR",
                        default=None, help=help_text)
