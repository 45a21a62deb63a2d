"""Files the project writes that hold health data: owner-only (0600), whatever the umask.

Recordings, exports, reports, event dumps and summary tables all describe a patient's
sessions; on a shared machine (a clinic PC, a lab server) the default umask would make them
readable by every user. One place creates such files so no writer forgets.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any, Literal, overload

from isofeedback.errors import RecordingError

__all__ = ["open_private", "private_file"]

MODE = 0o600


@overload
def open_private(path: Path | str, mode: Literal["w"] = "w", *,
                 newline: str | None = None) -> IO[str]: ...
@overload
def open_private(path: Path | str, mode: Literal["wb"], *,
                 newline: str | None = None) -> IO[bytes]: ...
def open_private(path: Path | str, mode: str = "w", *, newline: str | None = None) -> IO[Any]:
    """Open ``path`` for writing (created or truncated) readable by its owner only.

    An existing file keeps its mode when reopened, so the mode is set on the open file
    too (before anything is written). Raises OSError like ``open``; callers name the file
    in their own error.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"open_private writes only ('w' or 'wb'), got {mode!r}")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, MODE)
    try:
        os.fchmod(fd, MODE)
        if mode == "wb":
            return os.fdopen(fd, "wb")
        return os.fdopen(fd, "w", encoding="utf-8", newline=newline)
    except BaseException:
        os.close(fd)
        raise


def private_file(path: Path) -> None:
    """Create (or truncate) ``path`` owner-only, for writers that open it by name
    themselves (pyedflib, ``Path.write_text``) and keep an existing file's mode."""
    try:
        open_private(path).close()
    except OSError as exc:
        raise RecordingError(f"{path}: cannot create: {exc}") from None
