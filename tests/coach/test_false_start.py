"""A twitch while the coach waits (a heartbeat in trunk-muscle EMG, a start the patient
abandons at once) is a false start, not a repetition released early."""

from __future__ import annotations

from dataclasses import replace

from isofeedback.coach.protocol import find_protocol
from isofeedback.profiles.schema import find_profile
from isofeedback.sim import packetize
from isofeedback.sim.scenarios import scenario_script
from isofeedback.sim.script import Contraction, PatientScript
from isofeedback.sources.simulated import simulate_for_profile
from isofeedback.types import Feedback
from tests.coach.sessions import feed, trace
from tests.coach.test_scenarios import EXPECTED, HOLD

SHIFT_S = 2.0  # rep 2 and everything after it come this much later


def _with_twitch(script: PatientScript, k: int) -> PatientScript:
    """A 0.3 s burst at 15 % MVC (in the PIR band) where contraction ``k`` began;
    contraction ``k`` and all after it move ``SHIFT_S`` later."""
    at = script.contractions[k].onset
    twitch = Contraction(at, level=0.15, hold=0.2, ramp_up=0.05, ramp_down=0.05)
    later = tuple(replace(c, onset=c.onset + SHIFT_S) for c in script.contractions[k:])
    moves = tuple(replace(m, start=m.start + SHIFT_S) if m.start >= at else m
                  for m in script.movements)
    return replace(script, duration=script.duration + SHIFT_S, movements=moves,
                   contractions=(*script.contractions[:k], twitch, *later))


def test_a_twitch_while_waiting_is_a_false_start_not_a_released_rep() -> None:
    protocol = find_protocol("pir")
    profile = find_profile("myo")
    script = _with_twitch(scenario_script("clean", protocol), k=2)  # [reference, rep 1, rep 2, …]
    packets = packetize(simulate_for_profile(script, profile), profile)
    pipeline, out = feed(packets, protocol, live=True)
    got = trace(out)
    # the clean session, with one start that goes back to "waiting" before rep 2, and
    # silently: "hold" is said only once a false start is ruled out (0.5 s after onset)
    second = EXPECTED["clean"].index("rep:1:") + 4  # after "rep:1:" and the next-rep cues
    assert EXPECTED["clean"][second:second + len(HOLD)] == HOLD
    want = [*EXPECTED["clean"][:second], "phase:contracting", "phase:holding",
            "phase:waiting", *EXPECTED["clean"][second:]]
    assert got == want
    assert pipeline.coach.violations == []
    assert [r.violations for r in pipeline.coach.results] == [[], [], []]
    # every "hold" comes at least 0.5 s after its contraction's onset
    holds = [o.t for o in out if isinstance(o, Feedback) and o.kind == "cue"
             and o.payload["id"] == "hold"]
    assert len(holds) == 3
    for t, rep in zip(holds, pipeline.coach.results, strict=True):
        assert t - rep.onset_t >= 0.5 - 1e-9
