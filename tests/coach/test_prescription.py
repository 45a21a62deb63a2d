"""Prescriptions: protocol + patient parameters + schedule, validated before use."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from isofeedback.coach.prescription import adherence, load_prescription
from isofeedback.errors import ConfigError

GOOD = """[prescription]
patient = "p-17"
protocol = "hamstrings-met"
times_per_day = 2
days = 14
start = 2026-12-07
reminders = ["08:00", "18:00"]

[patient]
side = "left"
hold_s = 5.0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rx.toml"
    path.write_text(text)
    return path


def test_a_prescription_adapts_the_protocol_and_schedules_reminders(tmp_path: Path) -> None:
    rx = load_prescription(write(tmp_path, GOOD))
    assert (rx.protocol.muscle, rx.protocol.side, rx.protocol.hold_s) == ("hamstrings", "left",
                                                                          5.0)
    assert rx.protocol.stretch_mode == "chronic"  # the rest from the shipped protocol
    assert [t.isoformat() for t in rx.due(dt.date(2026, 12, 8))] == [
        "2026-12-08T08:00:00", "2026-12-08T18:00:00"]
    assert rx.due(dt.date(2026, 12, 21)) == []  # after the 14 days


@pytest.mark.parametrize(("change", "words"), [
    (("hold_s = 5.0", "hold_s = -5.0"), "patient.hold_s"),
    (("hold_s = 5.0", "stretch_s = 5.0"), "patient.stretch_s: a chronic stretch is held 10–60"),
    (("hold_s = 5.0", "mvc_capture = true"), "patient.mvc_capture: not a key a prescription"),
    (("times_per_day = 2", "times_per_day = 0"), "prescription.times_per_day must be at least 1"),
    (('"18:00"]', '"25:00"]'), "prescription.reminders must be a list of times"),
    (('["08:00", "18:00"]', '["08:00"]'), "1 times for times_per_day = 2"),
    (('"hamstrings-met"', '"hamstrings"'), "unknown protocol 'hamstrings'"),
    (("start = 2026-12-07", 'start = "soon"'), "prescription.start must be a date"),
])
def test_an_invalid_prescription_is_refused_naming_the_key(
        tmp_path: Path, change: tuple[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        load_prescription(write(tmp_path, GOOD.replace(*change)))


def test_adherence_counts_sessions_against_the_schedule(tmp_path: Path) -> None:
    rx = load_prescription(write(tmp_path, GOOD))
    d = dt.date(2026, 12, 7)
    done = [d, d, d, d + dt.timedelta(days=1)]  # a third session on day 1 does not count
    a = adherence(rx, done, today=d + dt.timedelta(days=2))
    assert (a["due"], a["done"], a["rate"]) == (6, 3, 0.5)
    assert a["per_day"] == {"2026-12-07": 3, "2026-12-08": 1, "2026-12-09": 0}


def test_a_prescription_message_is_validated_and_acknowledged() -> None:
    import json

    from isofeedback.coach.prescription import prescription_message

    doc = {"prescription": {"patient": "p-17", "protocol": "hip-flexors-met",
                            "times_per_day": 3, "days": 7, "start": "2026-12-07"},
           "patient": {"side": "left"}}
    rx, ack = prescription_message(json.dumps(doc).encode(), "p-17")
    assert rx is not None and rx.protocol.side == "left" and ack["accepted"] is True
    assert ack["prescription"]["times_per_day"] == 3
    rx, ack = prescription_message(json.dumps(doc).encode(), "p-18")
    assert rx is None and ack == {"accepted": False, "reason": "prescription for p-18: "
                                  "prescription.patient is 'p-17', not this patient's"}
    doc["patient"] = {"hold_s": "long"}
    rx, ack = prescription_message(json.dumps(doc).encode(), "p-17")
    assert rx is None and "patient.hold_s" in ack["reason"]
    assert prescription_message(b"\xff", "p-17")[1]["accepted"] is False


def test_the_next_reminder_is_the_first_prescribed_time_after_now(tmp_path: Path) -> None:
    from isofeedback.coach.prescription import next_reminder

    rx = load_prescription(write(tmp_path, GOOD))  # 2026-12-07 for 14 days, 08:00 and 18:00
    at = dt.datetime
    assert next_reminder(rx, at(2026, 12, 1, 12, 0)) == at(2026, 12, 7, 8, 0)  # before start
    assert next_reminder(rx, at(2026, 12, 7, 7, 59)) == at(2026, 12, 7, 8, 0)
    assert next_reminder(rx, at(2026, 12, 7, 8, 0)) == at(2026, 12, 7, 18, 0)  # strictly after
    assert next_reminder(rx, at(2026, 12, 7, 18, 30)) == at(2026, 12, 8, 8, 0)
    assert next_reminder(rx, at(2026, 12, 20, 18, 0)) is None  # the last day's last is past
    assert next_reminder(rx, at(2027, 1, 1, 0, 0)) is None
    none = load_prescription(write(tmp_path, GOOD.replace('reminders = ["08:00", "18:00"]',
                                                          "")))
    assert next_reminder(none, at(2026, 12, 8, 0, 0)) is None


def test_the_schedule_says_next_reminder_and_today_done_and_due(tmp_path: Path) -> None:
    from isofeedback.coach.prescription import schedule_status

    rx = load_prescription(write(tmp_path, GOOD))
    d = dt.date(2026, 12, 8)
    s = schedule_status(rx, [d - dt.timedelta(days=1), d], dt.datetime(2026, 12, 8, 12, 0))
    assert s == {"protocol": "hamstrings-met", "next_reminder": "2026-12-08T18:00",
                 "done_today": 1, "due_today": 2, "adherence": 0.5,
                 "start": "2026-12-07", "days": 14}
    before = schedule_status(rx, [], dt.datetime(2026, 12, 1, 9, 0))
    assert (before["due_today"], before["adherence"], before["next_reminder"]) == (
        0, None, "2026-12-07T08:00")
