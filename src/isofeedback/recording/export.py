"""Export to standard formats: BDF+/EDF+ (events as annotations), an EMG-BIDS dataset
(BDF+ with its ``_emg.json``, ``_channels.tsv`` and ``_events.tsv`` sidecars) and CSV.

EDF stores 16-bit and BDF 24-bit samples scaled between a physical minimum and maximum per
signal, so a round trip is exact to within one quantisation step; CSV is exact (floats
written with ``repr``). Signals are labelled ``<Stream> <channel>`` so our importer (and a
person) can tell EMG from gyroscope; the patient field holds only the pseudonym.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from isofeedback import __version__
from isofeedback.errors import RecordingError
from isofeedback.files import private_file
from isofeedback.recording.importers import DATA_END, events_sidecar
from isofeedback.recording.reader import RecordingReader
from isofeedback.recording.signals import (
    SignalSet,
    annotations_from_outputs,
    decode_packets,
)

__all__ = ["EXPORT_FORMATS", "bids_label", "export_recording", "quantum", "recording_signals",
           "signal_label", "write_bids", "write_csv", "write_edf"]

EXPORT_FORMATS = ("bdf", "edf", "csv", "bids")
BIDS_VERSION = "1.11.0"  # the first release with EMG (BEP042)
# BIDS channel types for our streams (motion channels keep their own types)
_BIDS_TYPES = {"emg": "EMG", "gyro": "GYRO", "accel": "ACCEL"}
_DIGITAL = {"edf": (-32768, 32767), "bdf": (-8388608, 8388607)}


def recording_signals(reader: RecordingReader) -> SignalSet:
    """A native recording's samples, gaps and live events as a :class:`SignalSet`."""
    signals = decode_packets(reader.profiles(), reader.packets())
    if not signals.streams:
        raise RecordingError(f"{reader.path}: no samples to export (no packets recorded)")
    notes = annotations_from_outputs(reader.outputs())
    meta = {"patient": reader.meta["patient"], "session": reader.session_id,
            "start_wall": reader.meta["start_wall"], "simulated": reader.simulated,
            "equipment": ",".join(p.id for p in reader.profiles().values())}
    merged = tuple(sorted((*signals.annotations, *notes), key=lambda a: a.onset))
    return SignalSet(signals.streams, merged, meta)


def export_recording(reader: RecordingReader, out: Path, fmt: str) -> Path:
    if fmt not in EXPORT_FORMATS:
        raise RecordingError(f"unknown export format {fmt!r} (known: {', '.join(EXPORT_FORMATS)})")
    signals = recording_signals(reader)
    if fmt == "csv":
        write_csv(signals, out)
    elif fmt == "bids":
        return write_bids(reader, signals, out)
    else:
        write_edf(signals, out, fmt)
    return out


def signal_label(stream: str, channel: str) -> str:
    """The EDF signal label of a channel (``Emg emg1``, ``Gyro x``: 16 characters at most),
    which the importer maps back to its stream and the BIDS channel table repeats."""
    return f"{stream.capitalize()} {channel}"[:16]


def bids_channel(stream: str, channel: str, index: int) -> str:
    """A channel's name in an EMG-BIDS dataset (BDF label and ``_channels.tsv`` alike):
    ``EMG 1`` … for EMG, as the BIDS examples and MNE name them, ``GYRO X`` for motion."""
    if stream == "emg":
        return f"EMG {index + 1}"
    return f"{stream.upper()} {channel.upper()}"[:16]


def bids_label(text: str) -> str:
    """A BIDS entity label: letters and digits only (``sim-patient`` → ``simpatient``)."""
    return re.sub(r"[^A-Za-z0-9]", "", text) or "x"


def write_bids(reader: RecordingReader, signals: SignalSet, root: Path) -> Path:
    """An EMG-BIDS dataset under ``root``: ``sub-<patient>/ses-<session>/emg/`` holds the
    BDF+ file and its ``_emg.json``, ``_channels.tsv`` and ``_events.tsv`` sidecars;
    ``dataset_description.json`` is written if the folder has none (several sessions can
    go into one dataset). Returns the BDF file. Every file is owner-only (health data)."""
    sub, ses = bids_label(str(signals.meta.get("patient", "x"))), bids_label(reader.session_id)
    protocol, config = reader.protocol(), reader.config()
    task = bids_label(protocol.technique)
    folder = root / f"sub-{sub}" / f"ses-{ses}" / "emg"
    try:
        for level in (folder.parent.parent, folder.parent, folder):  # owner-only, each
            level.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise RecordingError(f"{folder}: cannot create: {exc}") from None
    stem = folder / f"sub-{sub}_ses-{ses}_task-{task}"
    data = stem.with_name(stem.name + "_emg.bdf")
    write_edf(signals, data, "bdf", bids_channel)
    emg = signals.streams["emg"]
    others = [s for name, s in signals.streams.items() if name != "emg"]
    sidecar = {
        "TaskName": task,
        "TaskDescription": f"{protocol.name} ({protocol.technique.upper()}) of the "
                           f"{protocol.muscle}, {protocol.side} side: {protocol.reps} reps of "
                           f"a {protocol.hold_s:g} s isometric hold",
        "SamplingFrequency": emg.fs,
        "PowerLineFrequency": config.chain.mains_hz if config.chain.mains_hz > 0 else "n/a",
        "SoftwareFilters": "n/a",  # the samples are the device's, unfiltered
        "EMGReference": "n/a",
        "EMGPlacementScheme": "Other",
        "EMGPlacementSchemeDescription": f"over the {protocol.muscle}, {protocol.side} side",
        "EMGChannelCount": len(emg.channels),
        "RecordingDuration": round(signals.duration_s, 6),
        "RecordingType": "continuous",
        "ManufacturersModelName": str(signals.meta.get("equipment", "")),
        "SoftwareVersions": f"isofeedback {__version__}",
    }
    if others:
        sidecar["MiscChannelCount"] = sum(len(s.channels) for s in others)
    if signals.meta.get("simulated"):
        sidecar["RecordingNotes"] = "simulated patient (isofeedback's simulator), not a person"
    channels = [("name", "type", "units", "sampling_frequency", "status")]
    for name, st in signals.streams.items():
        kind = _BIDS_TYPES.get(name, "MISC")
        for j, ch in enumerate(st.channels):
            channels.append((bids_channel(name, ch, j), kind, st.unit, f"{st.fs:g}", "good"))
    events = [("onset", "duration", "trial_type")]
    events += [(f"{a.onset:.6f}", f"{a.duration:.6f}" if a.duration > 0 else "0",
                a.text.replace("\t", " ")) for a in signals.annotations]
    files: list[tuple[Path, str]] = [
        (stem.with_name(stem.name + "_emg.json"), json.dumps(sidecar, indent=2) + "\n"),
        (stem.with_name(stem.name + "_channels.tsv"), _tsv(channels)),
        (stem.with_name(stem.name + "_events.tsv"), _tsv(events)),
    ]
    files += _bids_dataset_files(root, sub, bool(signals.meta.get("simulated")))
    description = root / "dataset_description.json"
    if not description.exists():
        files.append((description, json.dumps({
            "Name": "isofeedback sessions", "BIDSVersion": BIDS_VERSION, "DatasetType": "raw",
            "GeneratedBy": [{"Name": "isofeedback", "Version": __version__}],
        }, indent=2) + "\n"))
    for path, text in files:
        private_file(path)
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise RecordingError(f"{path}: cannot write: {exc}") from None
    return data


def _bids_dataset_files(root: Path, sub: str, simulated: bool) -> list[tuple[Path, str]]:
    """The dataset-level files BIDS recommends: a README (written once) and
    ``participants.tsv`` with a row for every subject exported into the dataset."""
    files: list[tuple[Path, str]] = []
    readme = root / "README"
    if not readme.exists():
        files.append((readme, (
            "isofeedback sessions\n====================\n\n"
            "Surface EMG (and the wearable's IMU) of isometric exercise sessions (PIR, MET),\n"
            "exported from isofeedback recordings: one BDF+ file per session with its\n"
            "sidecars, events detected live (onset, release, movement) and coaching\n"
            "annotations (phases, cues, repetitions) in _events.tsv. Participants are\n"
            "pseudonyms.\n")))
    participants = root / "participants.tsv"
    rows: dict[str, str] = {}
    try:
        for line in participants.read_text(encoding="utf-8").splitlines()[1:]:
            cells = line.split("\t")
            if cells[0]:
                rows[cells[0]] = cells[1] if len(cells) > 1 else "n/a"
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{participants}: cannot read: {exc}") from None
    if f"sub-{sub}" not in rows:
        rows[f"sub-{sub}"] = "true" if simulated else "false"
        table = [("participant_id", "simulated"), *sorted(rows.items())]
        files.append((participants, _tsv(table)))
        files.append((root / "participants.json", json.dumps({"simulated": {
            "Description": "true: a simulated patient (isofeedback's simulator), not a person",
            "Levels": {"true": "simulated", "false": "a person"}}}, indent=2) + "\n"))
    return files


def _tsv(rows: Sequence[Sequence[str]]) -> str:
    return "".join("\t".join(r) + "\n" for r in rows)


def write_csv(signals: SignalSet, path: Path) -> None:
    """One row per EMG sample: ``t``, EMG channels, then the other streams held at their
    last sample (CSV has one time axis); events go to ``<name>.events.csv``."""
    emg = signals.streams["emg"]
    t = np.arange(emg.n) / emg.fs
    header = ["t", *emg.channels]
    columns = [t, *emg.data.T]
    for name, s in signals.streams.items():
        if name == "emg" or ":" in name:
            continue
        idx = np.minimum(np.floor(t * s.fs + 1e-9).astype(int), s.n - 1)
        header += [f"{name}_{c}" for c in s.channels]
        columns += list(s.data[idx].T)
    table = np.column_stack(columns)
    private_file(path)
    private_file(events_sidecar(path))
    try:
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows([repr(float(v)) for v in row] for row in table)
        with events_sidecar(path).open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["onset", "duration", "text"])
            w.writerows([repr(a.onset), repr(a.duration), a.text] for a in signals.annotations)
    except OSError as exc:
        raise RecordingError(f"{path}: cannot write CSV: {exc}") from None


def _fit8(value: float, up: bool) -> float:
    """A bound that EDF's 8-character header field can hold, rounded outward."""
    for decimals in range(6, -1, -1):
        scale = 10.0**decimals
        v = (math.ceil(value * scale) if up else math.floor(value * scale)) / scale
        text = f"{v:.{decimals}f}"
        if len(text) <= 8:
            return float(text)
    raise RecordingError(f"value {value} too large for an EDF header")


def quantum(signal: np.ndarray[Any, Any], fmt: str) -> float:
    """The quantisation step a signal gets in ``fmt`` (for round-trip checks)."""
    lo, hi = _bounds(signal)
    dmin, dmax = _DIGITAL[fmt]
    return (hi - lo) / (dmax - dmin)


def _bounds(signal: np.ndarray[Any, Any]) -> tuple[float, float]:
    lo, hi = float(np.min(signal)), float(np.max(signal))
    if hi - lo < 1e-6:
        lo, hi = lo - 1.0, hi + 1.0
    return _fit8(lo, up=False), _fit8(hi, up=True)


def write_edf(signals: SignalSet, path: Path, fmt: str = "bdf",
              label: Callable[[str, str, int], str] | None = None) -> None:
    """BDF+ (24 bit) or EDF+ (16 bit), one-second data records, annotations for events;
    the last record is padded with each signal's last value, and an annotation per stream
    (:data:`~isofeedback.recording.importers.DATA_END` and its name) says where its data
    end.
    ``label(stream, channel, index)`` names the signals (default :func:`signal_label`)."""
    import pyedflib

    kinds = {"bdf": pyedflib.FILETYPE_BDFPLUS, "edf": pyedflib.FILETYPE_EDFPLUS}
    dmin, dmax = _DIGITAL[fmt]
    headers: list[dict[str, Any]] = []
    samples: list[np.ndarray[Any, Any]] = []
    duration = signals.duration_s
    records = max(1, math.ceil(duration - 1e-9))
    for name, s in signals.streams.items():
        if abs(s.fs - round(s.fs)) > 1e-9:
            raise RecordingError(f"{path}: {name} at {s.fs} Hz: EDF needs whole samples per "
                                 "one-second record; export as CSV")
        fs = round(s.fs)
        for j, ch in enumerate(s.channels):
            x = s.data[:, j]
            padded = np.concatenate([x, np.full(records * fs - len(x), x[-1] if len(x) else 0)])
            lo, hi = _bounds(padded)
            headers.append({
                "label": label(name, ch, j) if label else signal_label(name, ch),
                "dimension": s.unit[:8],
                "sample_frequency": fs, "physical_min": lo, "physical_max": hi,
                "digital_min": dmin, "digital_max": dmax, "transducer": "",
                "prefilter": "",
            })
            samples.append(padded)
    private_file(path)
    try:
        writer = pyedflib.EdfWriter(str(path), len(headers), file_type=kinds[fmt])
    except OSError as exc:
        raise RecordingError(f"{path}: cannot write {fmt.upper()}: {exc}") from None
    try:
        # EDF+ keeps annotations in per-record slots; without enough of them the library
        # drops the overflow silently, so reserve room for all of them
        # where each stream's data end, when that is inside the last (padded) record
        ends = [(name, s.n / s.fs) for name, s in signals.streams.items()
                if s.n < records * round(s.fs)]
        per_record = math.ceil(2 * (len(signals.annotations) + len(ends)) / records) + 1
        if per_record > 64:
            raise RecordingError(f"{path}: too many annotations for EDF+ "
                                 f"({len(signals.annotations)}); export as CSV")
        writer.set_number_of_annotation_signals(per_record)
        writer.setSignalHeaders(headers)
        writer.setPatientCode(str(signals.meta.get("patient", "X")).replace(" ", "_"))
        writer.setEquipment(str(signals.meta.get("equipment", "isofeedback"))[:40])
        if signals.meta.get("simulated"):
            writer.setRecordingAdditional("simulated_patient")
        start = signals.meta.get("start_wall")
        if start is not None:
            stamp = datetime.fromtimestamp(float(start), tz=UTC).replace(tzinfo=None)
            writer.setStartdatetime(stamp.replace(microsecond=0))
        writer.writeSamples(samples)
        for a in signals.annotations:
            writer.writeAnnotation(max(a.onset, 0.0), a.duration if a.duration > 0 else -1,
                                   a.text)
        for name, end in ends:  # the rest of the last record repeats the last value
            writer.writeAnnotation(end, -1, f"{DATA_END} {name}")
    except RecordingError:
        raise
    except Exception as exc:  # pyedflib reports header problems with several types
        raise RecordingError(f"{path}: cannot write {fmt.upper()}: {exc}") from None
    finally:
        writer.close()
