"""Foreign data for replay: CSV and EDF/BDF files → :class:`SignalSet`.

CSV (``.csv``, ``.tsv``, or a ``.txt`` table): a header row (without one, ``--fs`` and
every column EMG); one column per EMG channel; an optional time column (``t``, ``time``,
``time_s``, ``timestamp``; seconds) or ``--fs``; optional ``gyro_x/y/z`` (deg/s),
``accel_x/y/z`` (g) and ``quat_w/x/y/z`` columns; cells separated by commas, semicolons or
tabs, and with a semicolon or a tab the decimal mark may be a comma (a spreadsheet in a
locale that writes ``0,25``). A sidecar ``<name>.events.csv``
(``onset,duration,text``) is read as annotations, as :mod:`.export` writes it.

Columns that are not signals are never analysed as EMG: a label column (``label``,
``class``, ``gesture``, ``stimulus``, ``trigger``, … — public gesture and movement data sets
ship one beside the channels) becomes annotations, one per run of a non-zero value
(``label 3``); a row counter (``index``, ``sample``, an unnamed first column as pandas
writes it) is checked for missing rows and left out. Read as EMG, a label's steps swamp
the real channels' evidence and a counter is a ramp.

Text files of biosignal kits (``.txt``): OpenSignals, BioSPPy's simple text and the OpenBCI
GUI's raw files (:func:`load_txt`).

EDF/BDF (and their + variants, via pyedflib): a signal labelled ``<stream> <channel>``
(``EMG emg1``, ``Gyro x`` — what our export writes) goes to that stream; other signal
types of EDF+ (``EEG …``, ``ECG``, ``Resp``, ``SpO2``, …) are left out, and so is every
untyped signal when some are typed ``EMG``; a trigger channel (BioSemi's ``Status``,
``Trigger``, ``Marker``) becomes annotations like a label column; the rest are sorted by
keyword (``gyr`` → gyro, ``acc`` → accel, ``quat`` → quat, else EMG). What was left out
is named in the replay's report (``meta["not_emg"]``).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import functools
import importlib
import io
import itertools
import math
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec

import numpy as np
import numpy.typing as npt

from isofeedback import checks
from isofeedback.checks import regular_file
from isofeedback.errors import NoSampleRateError, RecordingError
from isofeedback.profiles.schema import MAX_FS_HZ, MIN_FS_HZ
from isofeedback.recording.plain_numbers import parse_plain
from isofeedback.recording.signals import (
    STREAM_ORDER,
    Annotation,
    SignalSet,
    Stream,
    missing_as_gaps,
)
from isofeedback.recording.time_column import time_axis
from isofeedback.types import FloatArray

__all__ = [
    "DATA_END",
    "FOREIGN_SUFFIXES",
    "TEXT_FORMATS",
    "events_sidecar",
    "is_signal_text",
    "is_table_text",
    "label_columns",
    "load_csv",
    "load_edf",
    "load_foreign",
    "load_mat",
    "load_txt",
    "load_wfdb",
    "load_xdf",
    "named_label_annotations",
]

P = ParamSpec("P")

FOREIGN_SUFFIXES = (".csv", ".tsv", ".edf", ".bdf", ".txt", ".hea", ".xdf", ".mat", ".vhdr",
                    ".c3d")
#: the first line of the text formats read (``.txt``)
TEXT_FORMATS = ("# OpenSignals Text File Format", "# Simple Text Format", "%OpenBCI Raw")
_TIME_COLUMNS = ("t", "time", "time_s", "timestamp", "seconds")
_TIME_MS_COLUMNS = ("t_ms", "time_ms", "timestamp_ms", "ms",  # the same, in milliseconds
                    "millis")  # (Arduino's clock, as a MyoWare sketch logs it)
#: below this, a column is not surface EMG (its band reaches ~20–450 Hz): a time column in
#: milliseconds under a seconds name reads as 1 Hz, and must not be analysed as such
MIN_EMG_FS_HZ = 100.0
_UNITS = {"gyro": "deg/s", "accel": "g", "quat": "1"}
#: columns (CSV) and signals (EDF/BDF) that hold labels or triggers, not a signal
_LABEL_NAMES = frozenset({
    "label", "labels", "class", "gesture", "movement", "stimulus", "restimulus",
    "repetition", "rerepetition", "trigger", "triggers", "marker", "markers", "event",
    "events", "annotation", "condition", "trial", "task", "status", "stim"})
#: columns that count rows (a spreadsheet's or pandas' index column)
_COUNTER_NAMES = frozenset({"", "index", "idx", "sample", "samples", "sample_index",
                            "sample_number", "n", "frame", "counter", "unnamed: 0"})
#: EDF+ signal types (the label's first word) that are not EMG nor motion
_OTHER_EDF_TYPES = frozenset({"eeg", "ecg", "ekg", "eog", "resp", "sao2", "spo2", "temp",
                              "pleth", "pulse", "hr", "pos", "light", "sound", "ms",
                              "dc", "mic"})


#: the EDF+/BDF+ annotations our export writes where each stream's data end
#: (``isofeedback: data end emg`` …): EDF holds whole data records, so the last one is
#: padded (up to ~1 s of the last value), which a re-import read as data (a "flat"
#: signal at the end, another rep's worth for the coach); other readers show them as
#: annotations
DATA_END = "isofeedback: data end"


def _optional(path: Path, module: str, what: str, extra: str, alternative: str = "") -> Any:
    """``import module`` for a reader of ``what``, or one clear error saying which extra
    installs it (and ``alternative``, another way)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise RecordingError(f"{path}: reading {what} needs the {module} package: pip "
                             f"install 'isofeedback[{extra}]'{alternative}") from None


def events_sidecar(path: Path) -> Path:
    """``data.csv`` → ``data.events.csv``."""
    return path.with_name(f"{path.stem}.events.csv")


def load_foreign(path: Path, fs: float | None = None) -> SignalSet:
    """Foreign data of any format read here. ``fs``: the sample rate of a CSV without a
    time column; the other formats carry their own (a different ``fs`` is an error)."""
    suffix = path.suffix.lower()
    shimmer = _shimmer_layout(path) if suffix in (".csv", ".tsv", ".txt") else None
    if shimmer is None and (
            (suffix in (".csv", ".tsv") and not _is_openbci(path)
             and _brainflow_board(path) is None)
            or (suffix == ".txt" and not is_signal_text(path) and is_table_text(path))):
        return _marked_gaps(_plausible(path, load_csv(path, fs)))
    readers: dict[str, Callable[[Path], SignalSet]] = {
        ".edf": load_edf, ".bdf": load_edf, ".txt": load_txt, ".hea": load_wfdb,
        ".xdf": load_xdf, ".csv": load_txt, ".tsv": load_txt,  # here: an OpenBCI GUI file
        ".mat": functools.partial(load_mat, fs=fs),  # may have no rate: --fs
        ".vhdr": load_brainvision, ".c3d": load_c3d}
    if suffix not in readers:
        raise RecordingError(f"{path}: unknown data format (known: .isorec, .csv, .tsv, "
                             ".edf, .bdf, OpenSignals or OpenBCI .txt, WFDB .hea, XDF, "
                             "MATLAB .mat, BrainVision .vhdr, C3D)")
    read = readers[suffix] if shimmer is None else functools.partial(_shimmer, skip=shimmer[0],
                                                                     sep=shimmer[1])
    signals = _marked_gaps(_plausible(path, read(path)))
    rate = signals.streams["emg"].fs
    if fs is not None and abs(fs - rate) > 1e-6 * rate:
        raise RecordingError(f"{path}: --fs {fs:g} contradicts the file's own EMG rate "
                             f"({rate:g} Hz); drop --fs")
    if rate < MIN_EMG_FS_HZ:
        raise RecordingError(f"{path}: EMG sampled at {rate:g} Hz, too slow for surface EMG "
                             f"(at least {MIN_EMG_FS_HZ:g} Hz)")
    return signals


def _missing_become_gaps(load: Callable[P, SignalSet]) -> Callable[P, SignalSet]:
    """``load`` (a reader whose first argument is the file's path) with the samples the
    file leaves empty (NaN, an empty cell) made gaps (:func:`missing_as_gaps`), counted
    per stream in ``meta["missing_rows"]`` so that a replay says so; a stream with no
    sample at all is one clear error. Every reader of a format that can leave samples
    empty is wrapped: no NaN leaves this module."""

    @functools.wraps(load)
    def read(*args: P.args, **kwargs: P.kwargs) -> SignalSet:
        signals = load(*args, **kwargs)
        path = args[0] if args else kwargs["path"]
        streams: dict[str, Stream] = {}
        missing: dict[str, int] = {}
        empty: list[str] = []
        for name, stream in signals.streams.items():
            streams[name], rows, dropped = missing_as_gaps(stream)
            if rows >= stream.n and name != "emg":  # a motion sensor not recorded
                del streams[name]
                empty.append(name)
                continue
            if rows:
                if rows >= stream.n:
                    raise RecordingError(f"{path}: every {name} sample is missing (NaN or "
                                         "empty)")
                missing[name] = rows
            empty += [f"{name} {c}" if name != "emg" else c for c in dropped]
        if not missing and not empty:
            return signals
        meta = dict(signals.meta)
        if missing:
            meta["missing_rows"] = missing
        if empty:
            meta["empty_channels"] = (f"left out, empty in more than half the rows: "
                                      f"{', '.join(empty)}")
        return SignalSet(streams, signals.annotations, meta)

    return read


def _marked_gaps(signals: SignalSet) -> SignalSet:
    """``signals`` with the spans our export marks ``gap:<stream>`` as gaps: a native
    recording's lost packets (a BLE drop) are exported zero-filled, which read back as
    data gave a flat signal and none of the recording's ``gap`` events."""
    marked: dict[str, set[tuple[int, int]]] = {}
    for a in signals.annotations:
        stream = signals.streams.get(a.text[4:]) if a.text.startswith("gap:") else None
        if stream is not None:
            first = min(max(round(a.onset * stream.fs), 0), stream.n)
            rows = min(round(a.duration * stream.fs), stream.n - first)
            if rows > 0:
                marked.setdefault(stream.name, set()).add((first, rows))
    if not marked:
        return signals
    streams = {k: dataclasses.replace(s, gaps=tuple(sorted(marked[k] | set(s.gaps))))
               if k in marked else s for k, s in signals.streams.items()}
    return SignalSet(streams, signals.annotations, signals.meta)


#: a CSV column whose name starts with one of these words is another signal, not EMG:
#: an isometric study records the dynamometer's force or torque beside the EMG, a kit its
#: ECG, a wearable its battery (the EDF+ types, less the ones that are also CSV words)
_OTHER_SIGNALS = (_OTHER_EDF_TYPES - {"ms", "dc", "pos"}) | {
    "force", "torque", "load", "angle", "position", "goniometer", "gonio", "battery", "rssi",
    "temperature", "pressure"}


def _other_signal(column: str) -> bool:
    """A column named as another signal (``Force [N]``, ``torque_nm``, ``ECG``), and not
    as EMG (``EMG force side`` stays EMG).

    >>> [_other_signal(c) for c in ("Force [N]", "torque_nm", "ECG", "emg1", "EMG force",
    ...                             "Forearm EMG")]
    [True, True, True, False, False, False]
    """
    low = column.strip().lower()
    if "emg" in low:
        return False
    first = re.split(r"[^a-z0-9]+", low, maxsplit=1)[0]
    return first in _OTHER_SIGNALS


def _stream_of(column: str) -> tuple[str, str]:
    low = column.strip().lower()
    for prefix, stream in (("gyro_", "gyro"), ("accel_", "accel"), ("acc_", "accel"),
                           ("quat_", "quat")):
        if low.startswith(prefix):
            return stream, low[len(prefix):]
    return "emg", column.strip()


_G = 9.80665  # m/s² per g
#: the units a gyroscope or accelerometer signal may be in, as a column's brackets or an
#: EDF signal's physical dimension write them, and the factor to the pipeline's deg/s, g
_IMU_UNITS: dict[str, dict[str, float]] = {
    "gyro": {"deg/s": 1.0, "deg/sec": 1.0, "°/s": 1.0, "dps": 1.0, "degree/s": 1.0,
             "degrees/s": 1.0, "rad/s": 180.0 / math.pi, "rad/sec": 180.0 / math.pi,
             "mrad/s": 0.18 / math.pi},
    "accel": {"g": 1.0, "mg": 1e-3, "m/s^2": 1.0 / _G, "m/s²": 1.0 / _G, "m/s2": 1.0 / _G,
              "m/s/s": 1.0 / _G, "m s-2": 1.0 / _G},
}


def _split_unit(channel: str) -> tuple[str, str]:
    """``"x [rad/s]"`` → ``("x", "rad/s")``; no brackets: no unit."""
    name, bracket, unit = channel.replace("(", "[").partition("[")
    return (name.strip(), unit.rstrip("])").strip()) if bracket else (channel, "")


def _imu_factor(stream: str, unit: str, where: str) -> float:
    """The factor that brings a ``stream`` signal in ``unit`` to the pipeline's units
    (gyroscope deg/s, accelerometer g): a gyroscope in rad/s read as deg/s made every
    movement 57 times too small, and the joint's movement went unseen. No unit: already
    in them (the documented default); a unit that is not known: one clear error."""
    units = _IMU_UNITS.get(stream)
    u = unit.strip().lower()
    if units is None or u in ("", "a.u.", "au"):
        return 1.0
    if u not in units:
        raise RecordingError(f"{where}: unit {unit!r} is not known for a {stream} signal; "
                             f"use one of {', '.join(units)}")
    return units[u]


#: no signal's units reach this (a 24-bit converter's counts are below 1e7): beyond it the
#: chain's squares and sums lose their meaning (a rest of 1e40, events at −1e9 s)
MAX_ABS_VALUE = 1e12


def _plausible(path: Path, signals: SignalSet) -> SignalSet:
    """``signals`` if every value is a number a signal can have, else one clear error."""
    for name, st in signals.streams.items():
        if st.data.size and float(np.max(np.abs(st.data))) > MAX_ABS_VALUE:
            j = int(np.argmax(np.max(np.abs(st.data), axis=0)))
            raise RecordingError(
                f"{path}: {name} channel {st.channels[j]!r} reaches "
                f"{float(np.max(np.abs(st.data[:, j]))):.3g}, beyond any signal's units "
                f"(±{MAX_ABS_VALUE:.0e}); rescale the data")
    return signals


def _time_scale(column: str) -> float | None:
    """Seconds per unit of a time column's values, or None if ``column`` is not time:
    ``t``, ``time``, … (seconds), ``t_ms``, ``time_ms``, … (milliseconds), ``time_us``,
    ``timestamp_ns`` … (micro- and nanoseconds: phone and embedded loggers), or any column
    with a unit of time as acquisition software writes it (``Time [s]``, ``time (ms)``,
    ``X[s]``, the time axis of an EMG system's export, ``Zeit [s]``: seconds are never EMG).

    >>> [_time_scale(c) for c in ("t", "Time [s]", "time (ms)", "X[s]", "Zeit [s]",
    ...                           "EMG 1 (mV)", "timestamp_us", "t [µs]", "time_ns")]
    [1.0, 1.0, 0.001, 1.0, 1.0, None, 1e-06, 1e-06, 1e-09]
    """
    low = column.strip().lower()
    if low in _TIME_COLUMNS:
        return 1.0
    if low in _TIME_MS_COLUMNS:
        return 1e-3
    base, _, suffix = low.rpartition("_")
    if base in ("t", "time", "timestamp") and suffix in _TIME_UNITS:
        return _TIME_UNITS[suffix]
    name, _, unit = low.replace("(", "[").partition("[")
    unit = unit.rstrip("])").strip()
    name = name.strip()
    if unit in _TIME_UNITS and name:
        return _TIME_UNITS[unit]
    return None


#: Unix time in finer units than seconds, by the smallest value it can have after 2001
#: (seconds since 1970 as large would be after the year 33 000)
_EPOCH_UNITS = (("nanoseconds", 1e-9, 1e18), ("microseconds", 1e-6, 1e15),
                ("milliseconds", 1e-3, 1e12))

#: units of time as column names and brackets write them, in seconds
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6,
               "ns": 1e-9}


@_missing_become_gaps
def load_csv(path: Path, fs: float | None = None) -> SignalSet:
    regular_file(path, "CSV file", error=RecordingError)  # a FIFO would block the read
    if fs is not None:
        checks.number(fs, "--fs", low=MIN_FS_HZ, high=MAX_FS_HZ,
                      error=RecordingError)
    skip, header_line, preamble = _preamble(path)
    stated = preamble_rate(preamble) if fs is None else None
    sep = _delimiter(header_line)
    comma = _decimal_comma(path, skip, sep)
    first_cells = [c.strip() for c in header_line.split(sep)]
    if all(_is_number(c.replace(",", ".") if comma else c) for c in first_cells):
        if fs is None:
            raise NoSampleRateError(f"{path}: the first row must name the columns (e.g. "
                                    "t,emg1,emg2); a file of EMG columns only may go "
                                    "without names if the sample rate is given with --fs")
        # no header: every column is EMG, and the first line is data
        header_line = sep.join(f"emg{i + 1}" for i in range(len(first_cells)))
        skip -= 1
        unnamed = True
    else:
        unnamed = False
    # without a time column, a blank line between rows is a sample left empty (an
    # exporter's NaN): it must not be skipped, or every later sample would move earlier
    timed = any(_time_scale(c.strip()) is not None
                for c in next(csv.reader([header_line], delimiter=sep), []))
    # quoted cells with decimal commas between commas: only the csv module splits them
    fast = (None if comma and sep == "," else
            _read_fast(path, skip, header_line, comma, blank_rows=not timed))
    body: list[list[str]] | None = None
    first_line = skip + 1  # the file's line of the first data row
    if fast is not None:
        header, values = fast
    else:
        header, body = _read_rows(path, skip, header_line, comma)
        if len(body) > 1 and not any(ch.isdigit() for c in body[0] for ch in c) and any(
                c.strip() for c in body[0]):
            # a row of units under the names (``s,mV,mV``), as acquisition software
            # exports: not data; a time column's unit there is its unit
            units = [c.strip().lower() for c in body[0]]
            body = body[1:]
            first_line += 1
            header = [f"{h} [{u}]" if u in ("s", "ms") or (
                          u and _stream_of(h)[0] in _IMU_UNITS) else h
                      for h, u in zip(header, units + [""] * len(header), strict=False)]
    if any(_is_number(h) for h in header):
        raise RecordingError(f"{path}: the first row must name the columns (e.g. t,emg1,emg2)")
    # a time axis per sensor, all named alike with their unit (Delsys exports ``X[s]``
    # before each sensor's column): the first is the time, the others are left out as
    # second clocks; two plain ``t`` columns stay an error
    repeated = sorted({h for h in header if header.count(h) > 1
                       and (_time_scale(h) is None or h.lower() in _TIME_COLUMNS
                            or h.lower() in _TIME_MS_COLUMNS)})
    if repeated:
        raise RecordingError(f"{path}: column names repeat ({', '.join(map(repr, repeated))}): "
                             "each column needs its own name")
    time_col = next((i for i, h in enumerate(header) if _time_scale(h) is not None), None)
    if body is not None and time_col is not None:
        body = [r for r in body if any(c.strip() for c in r)]  # the times tell what is missing
    cut: str | None = None
    if body is not None and len(body) > 2 and 0 < len(body[-1]) < len(header):
        # a logger that crashed or a disk that filled mid-line: the rows before are whole
        cut = (f"its last line ({first_line + len(body) - 1}) is cut short "
               f"({len(body[-1])} of {len(header)} values: the file was cut while it was "
               "written?); left out")
        body = body[:-1]
    named: dict[int, list[str]] = {}  # label columns that name their labels
    if body is not None:
        for j, h in enumerate(header):
            if h.lower() not in _LABEL_NAMES:
                continue
            cells = [row[j].strip() if j < len(row) else "" for row in body]
            if not all(_is_number(c) for c in cells):
                named[j] = cells
                for row in body:
                    if j < len(row):
                        row[j] = "0"
        values = _numbers(path, header, body, first_line)
    if not np.isfinite(values).all():
        def rows() -> list[list[str]]:
            if body is not None:
                return body
            every = _read_rows(path, skip, header_line, comma)[1]
            return [r for r in every if any(c.strip() for c in r)] if timed else every
        _check_finite(path, header, values, first_line, rows)
    rising = [j for j in range(values.shape[1]) if unnamed and values.shape[0] > 2
              and bool(np.all(np.diff(values[:, j]) > 0))]
    if rising:
        raise RecordingError(f"{path}: column {rising[0] + 1} rises in every row, as time or "
                             "a row counter does, not EMG: name the columns in a first row "
                             "(e.g. t,emg1)")
    losses: list[tuple[int, int]] = []
    jitter: float | None = None
    epoch_unit: str | None = None
    scale = 1.0  # seconds per unit of the time column
    if time_col is not None:
        scale = _time_scale(header[time_col]) or 1.0
        if scale == 1.0 and header[time_col].strip().lower() in _TIME_COLUMNS:
            # Unix time in ms, µs or ns under a plain ``timestamp`` (a phone's, a
            # wearable's log): seconds since 1970 that large would be after the year 33 000
            unit, scale = next(((u, f) for u, f, lo in _EPOCH_UNITS
                                if abs(float(values[0, time_col])) >= lo), (None, 1.0))
            if unit is not None:
                epoch_unit = (f"the time column {header[time_col]!r} counts {unit} since "
                              "1970 (Unix time), read so")
        rate, losses, jitter = time_axis(path, values[:, time_col] * scale,
                                                first_line)
        if fs is not None and abs(fs - rate) > 1e-3 * rate:
            raise RecordingError(f"{path}: --fs {fs:g} contradicts the time column "
                                 f"({rate:g} Hz); drop --fs")
        fs = rate
    elif fs is None and stated is not None:
        fs = checks.number(stated[0], f"the sample rate its line {stated[1]!r} states",
                           low=MIN_FS_HZ, high=MAX_FS_HZ, where=str(path),
                           error=RecordingError)
    elif fs is None:
        raise NoSampleRateError(
            f"{path}: no time column ({', '.join(_TIME_COLUMNS)} in seconds, "
            f"{', '.join(_TIME_MS_COLUMNS)} in milliseconds, time_us, time_ns …); give the "
            "sample rate with --fs")
    for i, h in enumerate(header):
        if h.lower() in _COUNTER_NAMES and i != time_col:
            skipped = _check_counter(path, h, i, values[:, i], first_line)
            if time_col is None and not losses:
                losses = skipped
            elif skipped != losses:
                raise RecordingError(f"{path}: the row counter {h!r} and the time column "
                                     "disagree on which rows are missing")
    if losses:
        # rows missing (the time or a row counter skips): gaps, every later row at its time
        values, _ = _with_gaps(values, losses)
        named = {j: _with_blank_cells(cells, losses) for j, cells in named.items()}
        for j, h in enumerate(header):  # the inserted rows: no sample, no label
            if j != time_col and h.lower() not in _LABEL_NAMES:
                values[_gap_rows(losses), j] = np.nan
    if fs < MIN_EMG_FS_HZ:
        where = (f"the time column {header[time_col]!r} gives {fs:g} samples per second"
                 if time_col is not None else f"--fs {fs:g}")
        hint = (": is it in milliseconds? Name it time_ms, or give seconds"
                if time_col is not None else "")
        raise RecordingError(f"{path}: {where}, too slow for surface EMG (at least "
                             f"{MIN_EMG_FS_HZ:g} Hz){hint}")
    groups: dict[str, list[tuple[str, int]]] = {}
    labels: list[Annotation] = []
    not_emg: list[str] = []
    for i, h in enumerate(header):
        if i == time_col:
            continue
        if h.lower() in _COUNTER_NAMES:
            not_emg.append(h or f"column {i + 1}")
        elif _time_scale(h) is not None:  # a second clock (e.g. in ms beside seconds)
            not_emg.append(h)
        elif h.lower() in _LABEL_NAMES:
            labels += (named_label_annotations(h, named[i], fs) if i in named else
                       label_annotations(f"{path}: column {h!r}", h, values[:, i], fs))
            not_emg.append(h)
        elif _other_signal(h):  # a dynamometer's force, an ECG … beside the EMG
            not_emg.append(h)
        else:
            stream, channel = _stream_of(h)
            if stream in _IMU_UNITS:
                channel, unit = _split_unit(channel)
                factor = _imu_factor(stream, unit, f"{path}: column {h!r}")
                if factor != 1.0:
                    values[:, i] *= factor
            groups.setdefault(stream, []).append((channel, i))
    if "emg" not in groups:
        raise RecordingError(f"{path}: no EMG columns (every column that is not time, "
                             "a label, a row counter, gyro_*, accel_* or quat_*, nor named "
                             "as another signal, force, torque, ECG …, is an EMG channel)")
    streams = {
        name: Stream(name, fs, tuple(c for c, _ in cols),
                     np.ascontiguousarray(values[:, [i for _, i in cols]]),
                     _UNITS.get(name, "a.u."))
        for name in STREAM_ORDER if (cols := groups.get(name))
    }
    annotations = tuple(sorted((*_read_sidecar(events_sidecar(path)), *labels),
                               key=lambda a: a.onset))
    meta: dict[str, Any] = {"source_file": path.name}
    if not_emg:
        meta["not_emg"] = not_emg
    if time_col is not None and values[0, time_col] != 0.0:
        # session times count from the first row; the file's own clock started here
        meta["time_origin_s"] = float(values[0, time_col]) * scale
    if cut is not None:
        meta["damage"] = cut
    if preamble:
        meta["preamble"] = preamble  # the acquisition software's lines before the header
    if time_col is None and stated is not None:
        meta["rate_from"] = f"the sample rate, {fs:g} Hz, from the file's line {stated[1]!r}"
    if epoch_unit is not None:
        meta["time_unit"] = epoch_unit
    if jitter is not None:
        meta["time_jitter"] = (
            f"the time column strays up to {jitter * 1000:.3g} ms (peak to peak) from an "
            f"even {fs:g} Hz, as a logger's arrival times do: read as {fs:g} Hz, each row "
            "one sample; event times are no better than that")
    return SignalSet(streams, annotations, meta)


#: how files write a sample they do not have (besides an empty cell and ``nan``)
_MISSING_TEXT = frozenset({"na", "n/a", "#n/a", "null", "none", "-"})


def _check_finite(path: Path, header: list[str], values: FloatArray, first_line: int,
                  rows: Callable[[], list[list[str]]]) -> None:
    """Where ``values`` lack a number: a signal's missing sample stays NaN (a gap, see
    :func:`missing_as_gaps`), a label column's is "no label" (0, set here); the time, a
    row counter or a second clock must have every value: else one clear error naming
    the line (``rows``: the rows as text, read only then)."""
    missing = ~np.isfinite(values)
    for j in np.flatnonzero(missing.any(axis=0)):
        h = header[j]
        if h.lower() in _LABEL_NAMES:
            values[missing[:, j], j] = 0.0
        elif _time_scale(h) is not None or h.lower() in _COUNTER_NAMES:
            i = int(np.argmax(missing[:, j]))
            row = rows()[i]
            cell = row[j].strip() if j < len(row) else ""
            what = "time" if _time_scale(h) is not None else "row counter"
            raise RecordingError(f"{path}: line {i + first_line}, column {h!r}: the {what} "
                                 f"is missing ({cell!r}); every row needs it")


def _with_blank_cells(cells: list[str], losses: list[tuple[int, int]]) -> list[str]:
    """A label column's cells with an empty cell ("no label") for each row of ``losses``
    (as :func:`_with_gaps` inserts them)."""
    out: list[str] = []
    done = 0
    for row, count in losses:
        out += cells[done:row] + [""] * count
        done = row
    return out + cells[done:]


def _gap_rows(losses: list[tuple[int, int]]) -> npt.NDArray[np.intp]:
    """The rows :func:`_with_gaps` inserts for ``losses``, in the result's numbering.

    >>> _gap_rows([(2, 3), (4, 1)]).tolist()
    [2, 3, 4, 7]
    """
    rows: list[int] = []
    shift = 0
    for row, count in losses:
        rows += range(row + shift, row + shift + count)
        shift += count
    return np.asarray(rows, dtype=np.intp)


def _runs(values: Any) -> tuple[list[int], list[int]]:
    """Start and end (exclusive) of each run of equal values in ``values`` (numbers or
    texts), found by numpy over the whole column."""
    v = np.asarray(values)
    change = np.flatnonzero(v[1:] != v[:-1]) + 1
    return (np.concatenate(([0], change)).astype(int).tolist(),
            np.concatenate((change, [v.size])).astype(int).tolist())


def label_annotations(where: str, name: str, values: FloatArray, fs: float,
                      ) -> list[Annotation]:
    """One annotation (``<name> <value>``) per run of a non-zero value of a label or
    trigger signal sampled at ``fs``; 0 is "no label" (rest, no stimulus).

    >>> [(a.onset, a.duration, a.text) for a in
    ...  label_annotations("x", "label", np.array([0, 0, 3, 3, 3, 0, 1.0]), 2.0)]
    [(1.0, 1.5, 'label 3'), (3.0, 0.5, 'label 1')]
    """
    v = np.asarray(values, dtype=np.float64)
    if not np.array_equal(v, np.round(v)):
        raise RecordingError(f"{where} holds labels by its name, but not whole numbers; "
                             "rename it if it is a signal")
    starts, ends = _runs(v)
    return [Annotation(a / fs, (b - a) / fs, f"{name} {int(v[a])}")
            for a, b in zip(starts, ends, strict=True) if v[a] != 0]


#: label texts that mean "no label"
_NO_LABEL = frozenset({"", "0", "rest", "none", "null", "nan", "-"})


def label_columns(signals: SignalSet) -> list[str]:
    """The names of the label columns (or EDF signals) a file had, whose runs are its
    annotations ``<name> <value>``: a file may have one with no run at all (all rest)."""
    return [h for h in signals.meta.get("not_emg", ()) if h.lower() in _LABEL_NAMES]


def named_label_annotations(name: str, cells: list[str], fs: float) -> list[Annotation]:
    """:func:`label_annotations` of a label column holding names (``fist``, ``rest``):
    one annotation per run of one name; empty cells, ``0``, ``rest``, ``none`` are no
    label.

    >>> [(a.onset, a.duration, a.text) for a in
    ...  named_label_annotations("gesture", ["rest", "fist", "fist", "rest", "pinch"], 2.0)]
    [(0.5, 1.0, 'gesture fist'), (2.0, 0.5, 'gesture pinch')]
    """
    starts, ends = _runs(cells)
    return [Annotation(a / fs, (b - a) / fs, f"{name} {cells[a]}")
            for a, b in zip(starts, ends, strict=True) if cells[a].lower() not in _NO_LABEL]


def _check_counter(path: Path, name: str, i: int, values: FloatArray,
                   first_line: int = 2) -> list[tuple[int, int]]:
    """Where a row counter skips: ``(row, rows missing just before it)``, samples the file
    does not have (gaps); a counter that stands, steps back or is not whole numbers is not
    one: an error."""
    what = f"column {name!r}" if name else f"column {i + 1} (no name)"
    d = np.diff(values)
    if not np.array_equal(values, np.round(values)) or np.any(d < 1):
        k = int(np.argmax(d < 1)) if np.any(d < 1) else None
        where = f" (line {k + first_line + 1})" if k is not None else ""
        raise RecordingError(f"{path}: {what} is not a row counter{where}; name it if it is "
                             "a signal")
    return [(int(k) + 1, int(d[k]) - 1) for k in np.flatnonzero(d > 1)]


def _preamble(path: Path) -> tuple[int, str, list[str]]:
    """How many lines come before the data rows, the header line's text, and the lines of
    a text preamble before the header (else none).

    ``#`` lines at the top are comments (numpy's ``savetxt`` writes its header as one:
    ``# t,emg1,emg2``); when the data follow them directly, the last comment is the header
    with its ``#`` dropped; else the first line after them is, unless acquisition
    software wrote lines of its own first (``Application: EMGworks``, ``Date: …``,
    ``sampling_rate,2000``): then the header is the line just before the first row of
    numbers that names as many columns (the one before it when that is a row of units)."""
    comments: list[str] = []
    lines: list[str] = []
    try:
        with path.open(encoding=_csv_encoding(path)) as f:
            for line in f:
                if not lines and line.startswith("#"):
                    comments.append(line)
                    continue
                lines.append(line)
                if len(lines) >= _PREAMBLE_LINES:
                    break
    except (OSError, UnicodeDecodeError):
        return 1, "", []
    first = lines[0] if lines else ""
    cell = first.replace(";", ",").replace("\t", ",").split(",")[0].strip()
    if comments and _is_number(cell):
        return len(comments), comments[-1].lstrip("#").strip(), []
    header = _header_after_preamble(lines)
    if header is None:
        return len(comments) + 1, first, []
    return len(comments) + header + 1, lines[header], [x.strip() for x in lines[:header]
                                                       if x.strip()]


#: lines searched for a header after a text preamble
_PREAMBLE_LINES = 200


def _header_after_preamble(lines: list[str]) -> int | None:
    """The index of the header when lines of text come before it (see :func:`_preamble`),
    None when the first line is the header (or no row of numbers is found).

    >>> _header_after_preamble(["Application: EMGworks", "Date: 12/06/2026", "",
    ...                         "X[s],EMG 1 [V]", "0.000,1e-5"])
    3
    >>> _header_after_preamble(["time,emg1", "s,mV", "0,1"]) is None
    True
    """
    data = next((i for i, line in enumerate(lines) if line.strip() and _numeric_row(line)),
                None)
    if data is None or data <= 1:
        return None
    columns = _cell_count(lines[data])
    j = data - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j <= 0 or _cell_count(lines[j]) != columns:
        return None
    if _units_row(lines[j]) and _cell_count(lines[j - 1]) == columns:
        j -= 1
    return j or None


def _cell_count(line: str) -> int:
    return len(line.rstrip("\r\n").split(_delimiter(line)))


def _numeric_row(line: str) -> bool:
    """Every cell a number (with a decimal comma where the separator is not a comma) or
    left empty, and at least one a number."""
    sep = _delimiter(line)
    cells = [c.strip() for c in line.rstrip("\r\n").split(sep)]
    if sep != ",":
        cells = [c.replace(",", ".") for c in cells]
    return any(_is_number(c) for c in cells) and all(
        _is_number(c) or _is_missing(c) for c in cells)


#: units as a row under the names writes them
_UNIT_WORDS = frozenset({"s", "sec", "ms", "us", "µs", "v", "mv", "uv", "µv", "μv", "%",
                         "deg/s", "rad/s", "g", "mg", "m/s^2", "m/s²", "a.u.", "au", "counts",
                         "hz", "n", "nm", ""})


def _units_row(line: str) -> bool:
    cells = [c.strip().strip("[]()").lower() for c in line.rstrip("\r\n").split(
        _delimiter(line))]
    return any(cells) and all(c in _UNIT_WORDS for c in cells)


#: a sample rate written in a preamble line: ``sampling_rate,2000``, ``Rate: 1000 Hz``,
#: ``Sample Frequency (Hz) = 1925.926``, ``fs=500``
_RATE_LINE = re.compile(
    r"(?i)^\W*(?:sampl(?:e|ing)[ _]?(?:rate|frequency|freq)|frequency|rate|s?fs|srate)"
    r"\s*(?:[\[(]\s*hz\s*[\])])?\s*[:=,;\t ]\s*(\d+(?:\.\d+)?)\s*(k?hz)?\W*$")


def preamble_rate(lines: list[str]) -> tuple[float, str] | None:
    """The sample rate a preamble states, and the line that states it; None when none
    does, or its lines state different ones.

    >>> preamble_rate(["Application: EMGworks", "Sampling rate: 2 kHz"])
    (2000.0, 'Sampling rate: 2 kHz')
    >>> preamble_rate(["sampling_rate,1000", "units,uV"])
    (1000.0, 'sampling_rate,1000')
    >>> preamble_rate(["Date: 12/06/2026"]) is None
    True
    """
    found: dict[float, str] = {}
    for line in lines:
        m = _RATE_LINE.match(line)
        if m:
            rate = float(m[1]) * (1000.0 if (m[2] or "").lower() == "khz" else 1.0)
            found.setdefault(rate, line)
    if len(found) != 1:
        return None
    rate, line = next(iter(found.items()))
    return rate, line


def _csv_encoding(path: Path) -> str:
    """``utf-8-sig`` (a byte-order mark, spreadsheets' "CSV UTF-8", is not part of the
    header), or Windows-1252 for text that is not UTF-8: a spreadsheet's plain "CSV" saved
    on Windows in Western Europe, whose ``EMG [µV]`` has the byte 0xb5 that UTF-8 refuses
    (the file was refused with a codec error)."""
    try:
        with path.open("rb") as f:
            head = f.read(1 << 16)
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    except OSError:
        pass  # said by the reader that opens it
    return "utf-8-sig"


def _delimiter(header: str) -> str:
    """The header's separator: a comma, else a semicolon (spreadsheets set to a locale
    whose decimal mark is the comma write those), else a tab; a comma when unsure. A
    semicolon or tab beside commas that all sit between digits is the separator: the
    first line of a file without header written with decimal commas (``1,5;2,5``).

    >>> [_delimiter(h) for h in ("t,emg", "t;emg", "1,5;2,5", "a,b;c", "0,5;1.5")]
    [',', ';', ';', ',', ';']
    """
    decimal_commas = "," in header and _DIGITS_COMMA.fullmatch(header.strip()) is not None
    if decimal_commas:
        return next((d for d in (";", "\t") if d in header), ",")
    return next((d for d in (",", ";", "\t") if d in header), ",")


#: a line whose every comma sits between two digits
_DIGITS_COMMA = re.compile(r"[^,]*(?:(?<=\d),(?=\d)[^,]*)+")


#: a number written with a decimal comma (``-0,25``, ``1,5e-3``)
_COMMA_NUMBER = re.compile(r"\s*[-+]?\d*,\d+(?:[eE][-+]?\d+)?\s*")


def _decimal_comma(path: Path, skip: int, sep: str) -> bool:
    """Whether the cells' decimal mark is the comma: among the first data rows a cell is
    a number written with a comma and none with a point (a file that mixes them is read
    with the point, and its comma cells named), and the separator is not a comma — or it
    is, but the cells are quoted (``"0,001","-1,25"``: a spreadsheet's CSV in a
    comma-decimal locale with every cell in quotes), so a comma inside a cell is its own."""
    try:
        with path.open(encoding=_csv_encoding(path)) as f:
            lines = list(itertools.islice(f, skip, skip + 50))
    except (OSError, UnicodeDecodeError):
        return False
    if sep == ",":
        if not any('"' in line for line in lines):
            return False
        cells = [c for row in csv.reader(lines) for c in row]
    else:
        cells = [c for line in lines for c in line.split(sep)]
    return (any(_COMMA_NUMBER.fullmatch(c) for c in cells)
            and not any("." in c and _is_number(c) for c in cells))


def is_table_text(path: Path) -> bool:
    """A text file holding a table our CSV reader reads: a line of names (or numbers),
    after a program's preamble if any (:func:`_preamble`), and then a line of numbers
    only, as many, separated by commas, semicolons or tabs (a lab's ``.txt`` export); a
    folder's notes are not."""
    skip, header, _ = _preamble(path)
    try:
        with path.open(encoding=_csv_encoding(path)) as f:
            row = next(itertools.islice(f, skip, None), "").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return (bool(header.strip()) and bool(row) and _numeric_row(row)
            and _cell_count(row) == _cell_count(header))


#: from this size on, a CSV is parsed with pandas when it is installed (the ``csv`` extra):
#: its parser is ~5x faster than numpy's on a 2 kHz file, and importing it costs ~0.2 s,
#: which the faster parse repays from about this size (or at once when it is imported)
PANDAS_FROM_BYTES = 8_000_000


def _pandas_reader() -> Any | None:
    """pandas' ``read_csv`` when it may be used: installed, and 3.1 or newer, whose every
    float mode is a correctly rounded converter (the bits of ``float()``, as numpy's);
    older ones round some numbers differently, so they are not used."""
    try:
        import pandas  # costs ~0.2 s: imported for large files only
    except ImportError:
        return None
    # "3.1.1", "3.2.0rc1", "4.0rc0": the leading numbers (a version it cannot read: not used)
    found = re.match(r"(\d+)\.(\d+)", str(getattr(pandas, "__version__", "")))
    if found is None:
        return None
    return pandas.read_csv if (int(found[1]), int(found[2])) >= (3, 1) else None


def _parse_numbers(f: Any, sep: str, read_csv: Any | None,
                   decimal_comma: bool = False, blank_rows: bool = False) -> FloatArray:
    """The rows left in ``f`` as float64 (ValueError when a cell is not a number or a row
    is short): numpy's compiled reader (after :func:`parse_plain`, which reads plain
    decimals faster), or pandas' ``read_csv`` when given (where it pays:
    :data:`PANDAS_FROM_BYTES`). All give each cell's correctly rounded double, so the
    result does not depend on which ran (``tests/recording/test_csv_parsers.py``).
    ``decimal_comma``: the cells write ``0,25`` (the separator is not a comma);
    ``blank_rows``: a blank line between rows is a row (a missing sample), which these
    readers skip: such a text is declined (ValueError)."""
    if decimal_comma and read_csv is None:
        f = io.StringIO(f.read().replace(",", "."))
    if read_csv is None:
        # rows of plain decimals (what our export and most loggers write) in bulk, else
        # numpy's reader for all of it (exponents, spaces, blank lines, errors to name)
        start = f.tell()
        text = f.read()
        plain = parse_plain(text, sep)
        if plain is not None:
            return plain
        if blank_rows and _BLANK_LINE.search(text.strip()):
            raise ValueError("blank rows")
        f.seek(start)
        with warnings.catch_warnings():  # "no data": said by the caller in one clear line
            warnings.simplefilter("ignore", UserWarning)
            return np.asarray(np.loadtxt(f, delimiter=sep, comments=None, ndmin=2,
                                         dtype=np.float64), dtype=np.float64)
    try:
        # na_filter off: an empty cell is an error to name, not a NaN to analyse
        frame = read_csv(f, sep=sep, header=None, dtype=np.float64, na_filter=False,
                         engine="c", decimal="," if decimal_comma else ".",
                         skip_blank_lines=not blank_rows)
    except Exception as exc:  # pandas' ParserError and EmptyDataError are not ValueErrors
        raise ValueError(str(exc)) from None
    return np.ascontiguousarray(frame.to_numpy(dtype=np.float64))


def _read_fast(path: Path, skip: int, header_line: str, decimal_comma: bool = False,
               blank_rows: bool = False) -> tuple[list[str], FloatArray] | None:
    """The header (csv module) and the data rows (a compiled reader, the same doubles to
    the bit as a float() per cell) in one pass over the file; None when the reader refuses
    the rows (a bad or short row, a cell that is not a number, no rows): :func:`_read_rows`
    then reads the file cell by cell and names what is wrong. A 2 kHz CSV was read twice
    before, and the csv module's pass cost more than numpy's."""
    sep = _delimiter(header_line)
    first = next(csv.reader([header_line], delimiter=sep), None)
    if not first:
        return None
    try:
        large = "pandas" in sys.modules or path.stat().st_size >= PANDAS_FROM_BYTES
        with path.open(newline="", encoding=_csv_encoding(path)) as f:
            for _ in range(skip):
                f.readline()
            values = _parse_numbers(f, sep, _pandas_reader() if large else None,
                                    decimal_comma, blank_rows)
    except (OSError, UnicodeDecodeError, csv.Error, ValueError):
        return None
    header = [h.strip() for h in first]
    if values.ndim != 2 or values.shape[0] == 0 or values.shape[1] != len(header):
        return None
    return header, values


def _read_rows(path: Path, skip: int, header_line: str, decimal_comma: bool = False,
               ) -> tuple[list[str], list[list[str]]]:
    """The header and the data rows as text, cell by cell (decimal commas made points);
    a blank line between data rows is a row of empty cells (a missing sample where no
    time column tells; the caller drops them where one does), blank lines before the
    first and after the last are not rows."""
    sep = _delimiter(header_line)
    try:
        with path.open(newline="", encoding=_csv_encoding(path)) as f:
            for _ in range(skip):
                f.readline()
            rows = list(csv.reader(f, delimiter=sep))
        if decimal_comma:
            rows = [[c.replace(",", ".") for c in r] for r in rows]
    except FileNotFoundError:
        raise RecordingError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise RecordingError(f"{path}: not a text file: it holds a byte "
                             f"({exc.object[exc.start]:#04x}) that is no character in UTF-8 "
                             "nor in Windows-1252 (a binary file named .csv?)") from None
    except csv.Error as exc:
        why = ("it holds NUL bytes (a binary file named .csv?)" if "NUL" in str(exc)
               else str(exc))
        raise RecordingError(f"{path}: not a readable CSV: {why}") from None
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read CSV: {exc}") from None
    header = [h.strip() for h in next(csv.reader([header_line], delimiter=sep), [])]
    if not header:
        raise RecordingError(f"{path}: empty CSV file")
    filled = [i for i, r in enumerate(rows) if any(c.strip() for c in r)]
    body = ([r if any(c.strip() for c in r) else [""] * len(header)
             for r in rows[filled[0]:filled[-1] + 1]] if filled else [])
    if not body:
        raise RecordingError(f"{path}: CSV has a header but no data rows")
    if len(header) > 1 and not header[-1] and all(
            len(r) == len(header) and not r[-1].strip() for r in body):
        # a separator at the end of every line, as serial loggers print them: no column
        header, body = header[:-1], [r[:-1] for r in body]
    return header, body


#: a blank line between two lines of text
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")

#: a date or a clock time as loggers write their time stamps (2024-03-01, 10:00:00.001)
_CLOCK_TEXT = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}|\d{1,2}:\d{2}")


def _numbers(path: Path, header: list[str], body: list[list[str]],
             first_line: int = 2) -> FloatArray:
    """The data rows as floats, row by row (numpy's reader refused the file, see
    :func:`_read_fast`), so a bad row is named by its line (the first is ``first_line``)."""
    values = np.empty((len(body), len(header)))
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise RecordingError(f"{path}: line {i + first_line} has {len(row)} values, the "
                                 f"header {len(header)}")
        try:
            values[i] = [float(c) for c in row]
        except ValueError:
            if all(_is_number(c) or _is_missing(c) for c in row):
                # an empty cell, NA: a sample the file does not have (_check_finite)
                values[i] = [math.nan if _is_missing(c) else float(c) for c in row]
                continue
            clock = next((j for j, c in enumerate(row) if _time_scale(header[j]) is not None
                          and _CLOCK_TEXT.search(c)), None)
            if clock is not None:
                # a logger's wall-clock time stamps (2024-03-01 10:00:00.001): not seconds
                raise RecordingError(
                    f"{path}: line {i + first_line}: the time column {header[clock]!r} holds "
                    f"a date or clock time ({row[clock].strip()!r}), not seconds: write "
                    "seconds from the start (or milliseconds as time_ms), or remove the "
                    "column and give the sample rate with --fs") from None
            hint = ("; decimal commas are read only where cells are separated by "
                    "semicolons or tabs, and not mixed with decimal points"
                    if any("," in c for c in row) else "")
            raise RecordingError(f"{path}: line {i + first_line}: non-numeric value in "
                                 f"{row!r}{hint}"
                                 ) from None
    return values


def _is_missing(text: str) -> bool:
    """An empty cell or a spreadsheet's or R's word for a missing value (``NA``, ``#N/A``)."""
    return text.strip().lower() in _MISSING_TEXT or not text.strip()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_sidecar(path: Path) -> tuple[Annotation, ...]:
    if not path.exists():
        return ()
    regular_file(path, "events file", error=RecordingError)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        out = tuple(Annotation(float(r["onset"]), float(r["duration"]), str(r["text"]))
                    for r in rows)
    except (OSError, KeyError, ValueError, TypeError, UnicodeDecodeError, csv.Error) as exc:
        raise RecordingError(f"{path}: bad events file (want onset,duration,text): {exc}"
                             ) from None
    for i, a in enumerate(out):
        if not (math.isfinite(a.onset) and math.isfinite(a.duration)):
            raise RecordingError(f"{path}: line {i + 2}: onset and duration must be finite "
                                 f"numbers, got {a.onset}, {a.duration}")
    return out


def _signal_stream(label: str, typed_emg: bool) -> tuple[str, str]:
    """The stream of an EDF/BDF or WFDB signal and its channel name: ``labels`` for a trigger
    channel, ``""`` for a signal that is not ours (another EDF+ type; an untyped one when
    ``typed_emg``: some signals are typed ``EMG``)."""
    head, sep, rest = label.strip().partition(" ")
    if sep and head.lower() in STREAM_ORDER:
        return head.lower(), rest.strip()
    low = label.strip().lower()
    if low in _LABEL_NAMES:
        return "labels", label.strip()
    if head.lower() in _OTHER_EDF_TYPES:
        return "", label.strip()
    for key, stream in (("gyr", "gyro"), ("acc", "accel"), ("quat", "quat")):
        if key in low:
            return stream, label.strip()
    return ("" if typed_emg else "emg"), label.strip()


def _typed_emg(labels: Sequence[str]) -> bool:
    """Some signals are typed ``EMG …`` (EDF+'s convention): then only those are EMG."""
    return any(n.strip().lower().startswith("emg ") for n in labels)


def _edf_layout(head: bytes, size: int) -> tuple[int, int, int] | None:
    """``(header bytes, records the header counts, bytes a record)`` of an EDF/BDF file
    ``size`` bytes long that starts with ``head`` (its whole header); None where the header
    is not readable (the EDF reader then says what is wrong). The standard allows a record
    count of -1 while a recorder is still writing."""
    try:
        header = int(head[184:192].decode("ascii"))
        records = int(head[236:244].decode("ascii"))
        signals = int(head[252:256].decode("ascii"))
        at = 256 + signals * 216  # the signals' "samples in a data record" fields
        counts = [int(head[at + 8 * i:at + 8 * i + 8].decode("ascii"))
                  for i in range(signals)]
    except (ValueError, UnicodeDecodeError):
        return None
    width = 3 if head[:1] == b"\xff" else 2  # BDF: 24-bit samples
    if (signals <= 0 or header != 256 * (signals + 1) or len(head) < header
            or min(counts) < 0 or sum(counts) == 0 or size < header):
        return None
    return header, records, sum(counts) * width


def _whole_records(path: Path, folder: Path) -> tuple[Path, str | None]:
    """``path`` itself; or, where the file's data records are not what its header says (a
    recording cut short by a full disk or a dropped transfer, or one whose recorder never
    wrote the count), a copy in ``folder`` of its whole records with the count mended,
    and what was wrong. The EDF reader refuses such a file outright: every record it
    holds would be lost."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(256)
        signals = head[252:256].strip()
        needed = 256 * (int(signals) + 1) if len(head) == 256 and signals.isdigit() else 256
        head += f.read(needed - 256)
        if len(head) < needed:
            if head[:8] in (b"0       ", b"\xffBIOSEMI"):
                raise RecordingError(f"{path}: the file ends inside its header ({size} "
                                     f"bytes of {needed}); nothing to read")
            return path, None
        layout = _edf_layout(head, size)
        if layout is None:
            return path, None
        header, records, record = layout
        whole = (size - header) // record
        if records == whole and size == header + whole * record:
            return path, None
        if whole == 0:
            raise RecordingError(f"{path}: the file ends before its first whole data record "
                                 f"({size} bytes: a {header}-byte header, then records of "
                                 f"{record} bytes); nothing to read")
        keep = whole if records < 0 else min(whole, records)
        if records < 0:
            damage = (f"its header does not count its data records (a recording never "
                      f"closed); the {keep} whole records in the file were read")
        elif keep < records:
            damage = (f"truncated: {keep} of the {records} data records its header counts "
                      "are in the file; the rest is missing")
        else:
            damage = (f"{size - header - keep * record} bytes after its {records} data "
                      "records were left out")
        copy = folder / f"whole{path.suffix}"
        with copy.open("wb") as out:
            out.write(head[:236] + f"{keep:<8d}".encode("ascii") + head[244:header])
            f.seek(header)
            out.write(f.read(keep * record))
    return copy, damage


def load_edf(path: Path) -> SignalSet:
    import tempfile

    regular_file(path, "EDF/BDF file", error=RecordingError)  # a FIFO would block
    with tempfile.TemporaryDirectory(prefix="isofeedback-edf-") as folder:
        readable, damage = _whole_records(path, Path(folder))
        readable, pauses = _continuous_copy(path, readable, Path(folder))
        signals = _read_edf(path, readable, pauses)
    if damage is not None:
        signals.meta["damage"] = damage
    return signals


def _continuous_copy(path: Path, readable: Path, folder: Path,
                     ) -> tuple[Path, tuple[float, list[float]] | None]:
    """``readable`` itself for a continuous file; for an EDF+D / BDF+D file (a recording
    that paused between data records), a copy marked continuous whose records' time-keeping
    annotations run back to back (the EDF reader refuses a discontinuous file, and checks a
    continuous one's time-keeping), and the record duration and each record's own start
    (seconds from the file's start), so that the pauses become gaps
    (:func:`_pause_rows`). Other annotations keep their times: they are on the time line
    with the pauses."""
    with readable.open("rb") as f:
        head = f.read(256)
        if head[192:197] not in (b"EDF+D", b"BDF+D") or not head[252:256].strip().isdigit():
            return readable, None
        head += f.read(256 * int(head[252:256]))
        layout = _edf_layout(head, readable.stat().st_size)
        if layout is None:
            return readable, None
        header, records, record = layout
        signals = int(head[252:256])
        labels = [head[256 + 16 * i:256 + 16 * (i + 1)].decode("latin-1").strip()
                  for i in range(signals)]
        at = 256 + signals * 216
        counts = [int(head[at + 8 * i:at + 8 * i + 8]) for i in range(signals)]
        width = 3 if head[:1] == b"\xff" else 2
        k = next((i for i, label in enumerate(labels)
                  if label in ("EDF Annotations", "BDF Annotations")), None)
        if k is None:
            raise RecordingError(f"{path}: a discontinuous (+D) file without its annotation "
                                 "signal: its records cannot be placed in time")
        try:
            duration = float(head[244:252])
        except ValueError:
            return readable, None
        offset, size = sum(counts[:k]) * width, counts[k] * width
        copy = folder / f"continuous{path.suffix}"
        starts: list[float] = []
        f.seek(header)
        with copy.open("wb") as out:
            out.write(head[:192] + head[192:197].replace(b"+D", b"+C") + head[197:header])
            for r in range(records):
                data = bytearray(f.read(record))
                tal = bytes(data[offset:offset + size])
                stamp, sep, rest = tal.partition(b"\x14")
                try:
                    starts.append(float(stamp.decode("ascii")))
                except (UnicodeDecodeError, ValueError):
                    raise RecordingError(f"{path}: data record {r + 1} has no time-keeping "
                                         f"annotation ({stamp[:20]!r}): it cannot be placed "
                                         "in time") from None
                mended = f"+{r * duration:.6f}".rstrip("0").rstrip(".").encode() + sep + rest
                data[offset:offset + size] = mended[:size].ljust(size, b"\x00")
                out.write(data)
    return copy, (duration, starts)


def _pause_rows(path: Path, pauses: tuple[float, list[float]], fs: float, n: int,
                ) -> list[tuple[int, int]]:
    """Where a stream sampled at ``fs`` (``n`` rows read back to back) lacks rows between
    an EDF+D file's records: ``(row, rows missing just before it)``, for :func:`_with_gaps`."""
    duration, starts = pauses
    per_record = round(duration * fs)
    losses = []
    for r in range(1, len(starts)):
        missing = round((starts[r] - starts[r - 1] - duration) * fs)
        if missing < 0:
            raise RecordingError(f"{path}: data record {r + 1} starts at {starts[r]:g} s, "
                                 f"before record {r} ends: records overlap")
        if missing and r * per_record < n:
            losses.append((r * per_record, missing))
    return losses


def _read_edf(path: Path, readable: Path,
              pauses: tuple[float, list[float]] | None = None) -> SignalSet:
    """The EDF/BDF file ``readable`` (``path`` or its mended copy) as signals; messages
    name ``path``."""
    import pyedflib

    try:
        reader = pyedflib.EdfReader(str(readable))
    except OSError as exc:
        raise RecordingError(f"{path}: not a readable EDF/BDF file "
                             f"({str(exc).replace(str(readable), path.name)})") from None
    try:
        groups: dict[str, list[tuple[str, float, Any, str]]] = {}
        names = reader.getSignalLabels()
        typed_emg = _typed_emg(names)
        for i, label in enumerate(names):
            stream, channel = _signal_stream(label, typed_emg)
            groups.setdefault(stream, []).append(
                (channel, float(reader.getSampleFrequency(i)),
                 reader.readSignal(i, digital=stream == "labels"),
                 reader.getPhysicalDimension(i) or "a.u."))
        onsets, durations, texts = reader.readAnnotations()
        annotations = [Annotation(float(o), max(float(d), 0.0), str(t))
                       for o, d, t in zip(onsets, durations, texts, strict=True)]
        ends = {a.text[len(DATA_END):].strip(): a.onset for a in annotations
                if a.text.startswith(DATA_END)}
        annotations = [a for a in annotations if not a.text.startswith(DATA_END)]
        meta: dict[str, Any] = {"source_file": path.name, "patient": reader.getPatientCode(),
                                "start": reader.getStartdatetime().isoformat()}
    except Exception as exc:  # pyedflib raises assorted types on damaged files
        raise RecordingError(f"{path}: damaged EDF/BDF file ({exc})") from None
    finally:
        reader.close()
    bdf = path.suffix.lower() == ".bdf"
    for channel, rate, values, _ in groups.pop("labels", []):
        codes = np.asarray(values, dtype=np.int64)
        if bdf and channel.lower() == "status":  # BioSemi: triggers in the low 16 bits
            codes = codes & 0xFFFF
        annotations += label_annotations(f"{path}: signal {channel!r}", channel,
                                         codes.astype(np.float64), rate)
        meta.setdefault("not_emg", []).append(channel)
    meta.setdefault("not_emg", []).extend(c[0] for c in groups.pop("", []))
    if not meta["not_emg"]:
        del meta["not_emg"]
    if "emg" not in groups:
        skipped = f" (left out: {', '.join(meta['not_emg'])})" if "not_emg" in meta else ""
        raise RecordingError(f"{path}: no EMG signals found{skipped}")
    streams = {}
    for name in STREAM_ORDER:
        cols = groups.get(name)
        if not cols:
            continue
        rates = {c[1] for c in cols}
        for channel, rate, values, _ in cols:
            checks.number(rate, f"{name} {channel} sample rate", low=MIN_FS_HZ,
                          high=MAX_FS_HZ, where=str(path), error=RecordingError)
            if not np.isfinite(values).all():
                raise RecordingError(f"{path}: signal {name} {channel} holds non-finite "
                                     "values (a damaged physical range in its header)")
        if len(rates) > 1:
            raise RecordingError(f"{path}: {name} signals have different sample rates "
                                 f"{sorted(rates)}; export them at one rate")
        n = min(len(c[2]) for c in cols)
        if ends.get(name, 0.0) > 0.0:  # the last record's padding is not data
            n = min(n, round(ends[name] * cols[0][1]))
        data = np.column_stack([np.asarray(c[2][:n], dtype=np.float64) for c in cols])
        unit = cols[0][3]
        if name in _IMU_UNITS:  # in deg/s and g, whatever the file's dimension
            data *= np.array([_imu_factor(name, c[3], f"{path}: signal {name} {c[0]}")
                              for c in cols])
            unit = _UNITS[name]
        gaps: tuple[tuple[int, int], ...] = ()
        if pauses is not None:  # the recording paused: each record at its own time
            data, gaps = _with_gaps(data, _pause_rows(path, pauses, cols[0][1], n))
        streams[name] = Stream(name, cols[0][1], tuple(c[0] for c in cols), data, unit, gaps)
    if pauses is not None:
        meta["discontinuous"] = (f"an {'BDF' if bdf else 'EDF'}+D file (the recording "
                                 "paused): each data record at its own start time, the "
                                 "pauses gaps")
    return SignalSet(streams, tuple(sorted(annotations, key=lambda a: a.onset)), meta)


def is_signal_text(path: Path) -> bool:
    """A ``.txt`` file in one of the text formats read (a folder's notes are not data)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError:
        return False
    return first.startswith(TEXT_FORMATS)


def load_txt(path: Path) -> SignalSet:
    """The text formats of biosignal kits: OpenSignals (BITalino, biosignalsplux: a JSON
    header per device with its sampling rate, columns and sensor types, then tab-separated
    rows), BioSPPy's simple text (``# Sampling Rate (Hz):= …``, ``# Labels:= …``) and the
    OpenBCI GUI's raw files (:func:`_openbci`).

    In an OpenSignals file the channels typed ``EMG…`` are the EMG (all analog channels
    when none is typed: BITalino's ``RAW``); the sequence counter ``nSeq`` is checked for
    lost samples (it wraps at a power of two) and left out with the digital lines and the
    other sensors (ECG, EDA, ACC, …), which the report names."""
    regular_file(path, "text file", error=RecordingError)
    if _is_openbci(path):
        return _openbci(path)
    if (board := _brainflow_board(path)) is not None:
        return _brainflow(path, board)
    try:
        with path.open(encoding="utf-8", errors="strict") as f:
            head: list[str] = []
            for line in f:
                if not line.startswith("#"):
                    break
                head.append(line[1:].strip())
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot read it as text: {exc}") from None
    if not head or not ("# " + head[0]).startswith(TEXT_FORMATS):
        raise RecordingError(f"{path}: not a text format read here (the first line must be "
                             f"{' or '.join(repr(t) for t in TEXT_FORMATS)}); save the data "
                             "as CSV with a header row")
    values = _text_rows(path, comments="#")
    if head[0].startswith("OpenSignals"):
        return _opensignals(path, head, values)
    return _simple_text(path, head, values)


def _opensignals(path: Path, head: list[str], values: FloatArray) -> SignalSet:
    import json

    try:
        devices = next(json.loads(h) for h in head[1:] if h.startswith("{"))
        assert isinstance(devices, dict) and devices
    except (StopIteration, ValueError, AssertionError):
        raise RecordingError(f"{path}: OpenSignals header without its JSON line of devices"
                             ) from None
    columns: list[tuple[str, str, float]] = []  # (column name, sensor, rate)
    for name, dev in devices.items():
        try:
            cols = [str(c) for c in dev["column"]]
            rate = float(dev["sampling rate"])
            sensors = [str(x) for x in dev.get("sensor", [])]
        except (KeyError, TypeError, ValueError):
            raise RecordingError(f"{path}: device {name!r} in the header lacks 'column' or "
                                 "'sampling rate'") from None
        analog = [c for c in cols if c not in _OPENSIGNALS_DIGITAL]
        typed = dict(zip(analog, sensors, strict=False))
        columns += [(c, typed.get(c, ""), rate) for c in cols]
    if len(columns) != values.shape[1]:
        raise RecordingError(f"{path}: the header names {len(columns)} columns, the rows "
                             f"have {values.shape[1]}")
    rates = {r for _, _, r in columns}
    if len(rates) != 1:
        raise RecordingError(f"{path}: devices at different sampling rates {sorted(rates)}; "
                             "export them at one rate")
    fs = checks.number(rates.pop(), "the sampling rate", low=MIN_FS_HZ, high=MAX_FS_HZ,
                       where=str(path), error=RecordingError)
    any_emg = any(sensor.upper().startswith("EMG") for _, sensor, _ in columns)
    emg: list[int] = []
    not_emg: list[str] = []
    gaps: tuple[tuple[int, int], ...] = ()
    for i, (name, sensor, _) in enumerate(columns):
        if name == "nSeq":
            seq = values[:, i]
            top = float(seq.max()) if seq.size else 0.0  # counts modulo a power of two
            values, gaps = _with_gaps(values, _counter_losses(
                path, name, i, seq, 2 ** max(1, math.ceil(math.log2(top + 1))) if top > 0
                else 2))
        if name in _OPENSIGNALS_DIGITAL or name == "nSeq":
            continue
        if sensor.upper().startswith("EMG") or not any_emg:
            emg.append(i)
        else:
            not_emg.append(f"{name} ({sensor})" if sensor else name)
    if not emg:
        raise RecordingError(f"{path}: no analog channels")
    names = tuple(columns[i][0] for i in emg)
    meta: dict[str, Any] = {"source_file": path.name}
    if not_emg:
        meta["not_emg"] = not_emg
    stream = Stream("emg", fs, names, np.ascontiguousarray(values[:, emg]), "a.u.", gaps)
    return SignalSet({"emg": stream}, (), meta)


#: OpenSignals' digital lines (BITalino's inputs/outputs, biosignalsplux' DI)
_OPENSIGNALS_DIGITAL = frozenset({"nSeq", "I1", "I2", "O1", "O2", "DI", "DO"})


def _counter_losses(path: Path, name: str, i: int, seq: FloatArray, modulo: int,
                    step: int = 1) -> list[tuple[int, int]]:
    """Where a sample counter (OpenSignals' ``nSeq``: modulo 16 on a BITalino; OpenBCI's
    ``Sample Index``: modulo 256) skips: ``(row, samples lost just before it)``. It
    advances by ``step`` a row; a larger step is samples lost on the radio (losses of a
    whole turn of the counter cannot be seen). A column that steps otherwise in more than
    1 % of its rows is not such a counter (some boards' repeat for the samples of one radio
    packet): nothing is judged from it. A counter that stands or steps back is an error."""
    steps = np.mod(np.diff(seq), modulo)
    bad = np.flatnonzero(steps != step)
    if bad.size > 0.01 * steps.size:
        return []
    losses = []
    for k in bad:
        d = int(steps[k])
        if d == 0 or d % step:
            raise RecordingError(
                f"{path}: the sample counter {name} goes from {seq[k]:g} to {seq[k + 1]:g} "
                f"at data row {k + 2} (column {i + 1}): rows repeated or out of order")
        losses.append((int(k) + 1, d // step - 1))
    return losses


def _with_gaps(values: FloatArray, losses: list[tuple[int, int]],
               ) -> tuple[FloatArray, tuple[tuple[int, int], ...]]:
    """``values`` with zero rows where samples were lost (``losses``: ``(row, count)``),
    so that every row after a loss is at its time, and where those rows are (for
    :class:`Stream`'s ``gaps``: the pipeline is told of them, never fed the zeros).

    >>> v, gaps = _with_gaps(np.arange(4.0)[:, None], [(2, 3)])
    >>> v[:, 0].tolist(), gaps
    ([0.0, 1.0, 0.0, 0.0, 0.0, 2.0, 3.0], ((2, 3),))
    """
    if not losses:
        return values, ()
    pieces, gaps, done, shift = [], [], 0, 0
    for row, count in losses:
        pieces += [values[done:row], np.zeros((count, values.shape[1]))]
        gaps.append((row + shift, count))
        shift += count
        done = row
    pieces.append(values[done:])
    return np.concatenate(pieces), tuple(gaps)


def _text_rows(path: Path, **how: Any) -> FloatArray:
    """The numbers of a text format's rows (``how``: numpy ``loadtxt``'s options): at least
    two rows, every value finite, or one clear error."""
    try:
        with warnings.catch_warnings():  # "input contained no data": said below
            warnings.simplefilter("ignore", UserWarning)
            values = np.loadtxt(path, ndmin=2, dtype=np.float64, **how)
    except ValueError as exc:
        raise RecordingError(f"{path}: the rows are not numbers in columns: {exc}") from None
    if values.shape[0] < 2:
        raise RecordingError(f"{path}: no data rows")
    if not np.isfinite(values).all():
        raise RecordingError(f"{path}: holds non-finite values")
    return np.asarray(values, dtype=np.float64)


#: BrainFlow's rows (``DataFilter.write_file``, the OpenBCI GUI's ``BrainFlow-RAW_….csv``
#: since GUI 5): tab-separated, no header, the board's channels in its order (BrainFlow's
#: board descriptions): the counter, the EXG channels, the accelerometer's three, the
#: board's other columns, the clock, the marker. Per column count: the board, its EXG
#: channels, the rates it runs at (the first its default), its other columns
_BRAINFLOW_BOARDS: dict[int, tuple[str, int, tuple[float, ...], tuple[str, ...]]] = {
    24: ("Cyton", 8, (250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0),
         tuple(f"Other {k}" for k in range(7)) + tuple(f"Analog Channel {k}"
                                                        for k in range(3))),
    32: ("Cyton + Daisy", 16, (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0),
         tuple(f"Other {k}" for k in range(7)) + tuple(f"Analog Channel {k}"
                                                        for k in range(3))),
    15: ("Ganglion", 4, (200.0, 1600.0), tuple(f"Resistance {k}" for k in range(5))),
}
#: a BrainFlow timestamp: seconds since 1970, between 2001 and 2096
_UNIX_TIME = (1e9, 4e9)


def _brainflow_board(path: Path) -> int | None:
    """The column count of a BrainFlow file (:data:`_BRAINFLOW_BOARDS`), or None when the
    file is not one: its first line is that many tab-separated numbers, the first a sample
    counter (0–255), the last but one a time in seconds since 1970."""
    if not path.is_file():
        return None
    try:
        with path.open("rb") as f:
            line = f.readline(4096).decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None
    cells = line.strip().split("\t")
    if len(cells) not in _BRAINFLOW_BOARDS or not all(_is_number(c) for c in cells):
        return None
    first, stamp = float(cells[0]), float(cells[-2])
    if not (0.0 <= first <= 255.0 and first == int(first)
            and _UNIX_TIME[0] <= stamp <= _UNIX_TIME[1]):
        return None
    return len(cells)


def _brainflow(path: Path, columns: int) -> SignalSet:
    """A BrainFlow file (the OpenBCI GUI's ``BrainFlow-RAW_….csv``) of a Cyton, a Cyton +
    Daisy or a Ganglion, known by its column count: read as the GUI's own raw file
    (:func:`_openbci_signals`: EXG channels in µV, accelerometer in g, markers, samples
    lost by the counter). It states no rate: the ``Timestamp`` column (the computer's
    clock at each sample's arrival, in bursts) gives it, taken as the board's rate it is
    within 5 % of (Cyton 250 Hz by default, a Daisy 125, a Ganglion 200); one clear error
    when it is none of the board's."""
    board, exg, rates, others = _BRAINFLOW_BOARDS[columns]
    names = ["Sample Index", *(f"EXG Channel {k}" for k in range(exg)),
             *(f"Accel Channel {k}" for k in range(3)), *others, "Timestamp",
             "Marker Channel"]
    assert len(names) == columns
    values = _text_rows(path, delimiter="\t", encoding="ascii")
    if values.shape[1] != columns:
        raise RecordingError(f"{path}: a BrainFlow file of {columns} columns "
                             f"({board}) whose rows hold {values.shape[1]}")
    stamps = values[:, columns - 2]
    span = float(stamps[-1] - stamps[0])
    if span <= 0:
        raise RecordingError(f"{path}: its Timestamp column does not advance: the sample "
                             "rate cannot be told")
    measured = (values.shape[0] - 1) / span  # (a few samples lost on the radio: < 5 %)
    fs = next((r for r in rates if abs(measured - r) <= 0.05 * r), None)
    if fs is None:
        raise RecordingError(
            f"{path}: a BrainFlow file of a {board}, whose timestamps say "
            f"{measured:.1f} samples a second, none of the board's rates "
            f"({', '.join(f'{r:g}' for r in rates)} Hz): the computer's clock jumped or "
            "samples were dropped, and the file states no rate of its own")
    meta: dict[str, Any] = {"source_file": path.name, "device": f"OpenBCI {board}",
                            "rate_from": f"the sample rate, {fs:g} Hz ({board}), from the "
                                         f"timestamps ({measured:.2f} samples a second)"}
    return _openbci_signals(path, names, list(range(columns)), values, fs, meta)


#: a Shimmer column: ``Shimmer_<id>_<signal>_<CAL|RAW|UNCAL>`` (Consensys, ShimmerCapture)
_SHIMMER_NAME = re.compile(r"Shimmer_([0-9A-Za-z]{4})_(.+?)(?:_(?:CAL|UNCAL|RAW))?$")
#: its time columns, best first: the device's clock as Unix time, then since the start
_SHIMMER_TIMES = ("timestamp_unix", "timestampsync_unix", "timestamp", "timestampsync")


def _shimmer_layout(path: Path) -> tuple[int, str] | None:
    """Where a Shimmer export's names are (lines before them) and its separator, or None
    when the file is not one: Consensys writes ``"sep=<tab>"`` (for spreadsheets), a row
    of ``Shimmer_<id>_<signal>_CAL`` names, a row of ``CAL``/``RAW``, a row of units."""
    if not path.is_file():
        return None
    try:
        with path.open(encoding="utf-8-sig", errors="strict") as f:
            lines = [f.readline() for _ in range(4)]
    except (OSError, UnicodeDecodeError):
        return None
    skip = 1 if lines[0].strip().strip('"').lower().startswith("sep=") else 0
    names = lines[skip].rstrip("\r\n")
    sep = "\t" if "\t" in names else ","
    cells = [c.strip().strip('"') for c in names.split(sep) if c.strip()]
    if len(cells) < 2 or not all(_SHIMMER_NAME.match(c) for c in cells):
        return None
    return skip, sep


def _shimmer(path: Path, skip: int, sep: str) -> SignalSet:
    """A Shimmer export (Consensys, ShimmerCapture; a Shimmer3 EXG's EMG): columns named
    ``Shimmer_<id>_<signal>_CAL`` over a row of ``CAL``/``RAW`` and a row of units. The
    ``EXG…``/``EMG…`` channels are the EMG (``…_Status`` bytes are not); the time is the
    device's own clock, ``Timestamp_Unix`` in ms (else another timestamp), its rate and
    any samples lost read from it as from any time column; ``Accel_…_X/Y/Z`` and
    ``Gyro_X/Y/Z`` in their units are the motion sensor; the rest (battery, pressure, the
    formatted times …) is named as left out."""
    with path.open(encoding="utf-8-sig") as f:
        head = [f.readline() for _ in range(skip + 4)]  # names, CAL, units, a first row
    names = [c.strip().strip('"') for c in head[skip].rstrip("\r\n").split(sep)]
    units = [c.strip().strip('"') for c in head[skip + 2].rstrip("\r\n").split(sep)]
    units += [""] * (len(names) - len(units))
    first_line = skip + 4
    cells = head[skip + 3].rstrip("\r\n").split(sep)
    if not any(_is_number(c) for c in cells):
        raise RecordingError(f"{path}: a Shimmer export without data rows")
    used = [k for k, n in enumerate(names) if n and k < len(cells) and _is_number(cells[k])]
    values = _text_rows(path, delimiter=sep, skiprows=skip + 3, usecols=used,
                        encoding="utf-8-sig")
    col = {names[k]: j for j, k in enumerate(used)}
    signal = {n: (m[1], m[2]) for n in col if (m := _SHIMMER_NAME.match(n))}
    by_time = {sig.lower(): n for n, (_, sig) in signal.items()}
    time_name = next((by_time[t] for t in _SHIMMER_TIMES if t in by_time), None)
    if time_name is None:
        raise RecordingError(f"{path}: a Shimmer export without a Timestamp column")
    scale = _TIME_UNITS.get(units[names.index(time_name)].lower(), 1e-3)  # Shimmer: ms
    rate, losses, jitter = time_axis(path, values[:, col[time_name]] * scale, first_line)
    emg = [n for n, (_, sig) in signal.items()
           if re.match(r"(?i)(EXG|EMG)", sig) and "status" not in sig.lower()]
    if not emg:
        raise RecordingError(f"{path}: a Shimmer export without EXG or EMG channels "
                             f"(columns: {', '.join(sig for _, sig in signal.values())})")
    values, gaps = _with_gaps(values, losses)
    emg_units = {units[names.index(n)] for n in emg}
    streams = {"emg": Stream("emg", rate, tuple(signal[n][1] for n in emg),
                             np.ascontiguousarray(values[:, [col[n] for n in emg]]),
                             emg_units.pop() if len(emg_units) == 1 else "a.u.", gaps)}
    motion: list[str] = []
    for stream, pattern in (("accel", r"(?i)accel.*_([xyz])$"), ("gyro", r"(?i)gyro.*_([xyz])$")):
        axes: dict[str, str] = {}  # (the first of each axis: Accel_LN before Accel_WR)
        for n, (_, sig) in signal.items():
            if m := re.match(pattern, sig):
                axes.setdefault(m[1].lower(), n)
        if set(axes) != {"x", "y", "z"}:
            continue
        xyz = [axes[a] for a in "xyz"]
        unit = units[names.index(xyz[0])].replace("(", "").replace(")", "")
        factor = _imu_factor(stream, unit, f"{path}: column {xyz[0]!r}")
        streams[stream] = Stream(stream, rate, ("x", "y", "z"), np.ascontiguousarray(
            values[:, [col[n] for n in xyz]] * factor), _UNITS[stream], gaps)
        motion += xyz
    meta: dict[str, Any] = {"source_file": path.name,
                            "device": "Shimmer " + next(iter(signal.values()))[0]}
    not_emg = [signal[n][1] for n in col if n not in emg and n not in motion
               and n != time_name]
    not_emg += [n for n in names if n and n not in col]  # text columns (formatted times)
    if not_emg:
        meta["not_emg"] = not_emg
    if jitter is not None:
        meta["time_jitter"] = (f"the device's clock strays up to {jitter * 1000:.3g} ms "
                               f"from an even {rate:g} Hz; read as {rate:g} Hz")
    return SignalSet(streams, (), meta)


def _is_openbci(path: Path) -> bool:
    """A file the OpenBCI GUI wrote (``OpenBCI-RAW-….txt``; sometimes renamed ``.csv``).
    Only a regular file is opened: a FIFO would block (the reader then refuses it)."""
    if not path.is_file():
        return False
    try:
        with path.open("rb") as f:
            return f.read(len(_OPENBCI)) == _OPENBCI
    except OSError:
        return False


_OPENBCI = b"%OpenBCI Raw"
#: the OpenBCI GUI's names for its columns of EMG and of the accelerometer
_OPENBCI_EXG = re.compile(r"(?:EXG|EEG) Channel (\d+)$", re.IGNORECASE)
_OPENBCI_ACCEL = re.compile(r"Accel Channel ([012])$", re.IGNORECASE)


def _openbci(path: Path) -> SignalSet:
    """The OpenBCI GUI's raw file (Cyton, Cyton + Daisy, Ganglion): ``%`` lines with the
    sample rate, a row of column names, then comma-separated rows. ``EXG Channel k`` is
    the EMG (µV); ``Accel Channel 0–2`` the accelerometer (g) where every row holds a
    reading (a board that sends it only every few samples writes zeros between: left out);
    ``Marker Channel`` becomes annotations; ``Sample Index`` is checked for samples lost
    on the radio (it advances by one, or by two with a Daisy, and wraps). The
    ``Timestamp`` column is the computer's clock when each radio packet arrived, in bursts:
    times come from the sample rate. Older GUI files (``%OpenBCI Raw EEG Data``, no row of
    names) are read by their channel count."""
    try:
        with path.open(encoding="utf-8", errors="strict") as f:
            head = []
            first = ""
            for line in f:
                if not line.startswith("%"):
                    first = line
                    break
                head.append(line[1:].strip())
            second = f.readline()
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot read it as text: {exc}") from None
    keys = {k.strip().lower(): v.strip() for k, _, v in (h.partition("=") for h in head)}
    if "sample rate" not in keys:
        raise RecordingError(f"{path}: an OpenBCI file without its '%Sample Rate = … Hz' "
                             "line")
    rate = re.fullmatch(r"([0-9]+(?:\.[0-9]*)?)\s*(?:Hz)?", keys["sample rate"])
    if rate is None:
        raise RecordingError(f"{path}: its line '%Sample Rate = {keys['sample rate']}' "
                             "holds no rate in Hz")
    fs = checks.number(float(rate[1]), "the sampling rate", low=MIN_FS_HZ, high=MAX_FS_HZ,
                       where=str(path), error=RecordingError)
    named = bool(first.strip()) and not _is_number(first.split(",")[0])
    if named:
        names = [c.strip() for c in first.split(",")]
        sample = second
    else:  # GUI 4: index, the channels, the accelerometer, then the clock
        try:
            n = int(keys.get("number of channels", ""))
        except ValueError:
            raise RecordingError(f"{path}: an OpenBCI file with neither a row of column "
                                 "names nor a '%Number of channels = …' line") from None
        names = ["Sample Index", *(f"EXG Channel {k}" for k in range(n)),
                 *(f"Accel Channel {k}" for k in range(3))]
        sample = first
    cells = sample.split(",")
    names += [f"column {k + 1}" for k in range(len(names), len(cells))]
    numeric = [k for k, c in enumerate(cells[:len(names)]) if _is_number(c)]
    values = _text_rows(path, delimiter=",", comments="%",
                        skiprows=len(head) + int(named),  # counts the % lines
                        usecols=numeric, encoding="utf-8")
    meta: dict[str, Any] = {"source_file": path.name}
    if keys.get("board"):
        meta["device"] = keys["board"].rpartition("$")[2]
    return _openbci_signals(path, names, numeric, values, fs, meta)


def _openbci_signals(path: Path, names: list[str], numeric: list[int], values: FloatArray,
                     fs: float, meta: dict[str, Any]) -> SignalSet:
    """The signals of an OpenBCI GUI file's rows (``values``: the columns ``numeric`` of
    ``names``, in the GUI's names): EMG, accelerometer, markers, lost samples."""
    col = {names[k]: j for j, k in enumerate(numeric)}
    emg = [(names[k], j) for j, k in enumerate(numeric) if _OPENBCI_EXG.match(names[k])]
    if not emg:
        raise RecordingError(f"{path}: no 'EXG Channel' columns")
    index = col.get("Sample Index")
    gaps: tuple[tuple[int, int], ...] = ()
    if index is not None:
        seq = values[:, index]
        steps = np.diff(seq)
        step = int(np.median(steps[steps > 0])) if (steps > 0).any() else 1
        values, gaps = _with_gaps(values, _counter_losses(
            path, "Sample Index", numeric[index], seq, int(seq.max()) + step, step))
    streams = {"emg": Stream("emg", fs, tuple(n for n, _ in emg),
                             np.ascontiguousarray(values[:, [j for _, j in emg]]), "uV", gaps)}
    accel = sorted((int(m[1]), j) for j, k in enumerate(numeric)
                   if (m := _OPENBCI_ACCEL.match(names[k])))
    not_emg = []
    if [a for a, _ in accel] == [0, 1, 2]:
        xyz = values[:, [j for _, j in accel]]
        held = np.ones(len(xyz), dtype=bool)  # the rows of lost samples are not readings
        for row, count in gaps:
            held[row:row + count] = False
        if (xyz[held] != 0.0).any(axis=1).all():
            streams["accel"] = Stream("accel", fs, ("x", "y", "z"),
                                      np.ascontiguousarray(xyz), "g", gaps)
        else:
            not_emg.append("Accel Channel 0-2 (zeros between readings)")
    annotations: list[Annotation] = []
    marker = col.get("Marker Channel")
    if marker is not None:
        annotations = label_annotations(f"{path}: column 'Marker Channel'", "marker",
                                        values[:, marker], fs)
    used = {"Sample Index", "Marker Channel", *(n for n, _ in emg)}
    for name in names:  # the accelerometer is named above when left out
        if name not in used and not _OPENBCI_ACCEL.match(name) and name not in not_emg:
            not_emg.append(name)
    if not_emg:
        meta["not_emg"] = not_emg
    return SignalSet(streams, tuple(annotations), meta)


def _simple_text(path: Path, head: list[str], values: FloatArray) -> SignalSet:
    keys = {}
    for h in head[1:]:
        key, sep, value = h.partition(":=")
        if sep:
            keys[key.strip().lower()] = value.strip()
    try:
        fs = float(keys["sampling rate (hz)"])
    except (KeyError, ValueError):
        raise RecordingError(f"{path}: no '# Sampling Rate (Hz):= …' line in its header"
                             ) from None
    fs = checks.number(fs, "the sampling rate", low=MIN_FS_HZ, high=MAX_FS_HZ,
                       where=str(path), error=RecordingError)
    labels = keys.get("labels", "").replace(",", "\t").split("\t")
    labels = [x.strip() for x in labels if x.strip()]
    n = values.shape[1]
    names = tuple(labels) if len(labels) == n else tuple(f"emg{j + 1}" for j in range(n))
    stream = Stream("emg", fs, names, np.ascontiguousarray(values), "a.u.")
    return SignalSet({"emg": stream}, (), {"source_file": path.name})


@_missing_become_gaps
def load_wfdb(path: Path) -> SignalSet:
    """A PhysioNet WFDB record (its ``.hea`` header and the signal files it names, read by
    the ``wfdb`` package, extra ``wfdb``) with its ``atr`` annotations if present. Signals
    are sorted like EDF's (typed ``EMG …`` first; ECG, EEG, respiration … left out)."""
    regular_file(path, "WFDB header", error=RecordingError)
    wfdb = _optional(path, "wfdb", "WFDB records", "wfdb")
    name = str(path.with_suffix(""))
    try:
        with warnings.catch_warnings():  # the package's own deprecations, not the data's
            warnings.filterwarnings("ignore", module="wfdb")
            record = wfdb.rdrecord(name, physical=True)
    except Exception as exc:  # wfdb raises assorted types on damaged records
        raise RecordingError(f"{path}: not a readable WFDB record ({exc})") from None
    signal = getattr(record, "p_signal", None)
    if signal is None:
        raise RecordingError(f"{path}: a multi-segment record of varying layout; merge its "
                             "segments first")
    values = np.asarray(signal, dtype=np.float64)
    labels = [str(n) for n in (record.sig_name or [])]
    units = [str(u) for u in (record.units or [])] + ["a.u."] * len(labels)
    fs = checks.number(float(record.fs or 0.0), "the sampling rate", low=MIN_FS_HZ,
                       high=MAX_FS_HZ, where=str(path), error=RecordingError)
    if values.ndim != 2 or values.shape[1] != len(labels) or values.shape[0] < 2:
        raise RecordingError(f"{path}: no samples")
    typed_emg = _typed_emg(labels)
    emg: list[int] = []
    not_emg: list[str] = []
    for i, label in enumerate(labels):
        if _signal_stream(label, typed_emg)[0] == "emg":
            emg.append(i)
        else:
            not_emg.append(label)
    if not emg:
        raise RecordingError(f"{path}: no EMG signals found (left out: {', '.join(not_emg)})")
    data = values[:, emg]  # missing samples (NaN) become gaps (load_foreign)
    annotations: list[Annotation] = []
    if path.with_suffix(".atr").exists():
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", module="wfdb")
                ann = wfdb.rdann(name, "atr")
        except Exception as exc:
            raise RecordingError(f"{path.with_suffix('.atr')}: damaged annotations ({exc})"
                                 ) from None
        notes = list(ann.aux_note or [""] * len(ann.sample))
        for sample, symbol, note in zip(ann.sample, ann.symbol, notes, strict=False):
            text = str(note).strip("\x00 ") or str(symbol)
            annotations.append(Annotation(float(sample) / fs, 0.0, text))
    meta: dict[str, Any] = {"source_file": path.name}
    if not_emg:
        meta["not_emg"] = not_emg
    emg_stream = Stream("emg", fs, tuple(labels[i] for i in emg), np.ascontiguousarray(data),
                        units[emg[0]])
    return SignalSet({"emg": emg_stream}, tuple(annotations), meta)


def _bids_channel_types(path: Path) -> dict[str, str]:
    """The channel types a BIDS dataset states beside a recording (``sub-01_task-x_emg.vhdr``
    → ``sub-01_task-x_channels.tsv``: columns ``name`` and ``type``, EMG, ECG, MISC …),
    by name; empty when there is no such file or it cannot be read."""
    stem, sep, _ = path.stem.rpartition("_")
    sidecar = path.with_name(f"{stem}_channels.tsv") if sep else None
    if sidecar is None or not sidecar.is_file():
        return {}
    try:
        rows = list(csv.reader(sidecar.read_text(encoding="utf-8-sig").splitlines(),
                               delimiter="\t"))
    except (OSError, UnicodeDecodeError):
        return {}
    if not rows or "name" not in rows[0] or "type" not in rows[0]:
        return {}
    name, kind = rows[0].index("name"), rows[0].index("type")
    return {r[name]: r[kind].strip().upper() for r in rows[1:] if len(r) > max(name, kind)}


def load_brainvision(path: Path) -> SignalSet:
    """A BrainVision recording (``.vhdr`` with its ``.eeg`` and ``.vmrk``:
    :mod:`.brainvision`; Brain Products' ExG amplifiers, BIDS datasets). The EMG: the
    channels a BIDS ``channels.tsv`` beside it types ``EMG``, else those whose name says
    EMG, else every channel not named as another signal (ECG, EOG …, as in EDF); markers
    become annotations."""
    from isofeedback.recording.brainvision import read_brainvision

    regular_file(path, "BrainVision header", error=RecordingError)
    bv = read_brainvision(path)
    fs = checks.number(bv.fs, "the sampling rate", low=MIN_FS_HZ, high=MAX_FS_HZ,
                       where=str(path), error=RecordingError)
    types = _bids_channel_types(path)
    if types and any(types.get(n) == "EMG" for n in bv.names):
        emg = [i for i, n in enumerate(bv.names) if types.get(n) == "EMG"]
    elif any("emg" in n.lower() for n in bv.names):
        emg = [i for i, n in enumerate(bv.names) if "emg" in n.lower()]
    else:
        typed = _typed_emg(bv.names)
        emg = [i for i, n in enumerate(bv.names) if _signal_stream(n, typed)[0] == "emg"]
    if not emg:
        raise RecordingError(f"{path}: no EMG channels (channels: {', '.join(bv.names)})")
    units = {bv.units[i] for i in emg}
    stream = Stream("emg", fs, tuple(bv.names[i] for i in emg),
                    np.ascontiguousarray(bv.data[:, emg]),
                    units.pop() if len(units) == 1 else "a.u.")
    annotations = tuple(Annotation(at / fs, size / fs if size > 1 else 0.0, text)
                        for at, size, text in bv.markers)
    meta: dict[str, Any] = {"source_file": path.name}
    not_emg = [n for i, n in enumerate(bv.names) if i not in emg]
    if not_emg:
        meta["not_emg"] = not_emg
    return SignalSet({"emg": stream}, annotations, meta)


#: a force plate's analog channel in a C3D file (``Fx1``, ``Mz``, ``Force.Fz2`` …): not EMG
_FORCE_PLATE = re.compile(r"(?i)(?:.*\.)?(?:f|m|cop)[xyz]\d*$")


def _c3d_strings(reader: Any, name: str) -> list[str]:
    """A C3D parameter's strings (``ANALOG:UNITS``, ``EVENT:LABELS``), [] when absent."""
    param = reader.get(name)
    if param is None:
        return []
    try:
        return [str(v).strip() for v in param.string_array.reshape(-1)]
    except Exception:  # a parameter of another type than the standard's
        return []


def load_c3d(path: Path) -> SignalSet:
    """A C3D file (motion capture: Vicon, Qualisys, Motion Analysis … record EMG as analog
    channels beside the markers; read with the ``c3d`` package, extra ``c3d``). The EMG:
    the analog channels whose label says EMG, else every analog channel but a force
    plate's (``Fx1`` … ``Mz2``) and those named as another signal, at the analog rate, in
    the file's units; the trial's events (``EVENT:LABELS``, ``EVENT:TIMES``) become
    annotations from the first frame; markers' trajectories are left out."""
    regular_file(path, "C3D file", error=RecordingError)
    c3d = _optional(path, "c3d", "C3D files", "c3d")
    try:
        with path.open("rb") as handle:
            reader = c3d.Reader(handle)
            labels = [str(n).strip() for n in reader.analog_labels]
            blocks = [np.asarray(a, dtype=np.float64) for _, _, a in reader.read_frames()]
            units = _c3d_strings(reader, "ANALOG:UNITS")
            events = _c3d_strings(reader, "EVENT:LABELS")
            times = reader.get("EVENT:TIMES")
            first = float(reader.first_frame - 1) / float(reader.point_rate or 1.0)
            fs = float(reader.analog_rate)
    except RecordingError:
        raise
    except Exception as exc:  # the package raises assorted types on damaged files
        raise RecordingError(f"{path}: not a readable C3D file ({exc})") from None
    if not labels or not blocks or blocks[0].size == 0:
        raise RecordingError(f"{path}: no analog channels (EMG is recorded as analog "
                             "channels beside the markers)")
    fs = checks.number(fs, "the analog rate", low=MIN_FS_HZ, high=MAX_FS_HZ, where=str(path),
                       error=RecordingError)
    data = np.concatenate([b.T for b in blocks])  # (samples, channels)
    said = [i for i, n in enumerate(labels) if "emg" in n.lower()]
    emg = said or [i for i, n in enumerate(labels)
                   if not _FORCE_PLATE.match(n) and not _other_signal(n)]
    if not emg:
        raise RecordingError(f"{path}: no EMG among the analog channels "
                             f"({', '.join(labels)})")
    kinds = {units[i] for i in emg if i < len(units) and units[i]}
    stream = Stream("emg", fs, tuple(labels[i] for i in emg),
                    np.ascontiguousarray(data[:, emg]),
                    kinds.pop() if len(kinds) == 1 else "a.u.")
    annotations: list[Annotation] = []
    if events and times is not None:
        try:
            t = np.asarray(times.float_array, dtype=np.float64).reshape(-1, 2)
        except Exception:  # not the standard's (minutes, seconds) pairs
            t = np.zeros((0, 2))
        contexts = _c3d_strings(reader, "EVENT:CONTEXTS") + [""] * len(events)
        for k, (label, (minutes, seconds)) in enumerate(zip(events, t, strict=False)):
            onset = 60.0 * float(minutes) + float(seconds) - first
            if 0.0 <= onset <= data.shape[0] / fs:
                text = f"{contexts[k]} {label}".strip()
                annotations.append(Annotation(onset, 0.0, text))
    meta: dict[str, Any] = {"source_file": path.name}
    not_emg = [n for i, n in enumerate(labels) if i not in emg]
    if not_emg:
        meta["not_emg"] = not_emg
    return SignalSet({"emg": stream}, tuple(sorted(annotations, key=lambda a: a.onset)),
                     meta)


#: names of a MATLAB file's variable (or struct field) that holds the sample rate
_MAT_RATE_NAMES = frozenset({"fs", "srate", "sfreq", "fsamp", "sr", "rate", "samplerate",
                             "sample_rate", "samplingrate", "sampling_rate", "samplingfreq",
                             "sampling_frequency", "samplingfrequency", "frequency", "freq"})
#: names that hold the EMG when several arrays could (else the largest array)
_MAT_EMG_NAMES = ("emg", "channeldata", "data", "signal", "signals", "x")


def _mat_variables(node: Any, prefix: str = "") -> dict[str, Any]:
    """Every variable of a loaded MATLAB file by its name, a struct's fields as
    ``struct.field`` (a 1×1 struct, as MATLAB saves one); MATLAB's own keys left out."""
    out: dict[str, Any] = {}
    items = (node.items() if isinstance(node, dict) else
             ((k, node[k]) for k in (node.dtype.names or ())))
    for key, value in items:
        if key.startswith("__"):
            continue
        name = f"{prefix}{key}"
        v = value
        while isinstance(v, np.ndarray) and v.dtype == object and v.size == 1:
            v = v.reshape(-1)[0]  # a cell or an object wrapper around one value
        if isinstance(v, np.ndarray) and v.dtype.names and v.size == 1:
            out.update(_mat_variables(v.reshape(-1)[0], f"{name}."))
        else:
            out[name] = v
    return out


#: MATLAB classes of numeric arrays, as a 7.3 file names them (``MATLAB_class``)
_MAT73_NUMERIC = frozenset({"double", "single", "int8", "uint8", "int16", "uint16", "int32",
                            "uint32", "int64", "uint64", "logical"})


def _mat73_variables(path: Path) -> dict[str, Any]:
    """The variables of a MATLAB 7.3 file (HDF5, read with h5py) as :func:`_mat_variables`
    gives a v7 file's: numeric arrays in MATLAB's shape (HDF5 keeps them transposed, rows
    and columns swapped), a struct's fields as ``struct.field``; text, cells, sparse and
    complex arrays, and MATLAB's own groups (``#refs#``) left out."""
    h5py = _optional(path, "h5py", "a MATLAB 7.3 (HDF5) file", "matlab",
                     "; or save it with save(..., '-v7') or export CSV")
    out: dict[str, Any] = {}

    def walk(group: Any, prefix: str) -> None:
        for key in group:
            if key.startswith("#"):
                continue
            item = group[key]
            kind = item.attrs.get("MATLAB_class", b"")
            kind = kind.decode("ascii", "replace") if isinstance(kind, bytes) else str(kind)
            if isinstance(item, h5py.Group):
                if kind == "struct":
                    walk(item, f"{prefix}{key}.")
                continue
            if (kind not in _MAT73_NUMERIC or item.attrs.get("MATLAB_empty", 0)
                    or item.dtype.kind not in "iufb"):
                continue
            data = np.asarray(item[()])
            out[f"{prefix}{key}"] = data.T if data.ndim == 2 else data

    try:
        with h5py.File(path, "r") as f:
            walk(f, "")
    except RecordingError:
        raise
    except Exception as exc:  # h5py raises assorted types on damaged files
        raise RecordingError(f"{path}: not a readable MATLAB 7.3 file ({exc})") from None
    return out


@_missing_become_gaps
def load_mat(path: Path, fs: float | None = None) -> SignalSet:
    """A MATLAB ``.mat`` file (v4–v7 read by scipy; 7.3, which is HDF5, by h5py, extra
    ``matlab``): the EMG is the 2-D numeric array named ``emg`` (any case; also
    ``channelData``, ``data``, ``signal``, in a struct too: ``EMG.channelData``), else the
    largest one, samples along its longer side; the rate is a scalar named ``fs``,
    ``srate``, ``frequency`` … or ``--fs``. Label variables (``stimulus``, ``restimulus``,
    ``repetition`` … as Ninapro ships them) become annotations; other arrays are left out
    and named."""
    import scipy.io

    regular_file(path, "MATLAB file", error=RecordingError)
    try:
        variables = _mat_variables(scipy.io.loadmat(str(path), squeeze_me=False))
    except NotImplementedError:  # scipy's answer to a 7.3 file
        variables = _mat73_variables(path)
    except Exception as exc:  # scipy raises assorted types on damaged files
        raise RecordingError(f"{path}: not a readable MATLAB file ({exc})") from None
    arrays = {k: np.asarray(v) for k, v in variables.items()
              if isinstance(v, np.ndarray) and v.dtype.kind in "iuf" and v.ndim == 2
              and min(v.shape) >= 1 and max(v.shape) >= 2}
    rates = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in variables.items()
             if k.rpartition(".")[2].lower() in _MAT_RATE_NAMES
             and isinstance(v, (np.ndarray, int, float)) and np.asarray(v).size == 1
             and np.asarray(v).dtype.kind in "iuf"}
    signals = {k: a for k, a in arrays.items() if k.rpartition(".")[2].lower()
               not in _LABEL_NAMES and k not in rates}
    if not signals:
        raise RecordingError(f"{path}: no numeric array of samples in it (variables: "
                             f"{', '.join(variables) or 'none'})")
    by_name = {k.rpartition(".")[2].lower(): k for k in signals}
    key = next((by_name[n] for n in _MAT_EMG_NAMES if n in by_name),
               max(signals, key=lambda k: signals[k].size))
    emg = signals[key]
    emg = emg if emg.shape[0] >= emg.shape[1] else emg.T
    n = emg.shape[0]  # missing samples (NaN) become gaps (load_foreign)
    if fs is None:
        if not rates:
            raise NoSampleRateError(f"{path}: no sample rate in the file (a variable fs, "
                                    "srate, frequency …); give it with --fs")
        if len(set(rates.values())) > 1:
            found = ", ".join(f"{k} = {r:g}" for k, r in rates.items())
            raise RecordingError(f"{path}: rates that disagree ({found}); give the EMG's "
                                 "with --fs")
        fs = next(iter(rates.values()))
    elif rates and all(abs(r - fs) > 1e-6 * fs for r in rates.values()):
        found = ", ".join(f"{k} = {r:g}" for k, r in rates.items())
        raise RecordingError(f"{path}: --fs {fs:g} contradicts the file's own rate ({found}); "
                             "drop --fs")
    fs = checks.number(fs, "the sampling rate", low=MIN_FS_HZ, high=MAX_FS_HZ,
                       where=str(path), error=RecordingError)
    annotations: list[Annotation] = []
    not_emg: list[str] = []
    for k, a in arrays.items():
        if k == key or k in rates:
            continue
        column = a.reshape(-1) if 1 in a.shape else None
        if (k.rpartition(".")[2].lower() in _LABEL_NAMES and column is not None
                and column.size == n):
            annotations += label_annotations(f"{path}: variable {k!r}", k.rpartition(".")[2],
                                             column.astype(np.float64), fs)
        not_emg.append(k)
    channels = tuple(f"{key.rpartition('.')[2]}{j + 1}" for j in range(emg.shape[1]))
    meta: dict[str, Any] = {"source_file": path.name}
    if not_emg:
        meta["not_emg"] = not_emg
    stream = Stream("emg", fs, channels, np.ascontiguousarray(emg, dtype=np.float64))
    return SignalSet({"emg": stream}, tuple(sorted(annotations, key=lambda a: a.onset)), meta)


#: XDF stream types (the LSL ``type``) that carry EMG: amplifiers stream ExG
_XDF_EMG_TYPES = frozenset({"emg", "exg"})


def _xdf_field(info: dict[str, Any], key: str, default: str = "") -> str:
    """One text field of pyxdf's stream info (every field is a one-element list)."""
    value = info.get(key) or [default]
    return str(value[0] if isinstance(value, list) else value)


def _xdf_labels(info: dict[str, Any], n: int) -> tuple[tuple[str, ...], str]:
    """Channel labels and the first channel's unit from the stream's ``desc``."""
    try:
        chans = info["desc"][0]["channels"][0]["channel"]
        labels = tuple(str(c["label"][0]) for c in chans)
        unit = str(chans[0].get("unit", ["a.u."])[0])
    except (KeyError, IndexError, TypeError):
        return tuple(f"ch{k + 1}" for k in range(n)), "a.u."
    if len(labels) != n:
        return tuple(f"ch{k + 1}" for k in range(n)), "a.u."
    return labels, unit


@_missing_become_gaps
def load_xdf(path: Path) -> SignalSet:
    """An XDF file (what LabRecorder writes from Lab Streaming Layer streams), read by
    pyxdf (extra ``lsl``): the first stream of type EMG (or ExG) is the EMG, its clock
    synchronised and de-jittered by pyxdf; marker streams become annotations on its time
    line; the other streams are left out and named. A break in the EMG stream (pyxdf's
    segments) is samples lost: a gap at its time, as a native recording's lost packets."""
    regular_file(path, "XDF file", error=RecordingError)
    pyxdf = _optional(path, "pyxdf", "XDF", "lsl")
    try:
        streams, _ = pyxdf.load_xdf(str(path))
    except Exception as exc:  # pyxdf raises assorted types on damaged files
        raise RecordingError(f"{path}: not a readable XDF file ({exc})") from None
    emg = next((st for st in streams
                if _xdf_field(st["info"], "type").lower() in _XDF_EMG_TYPES
                and len(st["time_stamps"]) > 1), None)
    names = [f"{_xdf_field(st['info'], 'name')} ({_xdf_field(st['info'], 'type')})"
             for st in streams]
    if emg is None:
        raise RecordingError(f"{path}: no stream of type EMG or ExG with samples (streams: "
                             f"{', '.join(names) or 'none'})")
    info = emg["info"]
    fs = checks.number(float(_xdf_field(info, "nominal_srate", "0")), "the EMG stream's "
                       "nominal rate", low=MIN_FS_HZ, high=MAX_FS_HZ, where=str(path),
                       error=RecordingError)
    data = np.asarray(emg["time_series"], dtype=np.float64)
    if data.ndim != 2:  # missing samples (NaN) become gaps (load_foreign)
        raise RecordingError(f"{path}: the EMG stream holds non-numeric samples")
    ts = np.asarray(emg["time_stamps"], dtype=np.float64)
    losses = []
    for (_, end), (start, _) in itertools.pairwise(info.get("segments") or []):
        count = int(round((ts[start] - ts[end]) * fs)) - 1
        if count > 0:
            losses.append((int(start), count))
    if sum(c for _, c in losses) > 10 * len(data) + 3600 * fs:
        raise RecordingError(f"{path}: the EMG stream's breaks span more than an hour and ten "
                             "times its samples: its time stamps are damaged")
    data, gaps = _with_gaps(data, losses)
    t0 = float(emg["time_stamps"][0])
    labels, unit = _xdf_labels(info, data.shape[1])
    annotations: list[Annotation] = []
    not_emg: list[str] = []
    for st, name in zip(streams, names, strict=True):
        if st is emg:
            continue
        not_emg.append(name)
        if _xdf_field(st["info"], "channel_format") == "string":
            for t, row in zip(st["time_stamps"], st["time_series"], strict=False):
                annotations.append(Annotation(float(t) - t0, 0.0, str(row[0])))
    meta: dict[str, Any] = {"source_file": path.name}
    if not_emg:
        meta["not_emg"] = not_emg
    stream = Stream("emg", fs, labels, np.ascontiguousarray(data), unit, gaps)
    return SignalSet({"emg": stream},
                     tuple(sorted((a for a in annotations if a.onset >= 0.0),
                                  key=lambda a: a.onset)), meta)
