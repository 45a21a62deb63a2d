"""An exported EMG-BIDS dataset passes the official BIDS validator without errors, has the
recommended dataset files (README, participants.tsv), and loads in MNE-BIDS with channels
named ``EMG 1`` …. Both tools come with the ``bids`` extra; without them these tests skip."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from isofeedback.cli import main

VALIDATOR = shutil.which("bids-validator-deno") or str(
    Path(sys.executable).parent / "bids-validator-deno")


@pytest.fixture
def dataset(copy_sample: Any, tmp_path: Path) -> Path:
    root = tmp_path / "dataset"
    for name in ("myo-pir-sim.isorec", "openemg-met-sim.isorec"):
        assert main(["export", str(copy_sample(name)), "--format", "bids",
                     "--out", str(root)]) == 0
    return root


def test_official_validator_finds_no_error(dataset: Path) -> None:
    if not Path(VALIDATOR).exists():
        pytest.skip("bids-validator-deno is not installed (pip install 'isofeedback[bids]')")
    proc = subprocess.run([VALIDATOR, str(dataset), "--format", "json"], capture_output=True,
                          text=True, timeout=300)
    report = json.loads(proc.stdout)
    issues = report["issues"]["issues"]
    errors = [i for i in issues if i["severity"] == "error"]
    assert not errors, errors
    codes = {i["code"] for i in issues}
    assert not codes & {"README_FILE_MISSING", "PARTICIPANT_ID_MISMATCH",
                        "PARTICIPANTS_TSV_MISSING"}, codes
    assert proc.returncode == 0


def test_recommended_files_and_channel_names(dataset: Path) -> None:
    assert (dataset / "README").read_text().startswith("isofeedback sessions")
    assert (dataset / "participants.tsv").read_text().splitlines() == [
        "participant_id\tsimulated", "sub-simpatient\ttrue"]
    emg = dataset / "sub-simpatient" / "ses-myopirsim" / "emg"
    names = [line.split("\t")[0] for line in
             next(emg.glob("*_channels.tsv")).read_text().splitlines()[1:]]
    assert names[:8] == [f"EMG {i}" for i in range(1, 9)]
    assert names[8:11] == ["GYRO X", "GYRO Y", "GYRO Z"]


def test_loads_in_mne_bids(dataset: Path) -> None:
    mne_bids = pytest.importorskip("mne_bids")
    path = mne_bids.BIDSPath(subject="simpatient", session="openemgmetsim", task="met",
                             datatype="emg", root=dataset)
    raw = mne_bids.read_raw_bids(path, verbose="ERROR")
    assert raw.ch_names[:8] == [f"EMG {i}" for i in range(1, 9)]
    assert raw.get_channel_types()[:8] == ["emg"] * 8
    assert raw.info["sfreq"] == 2000.0
    assert "onset" in set(raw.annotations.description)
