"""The clinician's report: numbers from the session, a picture with events and phases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from isofeedback.cli import main


def test_report_from_a_recording(copy_sample: Any, capsys: Any) -> None:
    path: Path = copy_sample("myo-pir-sim.isorec")
    assert main(["report", str(path)]) == 0
    assert "3/3 reps" in capsys.readouterr().out
    report = json.loads(path.with_suffix(".json").read_text())
    assert report["simulated"] and report["reps_done"] == 3
    assert report["violations"] == ["moved"]
    assert len(report["reps"]) == 3 and all(r["hold_s"] > 5 for r in report["reps"])
    assert {"relax_residual", "rom_deg", "mean_intensity"} <= set(report["reps"][0])
    assert report["timeline"]["rows"] and report["phases"]
    # one unit on the intensity axis, % of the gentle reference contraction (the sample is
    # the shipped PIR: no MVC); the calibration before the reference exists is left out
    shown = [r[1] for r in report["timeline"]["rows"] if r[1] is not None]
    assert report["intensity_unit"] == "%ref" and 50 < max(shown) < 200
    assert any(r[1] is None for r in report["timeline"]["rows"])
    assert [e["type"] for e in report["events"]].count("onset") == 4
    page = path.with_suffix(".html").read_text()
    assert "<svg" in page and "simulated patient" in page and "moved" in page
    assert page.count("<polyline") == 2 and "onset at" in page


def test_report_of_foreign_data_replays_it(copy_sample: Any, tmp_path: Path) -> None:
    path = copy_sample("myo-pir-sim.isorec")
    assert main(["export", str(path), "--format", "bdf"]) == 0
    assert main(["report", str(path.with_suffix(".bdf")), "--out", str(tmp_path / "r")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["reps_done"] == 3 and (tmp_path / "r.html").exists()
