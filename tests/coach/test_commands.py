"""The shipped protocols end to end through ``isofeedback demo`` (a private Mosquitto), with
the patient store reused across sessions and read back by ``isofeedback progress``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from isofeedback.cli import main

SRC = str(Path(__file__).parents[2] / "src")


def cli(*args: str) -> str:
    """Run the real command line in a child process. The timeout turns a hang at shutdown
    (seen now and then in the MQTT publisher's close, outside the coach) into a failure
    instead of a stuck test run."""
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "isofeedback.cli", *args], env=env,
                          capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("technique", ["pir", "met"])
def test_demo_runs_the_shipped_protocol_and_progress_reads_it(
    technique: str, mosquitto: Any, patient: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "store"
    base = ["demo", "--technique", technique, "--speed", "max", "--plain", "--patient", patient,
            "--broker", f"{mosquitto.host}:{mosquitto.port}", "--data-dir", str(data)]
    first = cli(*base, "--seed", "1")
    second = cli(*base, "--seed", "2")
    assert "3/3 reps" in first, first[-3000:]
    assert "3/3 reps" in second, second[-3000:]
    assert "Using your saved calibration." in second and "push as hard" not in second
    doc = json.loads((data / f"{patient}.json").read_text())
    assert [s["mvc_source"] for s in doc["sessions"]] == ["captured", "stored"]
    assert all(s["complete"] and s["technique"] == technique for s in doc["sessions"])
    assert main(["progress", "--patient", patient, "--calibration-dir", str(data)]) == 0
    assert f"Progress of {patient}: 2 sessions" in capsys.readouterr().out


def test_progress_without_sessions_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["progress", "--patient", "nobody", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("isofeedback: error: no sessions stored for patient 'nobody'")


@pytest.mark.parametrize(("fault", "violation"), [("too-weak", "too_weak"),
                                                 ("too-strong", "too_strong"),
                                                 ("moved", "moved")])
def test_demo_fault_shows_the_coach_reacting_in_rep_2(
    fault: str, violation: str, mosquitto: Any, patient: str
) -> None:
    out = cli("demo", "--fault", fault, "--speed", "max", "--plain", "--patient", patient,
              "--broker", f"{mosquitto.host}:{mosquitto.port}")
    rows = {line.split()[1]: line for line in out.splitlines()
            if line.startswith("│") and line.split()[1] in ("1", "2", "3")}
    assert violation in rows["2"] and "none" in rows["1"] and "none" in rows["3"], out[-3000:]
