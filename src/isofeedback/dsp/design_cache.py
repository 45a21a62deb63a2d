"""Filter designs kept on disk, so that a process that filters does not import scipy.signal.

Designing the EMG chain's filters (``butter``, ``iirnotch``, ``tf2sos``, ``sosfreqz``) is
microseconds of arithmetic, but importing ``scipy.signal`` to do it costs 0.5–2 s of CPU
(it pulls in scipy.stats, interpolate, optimize, ndimage and spatial): more than a whole
one-minute replay. A design is a pure function of its parameters and of the numpy and
scipy that computed it, so its result is stored once, as exact float64 values, under the
user's cache folder (``$XDG_CACHE_HOME/isofeedback/designs``), keyed by those parameters
and versions; a later process reads it back instead of importing scipy.signal.

The values read back are the ones scipy computed, bit for bit (JSON keeps the shortest
repr of each float, which reads back to the same double), so cached and fresh designs
filter identically and recordings replay exactly. Whatever goes wrong with the cache (no
home, a read-only or full disk, a truncated or foreign file) only costs the design being
computed again; it is never an error.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from isofeedback.types import FloatArray

__all__ = ["cache_folder", "cached_design"]

log = logging.getLogger(__name__)

#: bump when the meaning of a stored design changes without its parameters changing
FORMAT = 1

Param = float | int | str | bool | None | FloatArray

_memory: dict[str, FloatArray] = {}


def cache_folder() -> Path:
    """``$XDG_CACHE_HOME/isofeedback/designs`` (``~/.cache/isofeedback/designs``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "isofeedback" / "designs"


def _canonical(value: Param) -> object:
    """A JSON-able stand-in for one parameter that differs whenever its value does (an
    array by its shape and a hash of its float64 bytes)."""
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value, dtype=np.float64)
        return {"shape": list(data.shape), "sha256": hashlib.sha256(data.tobytes()).hexdigest()}
    if isinstance(value, float | np.floating):
        return float.hex(float(value))  # exact; and 20.0 stays distinct from 20
    if isinstance(value, np.integer):
        return int(value)
    return value


@functools.cache
def _versions() -> tuple[str, ...]:
    """What else a design depends on: numpy and scipy (their algorithms and last bits),
    and the processor family (LAPACK's root finder runs on it)."""
    import platform

    import scipy  # the top-level package only: cheap, unlike scipy.signal

    return (np.__version__, scipy.__version__, platform.machine(), sys.platform)


def _key(name: str, params: Sequence[Param]) -> str:
    return json.dumps([FORMAT, name, [_canonical(p) for p in params], _versions()])


def _read(path: Path, key: str) -> FloatArray | None:
    """The design stored at ``path`` under exactly ``key``, or None (missing, unreadable,
    or not what it should be)."""
    try:
        with path.open(encoding="utf-8") as f:
            doc = json.load(f)
        if not isinstance(doc, dict) or doc.get("key") != key:
            return None
        values = doc["values"]
        if not isinstance(values, list) or not all(isinstance(v, float) for v in values):
            return None
        return np.array(values, dtype=np.float64).reshape(doc["shape"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log.debug("ignoring unreadable filter design cache %s", path, exc_info=True)
        return None


def _write(path: Path, key: str, value: FloatArray) -> None:
    """Store ``value`` atomically (a reader sees the old file or the whole new one)."""
    doc = {"key": key, "shape": list(value.shape), "values": value.ravel().tolist()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".design-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(doc, f)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        log.debug("filter design cache not written to %s", path, exc_info=True)


def cached_design(
    name: str, params: Sequence[Param], compute: Callable[[], FloatArray]
) -> FloatArray:
    """``compute()``'s float64 result for the design ``name`` with ``params``: from this
    process's memory, else from the cache folder, else computed (importing what it needs)
    and stored. ``params`` must hold everything the result depends on besides the library
    versions. Returns a fresh array the caller may keep or change."""
    key = _key(name, params)
    value = _memory.get(key)
    if value is None:
        path = cache_folder() / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"
        value = _read(path, key)
        if value is None:
            value = np.array(compute(), dtype=np.float64)
            if np.all(np.isfinite(value)):
                _write(path, key, value)
        _memory[key] = value
    return value.copy()
