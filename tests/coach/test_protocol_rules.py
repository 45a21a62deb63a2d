"""Every coaching rule of the shipped protocols, with a scripted patient: the exact phase /
cue / violation sequence live, identical when replayed, and from the recording file.

Protocols: upper trapezius PIR (5 reps, ROM plateau, pain stops), wrist flexors PIR (pain
switches to the antagonist), wrist extensors MET reciprocal inhibition (the antagonist's
channels, chronic stretch), hamstrings MET (chronic), hip flexors MET (acute; a moved or
too-weak repetition is not credited and is repeated)."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import pytest

from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.sim import packetize, protocol_script
from isofeedback.sources.simulated import simulate_for_profile
from isofeedback.types import Feedback
from tests.coach.sessions import Run, feed, record_and_replay, trace

START = ["phase:calibrating", "cue:setup", "cue:calibrate_rest", "phase:reference",
         "cue:reference", "cue:reference_done", "phase:recovering"]
# reciprocal inhibition: the reference contraction is the antagonist's, named
START_RI = [("cue:reference_antagonist" if c == "cue:reference" else c) for c in START]
HOLD = ["phase:contracting", "phase:holding", "cue:hold"]
RELEASE = ["phase:releasing", "cue:release", "phase:relaxing"]


def reps(n: int, contract: str = "contract", stretch: str = "stretch", first: int = 1,
         next_cue: str = "next_rep") -> list[str]:
    out: list[str] = []
    for k in range(first, first + n):
        cue = [] if k == 1 else [f"cue:{next_cue}"]
        out += ["phase:waiting", *cue, f"cue:{contract}", *HOLD, *RELEASE, "phase:stretching",
                f"cue:{stretch}", f"rep:{k}:"]
    return out


END = ["phase:done", "cue:done", "summary", "progress"]
BROKEN = ["phase:waiting", "cue:next_rep", "cue:contract", *HOLD]
AGAIN = ["phase:waiting", "cue:repeat_broken", "cue:contract", *HOLD, *RELEASE,
         "phase:stretching", "cue:stretch", "rep:2:"]

CASES: dict[tuple[str, str], list[str]] = {
    # 5 planned; the stretch gains 4 degrees, then nothing: the set ends after rep 3
    ("upper-trapezius-pir", "plateau"): [*START, *reps(3), "phase:done", "cue:rom_plateau",
                                         "summary", "progress"],
    # pain 6/10 mid-hold, rule "stop": the repetition and the session stop
    ("upper-trapezius-pir", "pain"): [*START, *reps(1), "phase:waiting", "cue:next_rep",
                                      "cue:contract", *HOLD, "phase:stopped", "cue:pain_stop",
                                      "summary", "progress"],
    # pain mid-hold, rule "antagonist": rest measured again on the extensors' channels, a
    # gentle reference with them, and repetition 2 is done again with the antagonist
    ("wrist-flexors-pir", "pain_switch"): [
        *START, *reps(1), "phase:waiting", "cue:next_rep", "cue:contract", *HOLD,
        "cue:pain_switch", "phase:calibrating", "cue:calibrate_rest", "phase:reference",
        "cue:reference_antagonist", "cue:reference_done", "phase:recovering",
        *reps(2, "contract_antagonist", first=2), *END],
    # reciprocal inhibition: the antagonist contracts; chronic stretch held 30 s
    ("wrist-extensors-met-ri", "clean"): [*START_RI, *reps(3, "contract_antagonist",
                                                            "stretch_hold"), *END],
    ("hamstrings-met", "clean"): [*START, *reps(3, stretch="stretch_hold"), *END],
    ("hip-flexors-met", "clean"): [*START, *reps(3), *END],
    # a moved repetition is not credited and is repeated
    ("hip-flexors-met", "moved"): [
        *START, *reps(1), *BROKEN, "cue:keep_still!moved", "clear:keep_still", *RELEASE,
        "phase:stretching", "cue:stretch", "rep:2:moved", *AGAIN,
        *reps(1, first=3), *END],
    # a too-weak hold is not credited (hold in the band only) and is repeated
    ("hip-flexors-met", "too_weak"): [
        *START, *reps(1), *BROKEN, *["cue:stronger!too_weak"] * 3, "clear:stronger",
        *RELEASE, "phase:stretching", "cue:stretch", "rep:2:too_weak", *AGAIN,
        *reps(1, first=3), *END],
}
IDS = [f"{p}-{n}" for p, n in CASES]


@cache
def session(protocol: str, name: str) -> Run:
    """The live run, recorded to a file (with the pain patients' control command) and
    replayed from it with --verify."""
    live, from_file = record_and_replay(name, protocol, Path(tempfile.mkdtemp()))
    assert from_file.verified, from_file.difference
    assert trace(from_file.outputs) == trace(live.outputs)
    return live


@pytest.mark.parametrize(("protocol", "name"), list(CASES), ids=IDS)
def test_rule_sequence_live_and_from_the_recording(protocol: str, name: str) -> None:
    assert trace(session(protocol, name).outputs) == CASES[protocol, name]


def summary(protocol: str, name: str) -> dict[str, object]:
    out = [o for o in session(protocol, name).outputs
           if isinstance(o, Feedback) and o.kind == "summary"]
    return dict(out[-1].payload)


def test_a_weak_hold_is_not_credited_and_its_hold_time_counts_in_band_only() -> None:
    s = summary("hip-flexors-met", "too_weak")
    weak = s["reps"][1]  # type: ignore[index]
    assert weak["violations"] == ["too_weak"] and weak["credited"] is False
    assert weak["hold_s"] >= 7.0 and weak["hold_in_band_s"] < 1.0
    assert s["reps_credited"] == 3 and s["reps_done"] == 4


def test_the_stretch_lasts_as_the_protocol_says_acute_or_chronic() -> None:
    for protocol, seconds in (("hip-flexors-met", 5.0), ("hamstrings-met", 20.0),
                              ("wrist-extensors-met-ri", 30.0)):
        out = [o for o in session(protocol, "clean").outputs if isinstance(o, Feedback)]
        starts = [o.t for o in out if o.kind == "phase" and o.payload["phase"] == "stretching"]
        ends = [o.t for o in out if o.kind == "rep"]
        assert [round(e - s, 1) for s, e in zip(starts, ends, strict=True)] == [seconds] * 3
        assert all(o.payload["duration_s"] == seconds for o in out
                   if o.kind == "phase" and o.payload["phase"] == "stretching")


def test_plateau_and_pain_are_in_the_summary() -> None:
    s = summary("upper-trapezius-pir", "plateau")
    assert s["complete"] is True and s["reps_done"] == 3 and s["reps_planned"] == 5
    assert "less than 2°" in str(s["early_end"])
    s = summary("wrist-flexors-pir", "pain_switch")
    assert s["variant"] == "reciprocal_inhibition" and s["reps_credited"] == 3
    assert s["pain"][0]["value"] == 6.0 and "switched_to_antagonist_t" in s  # type: ignore[index]


def test_reciprocal_inhibition_listens_to_the_antagonist_not_the_target() -> None:
    """The same patient contracting the target muscle (extensor pods) instead of the
    antagonist: on the antagonist's channels the coach sees no contraction at all."""
    protocol = find_protocol("wrist-extensors-met-ri")
    script = protocol_script("met", reps=3, level=0.15, hold=protocol.hold_s,
                             relax=protocol.relax_s, stretch=protocol.stretch_s,
                             rest_before=4.0, seed=1, mvc_capture=False, reference=True,
                             channel=6)
    profile = find_profile("myo")
    packets = packetize(simulate_for_profile(script, profile), profile)
    pipeline, out = feed(packets, protocol, live=True)
    assert isinstance(pipeline, Pipeline)
    tr = trace(out)
    assert "cue:reference_done" not in tr and tr[-3:] == ["cue:calibration_failed", "summary",
                                                          "progress"]
    assert pipeline.coach.stop_reason == "no gentle reference contraction for the calibration"
