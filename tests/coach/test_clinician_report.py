"""The clinician's cross-session report: from the patient store through
``isofeedback report --patient`` to HTML, JSON, and PDF/PNG printed by headless Chromium."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from isofeedback.cli import main
from isofeedback.coach.calibration_store import PatientStore
from tests.coach.driver import Driver, gentle_protocol

RX = """[prescription]
patient = "p-03"
protocol = "hip-flexors-met"
times_per_day = 2
days = 7
start = 2026-12-07
reminders = ["08:00", "18:00"]
"""


def session(technique: str, strong: bool, pain: float | None = None) -> dict[str, object]:
    """A real coach session driven tick by tick (one repetition, one pushed too hard)."""
    d = Driver.calibrated(gentle_protocol(technique=technique, reps=2, muscle="hip flexors"))
    for k in range(2):
        d.contract(8.0, activity=12.0 if strong and k == 1 else 5.0)
        d.release()
        d.run(5.0)
        d.run(4.2, angle=3.0 * (k + 1))
    if pain is not None:
        d.command("pain", pain)
    return dict(d.coach.summary())


@pytest.fixture
def store(tmp_path: Path) -> Path:
    s = PatientStore(tmp_path, "p-03")
    walls = ["2026-12-07T08:00", "2026-12-07T18:00", "2026-12-08T08:00", "2026-12-09T08:00"]
    for wall, (tech, strong) in zip(walls, [("met", False), ("pir", True), ("met", True),
                                            ("met", False)], strict=True):
        s.add_session({**session(tech, strong), "wall": wall, "session": wall})
    (tmp_path / "rx.toml").write_text(RX)
    return tmp_path


def test_report_counts_flags_and_adherence(store: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    out = store / "r"
    assert main(["report", "--patient", "p-03", "--data-dir", str(store), "--prescription",
                 str(store / "rx.toml"), "--out", str(out)]) == 0
    assert "4 sessions, 2 flagged" in capsys.readouterr().out
    doc = json.loads(out.with_suffix(".json").read_text())
    assert [g["group"] for g in doc["groups"]] == ["MET · hip flexors", "PIR · hip flexors"]
    assert doc["violations"].startswith("too_strong ×")
    assert doc["adherence"]["due"] == 6 and doc["adherence"]["done"] == 4
    page = out.with_suffix(".html").read_text()
    for unit in ("ROM (degrees)", "hold quality (%)", "pain (0-10)", "sessions (per day)"):
        assert unit in page
    assert page.count("<svg") == 4


def test_report_prints_to_pdf_and_png_with_headless_chromium(store: Path) -> None:
    out = store / "r"
    assert main(["report", "--patient", "p-03", "--data-dir", str(store), "--out", str(out),
                 "--pdf"]) == 0
    pdf = out.with_suffix(".pdf").read_bytes()
    png = out.with_suffix(".png").read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 5000
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (800, 1500)


def test_no_sessions_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    assert main(["report", "--patient", "nobody", "--data-dir", str(tmp_path)]) == 2
    assert "no sessions stored for patient 'nobody'" in capsys.readouterr().err


def test_report_uses_the_prescription_received_over_mqtt(store: Path) -> None:
    """Without --prescription, the one the gateway stored (as the clinician sent it)."""
    PatientStore(store, "p-03").save_prescription(
        {"prescription": {"patient": "p-03", "protocol": "hip-flexors-met",
                          "times_per_day": 2, "days": 7, "start": "2026-12-07",
                          "reminders": ["08:00", "18:00"]}})
    out = store / "r"
    assert main(["report", "--patient", "p-03", "--data-dir", str(store), "--out",
                 str(out)]) == 0
    doc = json.loads(out.with_suffix(".json").read_text())
    assert doc["prescription"]["protocol"] == "hip-flexors-met"
    assert doc["adherence"]["due"] == 6 and doc["adherence"]["done"] == 4
