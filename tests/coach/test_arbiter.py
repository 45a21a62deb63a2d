"""The cue arbiter on its own: contradictions silenced, warnings ended by phase changes."""

from __future__ import annotations

from isofeedback.coach.arbiter import CueArbiter
from isofeedback.types import Feedback


def cue(cue_id: str, t: float = 1.0, severity: str = "info") -> Feedback:
    return Feedback("cue", t, {"id": cue_id, "text": cue_id, "severity": severity, "rep": 1})


def phase(name: str, t: float = 1.0) -> Feedback:
    return Feedback("phase", t, {"phase": name, "rep": 1, "reps": 3})


def ids(out: list[Feedback]) -> list[str]:
    return [f"{o.payload.get('clears', o.payload.get('id', o.payload.get('phase')))}"
            f"{'(cleared)' if 'clears' in o.payload else ''}" for o in out]


def test_relax_fully_and_stretch_never_go_out_together() -> None:
    a = CueArbiter()
    out = a.settle([cue("relax_fully", severity="warning"), phase("stretching"),
                    cue("stretch")], rep=1)
    # the warning wins the instant; the stretching phase then ends it
    assert ids(out) == ["relax_fully", "relax_fully(cleared)", "stretching"]


def test_a_warning_ends_when_its_phases_end_and_only_once() -> None:
    a = CueArbiter()
    a.settle([phase("holding"), cue("keep_still", severity="warning")], rep=1)
    assert ids(a.settle([phase("releasing", 2.0)], rep=1)) == ["keep_still(cleared)",
                                                              "releasing"]
    assert ids(a.settle([phase("relaxing", 3.0)], rep=1)) == ["relaxing"]
    assert a.clear(["keep_still"], 3.0, 1) == []


def test_safety_cues_silence_instructions() -> None:
    out = CueArbiter().settle([cue("contract"), cue("pain_stop", severity="warning")], rep=1)
    assert ids(out) == ["pain_stop"]


def test_the_terminal_view_takes_a_cleared_warning_down() -> None:
    import io

    from rich.console import Console

    from isofeedback.sinks.terminal import TerminalView

    out = io.StringIO()
    view = TerminalView(Console(file=out, force_terminal=False, width=100))
    a = CueArbiter()
    for fb in a.settle([phase("holding"), cue("keep_still", severity="warning")], rep=1):
        view.submit(fb)
    assert view._warning["id"] == "keep_still"
    for fb in a.settle([phase("releasing", 2.0)], rep=1):
        view.submit(fb)
    assert view._warning == {}
    assert out.getvalue().count("\n") == 3  # two phases and the warning; the end is silent
