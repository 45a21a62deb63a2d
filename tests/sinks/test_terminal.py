"""Terminal view: what the patient sees (live panel) and what a log gets (plain lines)."""

from __future__ import annotations

import io

from rich.console import Console

from isofeedback.sinks.terminal import TerminalView
from isofeedback.types import Event, EventType, Feedback


def _feed(view: TerminalView) -> None:
    view.submit(Feedback("phase", 10.0, {"phase": "holding", "rep": 2, "reps": 3}))
    view.submit(Feedback("cue", 10.0, {"id": "hold", "text": "Good. Hold it steady.",
                                        "severity": "info"}))
    view.submit(Event(EventType.ONSET, 9.5, 9.6, "emg", 3.0))  # events are not shown
    view.submit(Feedback("cue", 12.0, {"id": "keep_still", "severity": "warning",
                                        "text": "Keep the joint still."}))
    view.submit(Feedback("level", 12.5, {"intensity": 20.0, "band": [10.0, 25.0],
                                          "unit": "%MVC", "phase": "holding",
                                          "hold_remaining_s": 3.5, "angle_deg": 6.25}))


def test_live_panel_shows_level_zone_phase_timer_joint_and_warning() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    with TerminalView(console, title="demo") as view:
        assert view.live_mode
        _feed(view)
    text = out.getvalue()
    last = text[text.rindex("demo"):]  # the final redraw
    assert "phase: holding   rep 2/3" in last
    assert "20.0 % of maximal  target 10–25" in last
    assert "hold:  3.5 s left" in last and "joint:   6.2°" in last
    assert "⚠ Keep the joint still." in last
    # 40 cells over 0–50 %MVC: 16 filled (to 20), the zone 10–25 drawn where not filled
    bar = next(line for line in last.splitlines() if "intensity" in line)
    assert bar.count("█") == 16 and bar.count("▒") == 4 and bar.count("░") == 20


def test_plain_output_is_one_line_per_phase_and_cue() -> None:
    out = io.StringIO()
    with TerminalView(Console(file=out, force_terminal=False, width=120)) as view:
        assert not view.live_mode
        _feed(view)
    assert out.getvalue().splitlines() == [
        "[  10.00 s] phase: holding rep 2/3",
        "[  10.00 s] > Good. Hold it steady.",
        "[  12.00 s] ! Keep the joint still.",
    ]


def test_no_target_while_the_reference_is_measured() -> None:
    """Before the gentle reference is measured the level is in rest-noise multiples and
    the protocol's band (in % of that reference) does not apply: no target, no zone."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    with TerminalView(console, title="demo") as view:
        view.submit(Feedback("phase", 5.0, {"phase": "reference", "rep": 0, "reps": 3}))
        view.submit(Feedback("level", 5.5, {"intensity": 92.7, "band": [50.0, 140.0],
                                             "unit": "x_rest", "phase": "reference",
                                             "angle_deg": 0.0}))
    last = out.getvalue()[out.getvalue().rindex("demo"):]
    bar = next(line for line in last.splitlines() if "intensity" in line)
    assert "92.7 × rest" in bar and "target" not in bar and "▒" not in bar, bar


def _quality(t: float, issue: str, state: str, channel: object = None) -> Event:
    return Event(EventType.SIGNAL_QUALITY, t, t, "emg", None,
                 {"issue": issue, "state": state, "channel": channel})


def test_signal_issues_are_said_and_taken_down() -> None:
    """What the page's signal light says, the terminal says too: an electrode off, a
    noisy sensor (detector version 22), while it lasts; a hum the chain notched itself
    (``state`` "notched") is not the patient's to act on."""
    out = io.StringIO()
    with TerminalView(Console(file=out, force_terminal=False, width=120)) as view:
        view.submit(_quality(3.0, "mains", "notched"))
        view.submit(_quality(18.7, "noisy", "start"))
        view.submit(_quality(20.0, "flat", "start", 2))
        view.submit(_quality(22.5, "flat", "end", 2))
    assert out.getvalue().splitlines() == [
        "[  18.70 s] ! signal: the sensor is noisy, press it gently onto the skin",
        "[  20.00 s] ! signal: no signal on channel 2, is the sensor on the skin?",
        "[  22.50 s] signal: flat ended",
    ]
    live = io.StringIO()
    console = Console(file=live, force_terminal=True, width=120, color_system=None)
    with TerminalView(console, title="demo") as view:
        _feed(view)
        view.submit(_quality(18.7, "noisy", "start"))
        view.submit(Feedback("level", 19.0, {"intensity": 1.0, "band": [10.0, 25.0]}))
    text = live.getvalue()
    last = text[text.rindex("demo"):]  # the panel as last drawn
    assert "signal: the sensor is noisy, press it gently onto the skin" in last
