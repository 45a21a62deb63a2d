"""The clinician's cross-session report: from the patient store through
``isofeedback report --patient`` to HTML, JSON, and PDF/PNG printed by headless Chromium."""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from isofeedback.cli import main
from isofeedback.coach.calibration_store import PatientStore
from isofeedback.coach.progression import progressed
from tests.coach.driver import Driver, gentle_protocol

RX = """[prescription]
patient = "p-03"
protocol = "hip-flexors-met"
times_per_day = 2
days = 7
start = 2026-12-07
reminders = ["08:00", "18:00"]
"""


def session(technique: str, strong: bool, history: Sequence[Mapping[str, Any]] = (),
            pain: float | None = None) -> dict[str, object]:
    """A real coach session driven tick by tick (one repetition, one pushed too hard), with
    the hold the progression rule gives after ``history``."""
    protocol = progressed(gentle_protocol(technique=technique, reps=2, muscle="hip flexors",
                                          hold_step_s=1.0, hold_max_s=10.0), history)
    d = Driver.calibrated(protocol)
    for k in range(2):
        d.contract(protocol.hold_s + 1.0, activity=12.0 if strong and k == 1 else 5.0)
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
    # the third MET session comes after two good ones: its hold is 1 s longer
    for wall, (tech, strong) in zip(walls, [("met", False), ("pir", True), ("met", False),
                                            ("met", True)], strict=True):
        s.add_session({**session(tech, strong, s.sessions()), "wall": wall, "session": wall})
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
    for unit in ("ROM (degrees)", "hold quality (%)", "hold (seconds)", "pain (0-10)",
                 "sessions (per day)"):
        assert unit in page
    assert page.count("<svg") == 5
    met = doc["groups"][0]
    assert (met["hold_first_s"], met["hold_last_s"]) == (7.0, 8.0) and "<td>7 → 8</td>" in page
    assert [r["hold_change_s"] for r in doc["history"]] == [None, None, None, 1.0]


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


def test_pain_is_drawn_only_for_sessions_that_reported_it(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Four sessions without a pain rating and one with 4/10: the pain chart has one point
    (every session without a rating was drawn as a reported 0/10, while ``progress`` and the
    JSON say '-' / null)."""
    s = PatientStore(store, "p-03")
    s.add_session({**session("met", False, s.sessions(), pain=4.0),
                   "wall": "2026-12-09T18:00", "session": "fifth"})
    out = store / "r"
    assert main(["report", "--patient", "p-03", "--data-dir", str(store), "--out",
                 str(out)]) == 0
    doc = json.loads(out.with_suffix(".json").read_text())
    assert [r["pain_max"] for r in doc["history"]] == [None, None, None, None, 4.0]
    page = out.with_suffix(".html").read_text()
    chart = next(svg for svg in page.split("<svg")[1:] if "pain (0-10)" in svg)
    assert chart.count("<circle") == 1


def test_another_patients_prescription_is_refused(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--prescription naming another patient: one clear error, no report (it was used: the
    clinician read p-03's adherence against p-04's programme, as if it were hers)."""
    other = store / "rx-other.toml"
    other.write_text(RX.replace('patient = "p-03"', 'patient = "p-04"'))
    out = store / "r"
    assert main(["report", "--patient", "p-03", "--data-dir", str(store), "--prescription",
                 str(other), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{other}: prescription.patient is 'p-04', not 'p-03'" in err, err
    assert not out.with_suffix(".html").exists()


def test_one_session_is_one_session(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                    ) -> None:
    """A patient's first session: "1 session", in the line and on the page."""
    PatientStore(tmp_path, "p-04").add_session(
        {**session("pir", False), "wall": "2026-12-07T08:00", "session": "s1"})
    out = tmp_path / "r"
    assert main(["report", "--patient", "p-04", "--data-dir", str(tmp_path), "--out",
                 str(out)]) == 0
    assert capsys.readouterr().out.startswith("1 session, 0 flagged")
    page = out.with_suffix(".html").read_text()
    assert "<p>1 session. Prescription" in page and "1 sessions" not in page
