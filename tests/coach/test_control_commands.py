"""Coach.command: the patient's pause/resume, skip_rep, pain and stop, with exact times."""

from __future__ import annotations

import pytest

from tests.coach.driver import Driver, gentle_protocol

WAIT = ["phase:waiting", "cue:contract"]


def started() -> Driver:
    d = Driver.calibrated(gentle_protocol())
    assert d.trace() == ["phase:calibrating", "cue:calibrate_rest", *WAIT]
    return d


def test_pause_freezes_the_no_contraction_timeout_and_abandon() -> None:
    d = started()  # waiting since t = 1
    d.run(5.0)
    d.command("pause")
    d.run(60.0)  # longer than abandon_after_s (45 s): nothing may happen while paused
    assert d.trace()[-2:] == ["phase:paused", "cue:paused"]
    assert d.out[-1].payload["id"] == "paused" and not d.coach.finished
    n = len(d.out)
    d.command("resume")
    assert d.trace(n) == ["cue:resumed", "phase:waiting"]
    d.run(20.0)
    # 15 s of waiting that was not paused: 1 + 15 + 60
    assert d.when("cue", id="no_contraction") == pytest.approx(76.0, abs=0.06)


def test_pause_message_says_the_patient_paused_not_the_sensor() -> None:
    d = started()
    d.command("pause")
    phase = [o for o in d.out if o.kind == "phase"][-1]
    assert phase.payload["phase"] == "paused" and phase.payload["reason"] == "patient"


def test_pause_mid_stretch_keeps_the_remaining_stretch_time() -> None:
    d = started()
    d.contract(8.0)  # hold 7 s
    d.release()
    d.run(5.0)  # relax 5 s → stretching
    t_stretch = d.when("phase", phase="stretching")
    d.run(1.0)
    d.command("pause")
    d.run(30.0)
    d.command("resume")
    d.run(5.0)
    rep_t = d.when("rep", rep=1)
    assert rep_t - t_stretch == pytest.approx(4.0 + 30.0, abs=0.06)  # stretch_s + paused


def test_pause_mid_hold_repeats_the_repetition() -> None:
    d = started()
    d.contract(3.0)
    d.command("pause")
    d.release()  # the patient lets go during the pause: ignored
    d.run(10.0)
    n = len(d.out)
    d.command("resume")
    assert d.trace(n) == ["cue:resumed", "phase:waiting", "cue:repeat_rep", "cue:contract"]
    assert d.coach.rep == 1 and d.coach.interruptions == 1


def test_skip_rep_reports_it_skipped_and_goes_on() -> None:
    d = started()
    d.contract(3.0)
    n = len(d.out)
    d.command("skip_rep")
    assert d.trace(n) == ["rep:1:", "cue:rep_skipped", "phase:waiting", "cue:next_rep",
                          "cue:contract"]
    rep = next(o for o in d.out if o.kind == "rep")
    assert rep.payload["skipped"] is True
    s = d.coach.summary()
    assert s["reps_done"] == 0 and s["reps_skipped"] == 1


def test_skip_the_last_rep_ends_the_session() -> None:
    d = Driver.calibrated(gentle_protocol(reps=1))
    d.command("skip_rep")
    assert d.trace()[-4:] == ["phase:done", "cue:done", "summary", "progress"]
    assert d.coach.finished


def test_pain_mid_hold_stops_the_rep_and_the_session() -> None:
    d = started()
    d.contract(3.0)
    n = len(d.out)
    d.command("pain", 6)
    assert d.trace(n) == ["phase:stopped", "cue:pain_stop", "summary", "progress"]
    assert d.coach.finished
    s = d.coach.summary()
    assert s["complete"] is False and s["stop_reason"] == "pain 6/10 reported"
    assert s["pain"] == [{"t": d.t, "value": 6.0, "rep": 1}] and s["reps_done"] == 0


def test_pain_zero_is_only_recorded() -> None:
    d = started()
    n = len(d.out)
    d.command("pain", 0)
    assert d.trace(n) == [] and not d.coach.finished
    assert d.coach.summary()["pain"][0]["value"] == 0.0


def test_stop_ends_the_session_with_its_summary() -> None:
    d = started()
    d.contract(2.0)
    n = len(d.out)
    d.command("stop")
    assert d.trace(n) == ["phase:stopped", "cue:session_ended", "summary", "progress"]
    assert d.coach.finished and d.coach.summary()["stop_reason"] == "stopped by the patient"
    d.command("stop")  # once finished, nothing more
    d.command("resume")
    assert len(d.trace(n)) == 4


def test_start_once_started_resume_without_pause_and_a_second_pause_do_nothing() -> None:
    d = started()
    n = len(d.out)
    d.command("start")
    d.command("resume")
    assert d.out[n:] == []
    d.command("pause")
    d.command("pause")
    assert d.trace(n) == ["phase:paused", "cue:paused"]


def test_unknown_command_and_bad_pain_value_are_value_errors() -> None:
    d = started()
    with pytest.raises(ValueError, match="unknown control command 'jump'"):
        d.command("jump")
    with pytest.raises(ValueError, match="0–10"):
        d.command("pain", 11)
    with pytest.raises(ValueError, match="0–10"):
        d.command("pain")


def test_sensor_lost_during_the_patients_pause() -> None:
    d = started()
    d.contract(2.0)
    d.command("pause")
    n = len(d.out)
    d.out += d.coach.pause(d.t + 1)  # the sensor falls silent while paused
    assert d.trace(n) == ["cue:signal_lost"]
    d.t += 5
    d.command("resume")  # the sensor is still silent: its pause takes over
    assert d.trace(n)[1:] == ["cue:resumed", "phase:paused"]
    assert d.coach.phase == "paused"
    d.out += d.coach.resume(d.t + 2)
    assert d.trace(n)[3:] == ["clear:signal_lost", "cue:signal_back", "phase:waiting",
                              "cue:repeat_rep", "cue:contract"]


def test_a_protocol_stored_before_the_command_cues_existed_still_loads() -> None:
    import dataclasses

    from isofeedback.coach.protocol import ExerciseProtocol, find_protocol

    stored = dataclasses.asdict(find_protocol("pir"))
    for cue in ("paused", "resumed", "rep_skipped", "pain_stop", "session_ended"):
        del stored["cues"][cue]
    p = ExerciseProtocol(**stored)
    assert p.cue("paused").startswith("Paused") and p.cue("contract").startswith("Breathe in")
