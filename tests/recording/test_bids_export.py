"""EMG-BIDS export: a dataset folder a BIDS tool can read, one session per sub/ses folder."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path
from typing import Any

import pyedflib

from isofeedback.cli import main
from isofeedback.recording.reader import RecordingReader
from isofeedback.recording.signals import annotations_from_outputs
from isofeedback.research.replay import replay

REQUIRED = {"TaskName", "SamplingFrequency", "PowerLineFrequency", "SoftwareFilters",
            "EMGReference", "EMGPlacementScheme"}


def _tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_bids_dataset_of_two_sessions(copy_sample: Any, tmp_path: Path,
                                      capsys: Any) -> None:
    root = tmp_path / "dataset"
    for name in ("myo-pir-sim.isorec", "openemg-met-sim.isorec"):
        assert main(["export", str(copy_sample(name)), "--format", "bids",
                     "--out", str(root)]) == 0
    assert "_emg.bdf" in capsys.readouterr().out
    description = json.loads((root / "dataset_description.json").read_text())
    assert description["BIDSVersion"] == "1.11.0" and description["DatasetType"] == "raw"
    folders = sorted(p.relative_to(root).as_posix() for p in root.glob("sub-*/ses-*/emg"))
    assert folders == ["sub-simpatient/ses-myopirsim/emg", "sub-simpatient/ses-openemgmetsim/emg"]

    emg = root / "sub-simpatient" / "ses-myopirsim" / "emg"
    stem = "sub-simpatient_ses-myopirsim_task-pir"
    names = sorted(p.name for p in emg.iterdir())
    assert names == [f"{stem}_{s}" for s in ("channels.tsv", "emg.bdf", "emg.json", "events.tsv")]
    for p in [*emg.iterdir(), root / "dataset_description.json"]:  # health data
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert stat.S_IMODE(emg.stat().st_mode) == 0o700

    sidecar = json.loads((emg / f"{stem}_emg.json").read_text())
    assert set(sidecar) >= REQUIRED
    assert sidecar["SamplingFrequency"] == 200.0 and sidecar["PowerLineFrequency"] == 50.0
    assert sidecar["EMGChannelCount"] == 8 and "simulated" in sidecar["RecordingNotes"]

    # the channel table lists the BDF's signals, in order, with their types and rates
    channels = _tsv(emg / f"{stem}_channels.tsv")
    with pyedflib.EdfReader(str(emg / f"{stem}_emg.bdf")) as bdf:
        labels = bdf.getSignalLabels()
        rates = [bdf.getSampleFrequency(i) for i in range(bdf.signals_in_file)]
    assert [c["name"] for c in channels] == labels
    assert [float(c["sampling_frequency"]) for c in channels] == rates
    types = [c["type"] for c in channels]
    assert types.count("EMG") == 8 and types.count("GYRO") == 3 and types.count("ACCEL") == 3

    # the events table holds the live run's events, phases and cues at their times
    events = _tsv(emg / f"{stem}_events.tsv")
    with RecordingReader(copy_sample("myo-pir-sim.isorec")) as reader:
        want = sorted(annotations_from_outputs(reader.outputs()), key=lambda a: a.onset)
    assert [e["trial_type"] for e in events] == [a.text for a in want]
    assert sum(e["trial_type"] == "onset" for e in events) >= 3

    # and the data file replays like any BDF
    result = replay(emg / f"{stem}_emg.bdf")
    assert sum(e.type == "onset" for e in result.events) >= 3
