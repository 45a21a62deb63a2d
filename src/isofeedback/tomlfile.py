"""Reading a TOML file (profile, protocol, configuration) with one clear error per problem.

Every file a user writes goes through here, so "file not found", "cannot read" and "not
valid TOML" read the same everywhere and always name the file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from isofeedback.checks import regular_file
from isofeedback.errors import ConfigError

__all__ = ["read_toml"]


def read_toml(path: Path, what: str, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """The parsed document; ``what`` names the kind of file in messages ("profile", …).

    >>> read_toml(Path("/nonexistent.toml"), "protocol")
    Traceback (most recent call last):
    ...
    isofeedback.errors.ConfigError: /nonexistent.toml: protocol file not found
    """
    regular_file(path, f"{what} file", error=error)  # a FIFO would block the read forever
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
