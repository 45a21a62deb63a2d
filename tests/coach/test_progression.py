"""Progression across sessions: the hold is lengthened after good sessions, shortened after
pain or poor holds, never beyond the protocol's limits; the coach announces it, the summary
and ``progress`` show it, and a recording replays it without the history."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from isofeedback.coach.progress import hold_text, progress_report
from isofeedback.coach.progression import plan_hold, progressed
from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.recording.replay import replay
from isofeedback.recording.writer import Recorder
from isofeedback.sim import packetize
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sources.simulated import simulate_for_profile
from isofeedback.types import Feedback
from tests.coach.sessions import trace

PIR = find_protocol("pir")  # hold 7 s, +1 s after 2 good sessions, at most 10 s


def session(hold: float = 7.0, quality: float = 0.9, complete: bool = True,
            pain: float = 0.0, **other: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"technique": "pir", "variant": "post_isometric",
                         "muscle": "wrist flexors", "side": "right", "complete": complete,
                         "hold_quality": quality, "hold_target_s": hold, **other}
    if pain:
        s["pain"] = [{"t": 20.0, "value": pain, "rep": 2}]
    return s


GOOD7, GOOD8, GOOD10 = session(7.0), session(8.0), session(10.0)

# (history, the next hold, the change)
RULES: list[tuple[list[dict[str, Any]], float, str]] = [
    ([], 7.0, "first"),
    ([GOOD7], 7.0, "same"),  # one good session is not yet two
    ([GOOD7, GOOD7], 8.0, "longer"),
    ([GOOD7, GOOD7, GOOD8], 8.0, "same"),  # two good ones at the new hold first
    ([GOOD7, GOOD7, GOOD8, GOOD8], 9.0, "longer"),
    ([GOOD10, GOOD10], 10.0, "same"),  # hold_max_s
    ([GOOD7, session(8.0, pain=3.0)], 7.0, "shorter"),  # pain steps back
    ([session(7.0, pain=2.0)], 7.0, "same"),  # ... never below the prescribed hold
    ([GOOD8, session(9.0, quality=0.4)], 8.0, "shorter"),  # a poor hold steps back
    ([GOOD7, session(7.0, quality=0.7)], 7.0, "same"),  # between the two thresholds
    ([GOOD7, session(7.0, complete=False)], 7.0, "same"),  # stopped, not painful: no step
    ([GOOD7, GOOD7, session(7.0, technique="met")], 8.0, "longer"),  # other techniques
    ([GOOD7, GOOD7, session(7.0, muscle="upper trapezius")], 8.0, "longer"),  # and muscles
    ([GOOD8, session(8.0, variant="reciprocal_inhibition", switched_to_antagonist_t=30.0,
                     pain=6.0)], 7.0, "shorter"),  # pain switched it to the antagonist
    ([session(12.0), session(12.0)], 10.0, "same"),  # a hold above the limit: clamped
]


@pytest.mark.parametrize(("history", "hold", "change"), RULES,
                         ids=[f"{i}-{c}" for i, (_, _, c) in enumerate(RULES)])
def test_the_progression_rule(history: list[dict[str, Any]], hold: float, change: str) -> None:
    plan = plan_hold(PIR, history)
    assert (plan.hold_s, plan.change) == (hold, change), plan.reason
    assert plan.reason


def test_a_protocol_without_progression_keeps_its_hold() -> None:
    mvc = find_protocol("pir-mvc")
    assert progressed(mvc, [GOOD7, GOOD7]) is mvc
    assert plan_hold(mvc, [GOOD7, GOOD7]).change == "off"


def test_the_coach_announces_the_change_and_the_summary_and_progress_show_it(
        tmp_path: Path) -> None:
    """Two good sessions, then a session built from the protocol and that history: 8 s,
    announced before the rest measurement; the patient holds 8 s; the recording keeps the
    decision in its protocol, so its replay (no history) says the same."""
    protocol = progressed(PIR, [GOOD7, GOOD7])
    assert protocol.hold_s == 8.0 and protocol.progression["previous_s"] == 7.0
    profile = find_profile("myo")
    profiles = {"sim": profile}
    script = follow_protocol(protocol, seed=4)
    packets = packetize(simulate_for_profile(script, profile), profile)
    pipeline = Pipeline(profiles, protocol)
    rec = Recorder.open_in(tmp_path, "progressed", profiles=profiles, protocol=protocol,
                           config=pipeline.config, patient="sim-patient", source="simulated",
                           simulated=True)
    out = []
    for p in packets:
        rec.on_packet(p)
        for o in pipeline.feed(p):
            rec.submit(o)
            out.append(o)
    rec.close({"packets": pipeline.stats.packets})
    assert trace(out)[:5] == ["phase:calibrating", "cue:setup", "cue:hold_longer",
                              "cue:calibrate_rest", "phase:reference"]
    cue = next(o for o in out if isinstance(o, Feedback) and o.payload.get("id") == "hold_longer")
    assert cue.payload["text"] == ("You did well last time: today hold each contraction for 8 "
                                   "seconds instead of 7. Hold longer, not harder.")
    summary = next(o.payload for o in out if isinstance(o, Feedback) and o.kind == "summary")
    assert summary["hold_target_s"] == 8.0 and summary["reps_credited"] == 3
    assert [r["hold_s"] for r in summary["reps"]] == pytest.approx([8.0] * 3, abs=0.05)
    assert summary["hold_progression"]["change"] == "longer"
    row = progress_report([GOOD7, GOOD7, summary], hold=True)["history"][-1]
    assert hold_text(row) == "8 (+1)"
    again = replay(rec.path, verify=True)
    assert again.verified, again.difference
    assert trace(again.outputs) == trace(out)


def test_a_stored_protocol_without_progression_fields_loads_unchanged() -> None:
    """Protocols stored in recordings made before the progression keys existed."""
    stored = dataclasses.asdict(find_protocol("pir-mvc"))
    for key in ("hold_step_s", "hold_max_s", "progress_after", "progress_quality",
                "regress_quality", "progression"):
        del stored[key]
    p = dataclasses.replace(find_protocol("pir-mvc"))
    assert dataclasses.asdict(type(p)(**stored)) == dataclasses.asdict(p)
