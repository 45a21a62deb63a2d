"""One validation vocabulary for every number, choice and type a user or a file gives us.

Configs, firmware profiles, protocols, run configurations and command-line options all
check their values with these few functions, so a bad value reads the same everywhere: the
key's name (with where it came from), what was given, and what is accepted. Non-finite
numbers (``nan``, ``inf``) are refused by every numeric check: one ``nan`` that slips into
a threshold silently disables a detector, so it must stop at the door.

>>> number(0.05, "envelope_s", low=0.0, low_open=True, high=2.0)
0.05
>>> number(float("nan"), "onset_ratio", where="config.toml")
Traceback (most recent call last):
...
isofeedback.errors.ConfigError: config.toml: onset_ratio must be a finite number, got nan
>>> integer(0, "--jobs", low=1)
Traceback (most recent call last):
...
isofeedback.errors.ConfigError: --jobs must be at least 1, got 0
>>> choice("met", "technique", ("pir", "met"))
'met'
>>> cli_number("--speed", low=1e-3, high=1e4)("1e-300")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: --speed must be at least 0.001, got 1e-300
"""

from __future__ import annotations

import argparse
import math
import os
import stat
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from isofeedback.errors import ConfigError, IsofeedbackError

__all__ = [
    "choice",
    "cli_integer",
    "cli_number",
    "integer",
    "number",
    "of_type",
    "regular_file",
]

T = TypeVar("T")


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def _fmt(value: Any) -> str:
    return repr(value) if isinstance(value, str) else f"{value}"


def number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    where: str = "",
    error: type[IsofeedbackError] = ConfigError,
) -> float:
    """``value`` as a finite float within [low, high] (open ends when ``*_open``).

    Booleans are refused (``true`` is not a number of seconds); ints are accepted."""
    p = _prefix(where)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(f"{p}{name} must be a number, got {_fmt(value)}")
    x = float(value)
    if not math.isfinite(x):
        raise error(f"{p}{name} must be a finite number, got {_fmt(value)}")
    if low is not None and (x <= low if low_open else x < low):
        word = "greater than" if low_open else "at least"
        raise error(f"{p}{name} must be {word} {low:g}, got {_fmt(value)}")
    if high is not None and (x >= high if high_open else x > high):
        word = "less than" if high_open else "at most"
        raise error(f"{p}{name} must be {word} {high:g}, got {_fmt(value)}")
    return x


def integer(
    value: Any,
    name: str,
    *,
    low: int | None = None,
    high: int | None = None,
    where: str = "",
    error: type[IsofeedbackError] = ConfigError,
) -> int:
    """``value`` as an int within [low, high]; floats with a fraction and bools refused."""
    p = _prefix(where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{p}{name} must be a whole number, got {_fmt(value)}")
    if low is not None and value < low:
        raise error(f"{p}{name} must be at least {low}, got {value}")
    if high is not None and value > high:
        raise error(f"{p}{name} must be at most {high}, got {value}")
    return value


def choice(
    value: Any,
    name: str,
    options: Collection[T],
    *,
    where: str = "",
    error: type[IsofeedbackError] = ConfigError,
) -> T:
    """``value`` if it is one of ``options``; the message lists them."""
    if value not in options:
        listed = ", ".join(_fmt(o) for o in options)
        raise error(f"{_prefix(where)}{name} must be one of {listed}, got {_fmt(value)}")
    return value  # type: ignore[no-any-return]


def of_type(
    value: Any,
    name: str,
    kind: type[T] | tuple[type, ...],
    *,
    where: str = "",
    error: type[IsofeedbackError] = ConfigError,
) -> T:
    """``value`` if it is an instance of ``kind`` (a bool is not an int here)."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise error(f"{_prefix(where)}{name} must be a {names}, got {_fmt(value)}")
    return value  # type: ignore[return-value]


def cli_number(name: str, **bounds: Any) -> Callable[[str], float]:
    """An argparse ``type=`` for a float option, checked like :func:`number`.

    argparse turns the ArgumentTypeError into its usual one-line usage error."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        try:
            return number(value, name, **bounds)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name.lstrip("-").replace("-", "_")  # argparse names the type in errors
    return parse


def cli_integer(name: str, **bounds: Any) -> Callable[[str], int]:
    """An argparse ``type=`` for an int option, checked like :func:`integer`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be a whole number, got {text!r}"
            ) from None
        try:
            return integer(value, name, **bounds)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name.lstrip("-").replace("-", "_")
    return parse


def regular_file(
    path: str | os.PathLike[str], what: str, *, error: type[IsofeedbackError] = ConfigError
) -> os.stat_result:
    """Stat ``path`` and insist it is an existing regular file, before anything opens it.

    Opening a FIFO for reading blocks until somebody writes to it, and a device such as
    ``/dev/zero`` never ends: either would hang a command that was given it by mistake."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{path}: is a folder, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{path}: is not a regular file (a pipe, socket or device); give the "
                    f"{what} itself")
    return st
