"""The summary the terminal prints at the end of a session, as the patient reads it."""

from __future__ import annotations

from rich.console import Console

from isofeedback.coach.protocol import find_protocol
from isofeedback.control import Control
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.service import SessionResult
from isofeedback.session.summary import print_summary

MQTT = {"published": 12, "live_dropped": 0}


def _printed(result: SessionResult) -> str:
    console = Console(record=True, width=80)
    print_summary(console, result, MQTT, "p1-test")
    return " ".join(console.export_text().split())


def test_a_session_stopped_before_any_rep_says_so() -> None:
    """Stopped during the first repetition: no empty table and no "mean hold 0.0 s" (no
    hold was done), but that no repetition finished and why the session ended."""
    pipeline = Pipeline({"arm": find_profile("myo")}, find_protocol("pir"))
    pipeline.control(Control("stop", "phone-1", t=5.0, origin="mqtt"))
    text = _printed(SessionResult(summary=pipeline.coach.summary(), wall_s=5.0))
    assert "mean hold" not in text and "rep hold" not in text, text
    assert "no repetition finished (0 of 3)" in text
    assert "Ended early: stopped by the patient" in text


def test_a_finished_session_keeps_its_table_and_mean_hold() -> None:
    summary = {"reps_done": 1, "reps_planned": 1, "mean_hold_s": 7.0, "unit": "%ref",
               "violations": [], "stop_reason": "",
               "reps": [{"rep": 1, "hold_s": 7.0, "hold_in_band_s": 6.5,
                         "mean_intensity": 90.0, "peak_intensity": 110.0,
                         "relax_residual": 1.0, "rom_deg": 4.0, "rom_gain_deg": 4.0,
                         "violations": [], "credited": True}]}
    text = _printed(SessionResult(summary=summary, wall_s=30.0))
    assert "mean hold 7.0 s" in text and "1/1 reps" in text and "Ended early" not in text
