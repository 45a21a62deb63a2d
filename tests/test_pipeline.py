"""The pure pipeline: bad packets are counted and survived; losses become gap events."""

from __future__ import annotations

import dataclasses

from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.sim import packetize
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sim.script import Artifacts
from isofeedback.sources.simulated import simulate_for_profile
from isofeedback.types import Event, EventType, Packet


def _session(profile: str, **script_changes: object) -> tuple[Pipeline, list[Packet]]:
    prof = find_profile(profile)
    protocol = dataclasses.replace(find_protocol("pir"), reps=2)
    script = dataclasses.replace(follow_protocol(protocol, seed=5, level=0.18),
                                 **script_changes)  # type: ignore[arg-type]
    packets = packetize(simulate_for_profile(script, prof), prof)
    return Pipeline({"sim": prof}, protocol), packets


def _events(outputs: list[object], kind: EventType) -> list[Event]:
    return [o for o in outputs if isinstance(o, Event) and o.type == kind]


def test_malformed_and_foreign_packets_are_counted_and_the_session_goes_on() -> None:
    pipe, packets = _session("myo")
    emg_char = packets[0].characteristic
    outputs = []
    for i, p in enumerate(packets):
        if i % 500 == 250:
            outputs += pipe.feed(Packet("sim", emg_char, p.data[:5], p.t_arrival))  # short
            outputs += pipe.feed(
                Packet("sim", "0000ffff-0000-1000-8000-00805f9b34fb", b"x", p.t_arrival)
            )
            outputs += pipe.feed(Packet("ghost", emg_char, p.data, p.t_arrival))
        outputs += pipe.feed(p)
    bad = 3 * len(range(250, len(packets), 500))
    assert pipe.stats.bad_packets == bad
    assert pipe.stats.last_error == "packet from unknown device 'ghost'"
    assert len(_events(outputs, EventType.ONSET)) == 3  # the gentle reference + 2 reps
    assert pipe.coach.phase == "done"


def test_lost_packets_without_counter_become_a_gap_event() -> None:
    pipe, packets = _session("myo", disconnects=((20.0, 21.5),))  # a reconnect takes > 1 s
    outputs = [o for p in packets for o in pipe.feed(p)]
    gaps = _events(outputs, EventType.GAP)
    emg_gaps = [g for g in gaps if g.detail["stream"] == "emg"]
    assert len(emg_gaps) == 1
    assert abs(float(emg_gaps[0].value or 0) - 1.5) < 0.05
    assert abs(emg_gaps[0].t - 21.5) < 0.05


def test_same_packets_same_outputs() -> None:
    pipe_a, packets = _session("myo")
    pipe_b = Pipeline(pipe_a.profiles, pipe_a.protocol)
    out_a = [o for p in packets for o in pipe_a.feed(p)]
    out_b = [o for p in packets for o in pipe_b.feed(p)]
    assert out_a == out_b


def test_a_session_under_the_other_mains_is_notched_and_said_once() -> None:
    """A patient's sensor under 60 Hz mains with the 50 Hz default: the live pipeline's
    chain notches 60 Hz after the rest calibration, the reps are detected, the quality
    watch says the notched hum once (no quality issue), and packet-by-packet and bulk
    feeding give the same outputs."""
    from isofeedback.detectors.signal_quality import notched_hum_note

    pipe, packets = _session("openemg", artifacts=Artifacts(mains_hz=60.0, mains_level=3.0))
    outputs = [o for p in packets for o in pipe.feed(p)]
    (said,) = [e for e in _events(outputs, EventType.SIGNAL_QUALITY)
               if e.detail["issue"] == "mains"]
    assert said.detail["state"] == "notched" and said.detail["hz"] == 60.0
    assert pipe.emg_chain is not None and pipe.emg_chain.mains_hz == 60.0
    assert len(_events(outputs, EventType.ONSET)) == 3  # the gentle reference + 2 reps
    assert pipe.coach.phase == "done"
    assert notched_hum_note(outputs) == (
        "the EMG hummed at 60 Hz: notched at 60 Hz, not the configured 50 (set "
        "chain.mains_hz = 60 for this place)")
    bulk = Pipeline(pipe.profiles, pipe.protocol)
    assert bulk.feed_many(packets)[0] == outputs


def test_the_clinician_s_report_names_the_signal_s_problems() -> None:
    """The report a clinician reads of a home session says when an electrode came off, the
    converter clipped or the mains hummed (the recording's quality events), besides the
    reps."""
    from isofeedback.recording.report import build_report, report_html

    pipe, packets = _session("openemg", artifacts=Artifacts(mains_hz=60.0, mains_level=3.0))
    outputs = [o for p in packets for o in pipe.feed(p)]
    report = build_report(outputs, {"session": "s1"})
    assert report["signal"] == [
        "the EMG hummed at 60 Hz: notched at 60 Hz, not the configured 50 (set "
        "chain.mains_hz = 60 for this place)"]
    assert "<p>Signal: the EMG hummed at 60 Hz" in report_html(report)


def test_a_report_of_a_hand_edited_quality_event_is_no_traceback() -> None:
    """A recording edited by hand (a mains event without its frequency, a word for it)
    still gives a report: the values as they are, never a formatting error."""
    from isofeedback.recording.report import build_report, report_html

    events = [Event(EventType.SIGNAL_QUALITY, 1.0, 1.0, "emg", None,
                    {"issue": "mains", "state": "notched"}),
              Event(EventType.SIGNAL_QUALITY, 2.0, 2.0, "emg", None,
                    {"issue": "mains", "state": "start", "hz": "sixty"})]
    report = build_report(events, {})
    assert report["signal"][1].startswith("a sixty Hz mains hum not notched")
    assert "Signal:" in report_html(report)
