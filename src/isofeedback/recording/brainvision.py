"""BrainVision Core Data Format 1.0: a ``.vhdr`` header, a binary ``.eeg`` and a ``.vmrk``.

Brain Products' amplifiers (BrainAmp ExG, actiCHamp, LiveAmp) write it for EMG as for EEG,
and BIDS (EEG- and EMG-BIDS) allows it beside EDF. The header is an INI-like text: the data
and marker files' names, ``DataFormat=BINARY``, ``DataOrientation`` (``MULTIPLEXED``: a
sample of every channel after another; ``VECTORIZED``: each channel's samples in turn), the
``SamplingInterval`` in µs, the ``BinaryFormat`` (``INT_16``, ``INT_32``,
``IEEE_FLOAT_32``, little-endian) and a line per channel, ``Ch1=<name>,<reference>,
<resolution>,<unit>`` (a value times its resolution is the signal in its unit, µV when
none is written; ``\\1`` in a name is a comma). The marker file lists
``Mk<n>=<type>,<description>,<position>,<points>,<channel>`` with 1-based sample
positions. This module only reads the format; :func:`.importers.load_brainvision`
decides which channels are EMG.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isofeedback.errors import RecordingError
from isofeedback.types import FloatArray

__all__ = ["BrainVision", "read_brainvision"]

_FORMATS = {"INT_16": "<i2", "INT_32": "<i4", "IEEE_FLOAT_32": "<f4", "UINT_16": "<u2"}


@dataclass(frozen=True)
class BrainVision:
    """A BrainVision recording: samples (n, channels) in physical units, the rate, each
    channel's name and unit, and the markers as (sample index from 0, points, text)."""

    data: FloatArray
    fs: float
    names: tuple[str, ...]
    units: tuple[str, ...]
    markers: tuple[tuple[int, int, str], ...]


def _sections(text: str) -> dict[str, dict[str, str]]:
    """The header's ``[Section]`` → ``key=value`` lines (comments ``;`` and the free text
    after ``[Comment]`` left out)."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip().lower()
            current = None if name == "comment" else out.setdefault(name, {})
            continue
        if current is not None and "=" in line:
            key, _, value = line.partition("=")
            current[key.strip().lower()] = value.strip()
    return out


def _text(path: Path) -> str:
    """A header or marker file's text: UTF-8 (newer recorders say so), else Latin-1 (older
    ones write µ as one byte)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _companion(header: Path, name: str | None, suffix: str) -> Path:
    """The data or marker file the header names, beside it (else the header's own name
    with ``suffix``): a renamed recording keeps a header naming the old files, so a file
    of the header's name is taken when the named one is missing."""
    own = header.with_suffix(suffix)
    if name:
        named = header.with_name(Path(name).name)
        if named.is_file() or not own.is_file():
            return named
    return own


def read_brainvision(path: Path) -> BrainVision:
    """Read the recording whose header is ``path`` (one clear error for what is not
    read: another format, a compressed or ASCII data file, a truncated one)."""
    try:
        text = _text(path)
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read it: {exc}") from None
    if "brain vision" not in text[:200].lower() and "brainvision" not in text[:200].lower():
        raise RecordingError(f"{path}: not a BrainVision header (its first line names the "
                             "'Brain Vision Data Exchange Header File')")
    sec = _sections(text)
    common, binary, chans = sec.get("common infos", {}), sec.get("binary infos", {}), \
        sec.get("channel infos", {})
    if common.get("dataformat", "BINARY").upper() != "BINARY":
        raise RecordingError(f"{path}: a BrainVision recording with its data as "
                             f"{common.get('dataformat')} text; export it as binary")
    if "binaryformat" not in binary:
        raise RecordingError(f"{path}: no BinaryFormat line in [Binary Infos] (the data "
                             f"file's sample type: {', '.join(_FORMATS)})")
    fmt = _FORMATS.get(binary["binaryformat"].upper())
    if fmt is None:
        raise RecordingError(f"{path}: BinaryFormat {binary.get('binaryformat')!r} is not "
                             f"read here (known: {', '.join(_FORMATS)})")
    try:
        count = int(common["numberofchannels"])
        interval = float(common["samplinginterval"])
    except (KeyError, ValueError):
        raise RecordingError(f"{path}: NumberOfChannels and SamplingInterval (µs) are "
                             "needed in [Common Infos]") from None
    if count < 1 or not interval > 0:
        raise RecordingError(f"{path}: {count} channels sampled every {interval:g} µs")
    names, units, scale = [], [], []
    for k in range(1, count + 1):
        fields = chans.get(f"ch{k}", "").split(",")
        if not fields[0]:
            raise RecordingError(f"{path}: no line Ch{k}= in [Channel Infos]")
        names.append(fields[0].replace("\\1", ","))
        try:
            scale.append(float(fields[2]) if len(fields) > 2 and fields[2].strip() else 1.0)
        except ValueError:
            raise RecordingError(f"{path}: channel {k}'s resolution {fields[2]!r} is no "
                                 "number") from None
        unit = fields[3].strip() if len(fields) > 3 and fields[3].strip() else "µV"
        units.append("uV" if unit in ("µV", "μV") else unit)
    data_path = _companion(path, common.get("datafile"), ".eeg")
    try:
        raw = np.fromfile(data_path, dtype=np.dtype(fmt))
    except OSError as exc:
        raise RecordingError(f"{path}: its data file {data_path.name} cannot be read: "
                             f"{exc}") from None
    n = raw.size // count
    if n < 2:
        raise RecordingError(f"{data_path}: no samples")
    cut = raw.size % count != 0
    raw = raw[: n * count]
    orientation = common.get("dataorientation", "MULTIPLEXED").upper()
    values = (raw.reshape(n, count) if orientation == "MULTIPLEXED"
              else raw.reshape(count, n).T).astype(np.float64) * np.asarray(scale)
    if cut and orientation != "MULTIPLEXED":
        raise RecordingError(f"{data_path}: cut short (not whole channels of samples)")
    markers: list[tuple[int, int, str]] = []
    marker_path = _companion(path, common.get("markerfile"), ".vmrk")
    try:
        marker_text = _text(marker_path) if marker_path.is_file() else ""
    except OSError as exc:
        raise RecordingError(f"{path}: its marker file {marker_path.name} cannot be read: "
                             f"{exc}") from None
    if marker_text:
        for key, value in _sections(marker_text).get("marker infos", {}).items():
            if not re.fullmatch(r"mk\d+", key):
                continue
            kind, desc, pos, points, *_ = [*value.split(","), "", "", "", ""][:5]
            try:
                at, size = int(pos) - 1, max(int(points or 1), 1)
            except ValueError:
                continue
            if kind.strip().lower() == "new segment" or not 0 <= at < n:
                continue
            markers.append((at, size, (desc or kind).replace("\\1", ",").strip()))
    return BrainVision(np.ascontiguousarray(values), 1e6 / interval, tuple(names),
                       tuple(units), tuple(sorted(markers)))
