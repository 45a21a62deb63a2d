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


def _printed(result: SessionResult, width: int = 80) -> str:
    console = Console(record=True, width=width)
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


def test_a_narrow_terminal_gets_every_figure_whole() -> None:
    """A phone's terminal or a split pane: the table would cut its figures ("109…") and
    headers ("in ba…"); each repetition is a line instead, every figure whole."""
    rep = {"hold_s": 7.0, "hold_in_band_s": 6.5, "mean_intensity": 109.4,
           "peak_intensity": 123.1, "relax_residual": 0.0, "rom_deg": 12.3,
           "rom_gain_deg": 4.0, "violations": [], "credited": True}
    summary = {"reps_done": 2, "reps_planned": 2, "mean_hold_s": 7.0, "unit": "%ref",
               "violations": ["moved"], "stop_reason": "",
               "reps": [{**rep, "rep": 1},
                        {**rep, "rep": 2, "violations": ["moved"], "credited": False,
                         "rom_deg": None, "rom_gain_deg": None}]}
    wide = _printed(SessionResult(summary=summary, wall_s=30.0))
    assert "rep hold in band mean peak after ROM ° gain ° problems" in wide
    for width in (56, 40):
        text = _printed(SessionResult(summary=summary, wall_s=30.0), width)
        assert "…" not in text, text
        assert ("Rep 1: hold 7.0 s (6.5 s in band), mean 109.4, peak 123.1, after 0.0; "
                "ROM 12.3° (+4.0°); no problems") in text
        assert "Rep 2: hold 7.0 s" in text and "ROM not measured; moved, not credited" in text
        assert "mean hold 7.0 s" in text


def test_a_limit_the_sensor_raised_is_said_under_the_table() -> None:
    """An "after" of 8.3 with no problem next to a prescribed 5 would read as an
    oversight: when the sensor's noise raised the relaxed limit (``relax_limit`` in the
    repetitions), the caption says up to where the muscle counted as relaxed; a summary
    recorded before the rule says nothing of it."""
    rep = {"hold_s": 7.0, "hold_in_band_s": 6.5, "mean_intensity": 109.4,
           "peak_intensity": 123.1, "relax_residual": 8.3, "rom_deg": 12.3,
           "rom_gain_deg": 4.0, "violations": [], "credited": True}
    summary = {"reps_done": 2, "reps_planned": 2, "mean_hold_s": 7.0, "unit": "%ref",
               "violations": [], "stop_reason": "",
               "reps": [{**rep, "rep": 1, "relax_limit": 10.66},
                        {**rep, "rep": 2, "relax_limit": 11.12}]}
    for width in (80, 40):  # the table's caption, and the lines of a narrow terminal
        text = _printed(SessionResult(summary=summary, wall_s=30.0), width)
        assert "counted as relaxed up to 10.7-11.1 (the sensor's rest noise)" in text, text
    old = {**summary, "reps": [{**rep, "rep": 1}, {**rep, "rep": 2}]}
    assert "relaxed up to" not in _printed(SessionResult(summary=old, wall_s=30.0))
