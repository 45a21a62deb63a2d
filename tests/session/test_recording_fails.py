"""A recording that fails mid-session (here: a file-size limit, as a full disk or a
removed medium would) is told to the patient at once, in the terminal and in the
retained ``status`` every app reads, while the exercise goes on to its end."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from isofeedback.sinks.messages import Serializer

SRC = Path(__file__).resolve().parents[2] / "src"


def _limit_file_size() -> None:  # in the child only: big enough to start, too small to finish
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))


def test_demo_says_at_once_that_the_session_is_no_longer_saved(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "isofeedback", "demo", "--plain", "--speed", "20",
         "--record", str(tmp_path / "rec"), "--data-dir", str(tmp_path / "patients"),
         "--patient", "p-disk"],
        capture_output=True, text=True, timeout=300, check=False,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
             "COLUMNS": "200"},
        preexec_fn=_limit_file_size)
    out = done.stdout + done.stderr
    assert "Traceback" not in out, out
    lines = out.splitlines()
    said = [i for i, line in enumerate(lines) if line.startswith("Recording stopped: ")]
    assert len(said) == 1, out  # once, not per commit
    notice = " ".join(lines[said[0]:said[0] + 3])  # (the terminal may wrap it)
    assert "Recording stopped: a write failed" in notice, notice
    assert "The exercise goes on, but the rest of this session is not saved." in notice
    # said during the session, not only at its end: coaching lines follow it
    assert any("rep" in line.lower() for line in lines[said[0] + 1:]), out
    assert "3/3 reps" in out or "3 of 3" in out, out  # the exercise went on to its end
    assert "recording incomplete" in out, out  # and the stop path says it again
    assert done.returncode == 0, out


def test_status_carries_the_recording_problem(payload_validator: Any) -> None:
    serializer = Serializer("p-disk", "s-1", 0.0, source="live")
    serializer.recording_problem = "the disk is full; recording stopped near session time 9.0 s"
    doc = json.loads(serializer.status(True, 9.0, reason="connected", connection=1).payload)
    payload_validator(doc)
    assert doc["recording"].startswith("the disk is full")
