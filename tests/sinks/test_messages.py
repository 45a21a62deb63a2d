"""The serializer's contract: topics, QoS/retain policy, envelope, seq, schema coverage."""

from __future__ import annotations

import json
import math
from typing import Any

import jsonschema
import numpy as np
import pytest

from isofeedback.sinks.messages import KINDS, Serializer, _clean, topic_prefix
from isofeedback.types import Event, EventType, Feedback


def _doc(payload: bytes) -> dict[str, Any]:
    return json.loads(payload)  # type: ignore[no-any-return]


def test_routes_and_policies() -> None:
    s = Serializer("p01", "s1", 1_700_000_000.0)
    level = s.message(Feedback("level", 1.0, {"intensity": 3.0}))
    assert (level.topic, level.qos, level.retain, level.droppable, level.expiry_s) == (
        "isofeedback/p01/live", 0, False, True, 2)
    state = s.message(Feedback("phase", 1.0, {"phase": "holding", "rep": 1, "reps": 3}))
    assert (state.topic, state.qos, state.retain, state.droppable) == (
        "isofeedback/p01/session/state", 1, True, False)
    ev = s.message(Event(EventType.ONSET, 0.9, 1.0, "emg", 2.0))
    assert (ev.topic, ev.qos, ev.retain) == ("isofeedback/p01/events", 1, False)
    status = s.status(False, 2.0, reason="connection lost", connection=1)
    assert (status.topic, status.qos, status.retain) == ("isofeedback/p01/status", 1, True)
    bat = s.device_battery("AA:BB:CC:DD:EE:FF", 80, 0.0)
    assert bat.topic == "isofeedback/p01/device/AA_BB_CC_DD_EE_FF/battery" and bat.retain
    assert _doc(bat.payload)["device"] == "AA:BB:CC:DD:EE:FF"


def test_envelope_seq_and_times() -> None:
    s = Serializer("p01", "s1", 1_700_000_000.0)
    a = _doc(s.message(Event(EventType.ONSET, 0.95, 1.0)).payload)
    live = _doc(s.message(Feedback("level", 1.0, {"intensity": 1.0})).payload)
    b = _doc(s.message(Feedback("cue", 1.0, {"id": "hold"})).payload)
    assert (a["seq"], b["seq"], live["seq"]) == (1, 2, 1)  # live levels count apart
    assert a["t"] == 1.0 and a["t_event"] == 0.95 and a["wall"] == "2023-11-14T22:13:21.000Z"
    assert {"schema", "kind", "patient", "session", "t", "wall"} <= set(b)
    status = _doc(s.status(True, 5.0, reason="connected", connection=1, wall=0.0).payload)
    assert status["wall"] == "1970-01-01T00:00:00.000Z" and status["t"] == 5.0
    assert "seq" not in status


def test_payload_fields_cannot_override_the_envelope() -> None:
    s = Serializer("p01", "s1", 0.0)
    doc = _doc(s.message(Feedback("cue", 1.0, {"id": "x", "t": 99, "session": "evil"})).payload)
    assert doc["t"] == 1.0 and doc["session"] == "s1"


def test_non_finite_numbers_become_null() -> None:
    s = Serializer("p01", "s1", 0.0)
    doc = _doc(s.message(Event(EventType.GAP, 1.0, 1.0, "dev", math.nan,
                               {"x": [math.inf, 1.5]})).payload)
    assert doc["value"] is None and doc["detail"] == {"x": [None, 1.5]}


def test_unknown_feedback_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="no MQTT route for feedback kind 'weather'"):
        Serializer("p01", "s1", 0.0).message(Feedback("weather", 1.0, {}))


@pytest.mark.parametrize("bad", ["", "a/b", "a#", "a+", "$SYS", "tab\t"])
def test_patient_id_must_be_one_safe_topic_level(bad: str) -> None:
    with pytest.raises(ValueError, match="pseudonym"):
        topic_prefix(bad)


def test_device_values_are_checked() -> None:
    s = Serializer("p01", "s1", 0.0)
    with pytest.raises(ValueError, match="battery percent"):
        s.device_battery("d", 120, 0.0)
    with pytest.raises(ValueError, match="packet loss"):
        s.device_quality("d", 0.0, ok=False, packet_loss=5.0)
    with pytest.raises(ValueError, match="device state"):
        s.device_availability("d", "asleep", 0.0)  # type: ignore[arg-type]


def test_every_kind_has_a_schema_and_every_event_type_is_in_it(payload_validator: Any) -> None:
    assert set(KINDS) == payload_validator.kinds
    s = Serializer("p01", "s1", 0.0)
    for et in EventType:
        payload_validator(_doc(s.message(Event(et, 1.0, 1.0, "x", 1.0)).payload))


def test_schemas_reject_what_the_contract_forbids(payload_validator: Any) -> None:
    s = Serializer("p01", "s1", 0.0)
    good = _doc(s.message(Event(EventType.ONSET, 1.0, 1.0)).payload)
    payload_validator(good)
    for broken in ({k: v for k, v in good.items() if k != "wall"}, {**good, "schema": 2},
                   {**good, "type": "sneeze"}, {**good, "t": "soon"}):
        with pytest.raises(jsonschema.ValidationError):
            payload_validator(broken)


def test_progress_from_the_coach_validates(payload_validator: Any) -> None:
    """The end-of-session progress the coach publishes (patient history kept)."""
    from isofeedback.coach.progress import progress_report

    history = [
        {"session": "a", "wall": "2026-11-20T10:00:00.000Z", "technique": "pir", "reps_done": 3,
         "reps_planned": 3, "complete": True, "rom_deg": 8.0, "hold_quality": 0.8},
        {"session": "b", "wall": "2026-11-22T10:00:00.000Z", "technique": "pir", "reps_done": 2,
         "reps_planned": 3, "complete": False, "rom_deg": None, "hold_quality": 0.6,
         "violations": ["moved"]},
    ]
    s = Serializer("p01", "s1", 1.7e9)
    msg = s.message(Feedback("progress", 60.0, progress_report(history)))
    assert msg.topic == "isofeedback/p01/progress" and msg.retain and msg.qos == 1
    payload_validator(_doc(msg.payload))


def test_status_says_where_the_data_comes_from_and_whether_the_joint_is_checked(
    payload_validator: Any,
) -> None:
    plain = _doc(Serializer("p01", "s", 0.0).status(True, 0.0, reason="connected",
                                                    connection=1).payload)
    assert "source" not in plain and "joint_checked" not in plain  # not said: not sent
    s = Serializer("p01", "s", 0.0, source="simulated", joint_checked=False)
    doc = _doc(s.status(True, 0.0, reason="connected", connection=1).payload)
    assert (doc["source"], doc["joint_checked"]) == ("simulated", False)
    payload_validator(doc)
    with pytest.raises(jsonschema.ValidationError):
        payload_validator({**doc, "source": "dream"})
    with pytest.raises(ValueError, match="live, simulated or replay"):
        Serializer("p01", "s", 0.0, source="dream")  # type: ignore[arg-type]


def test_level_with_joint_deviation_validates(payload_validator: Any) -> None:
    from isofeedback.coach.machine import Coach
    from isofeedback.coach.protocol import find_protocol

    coach = Coach(find_protocol("pir"))
    levels = [f for t in range(100) for f in coach.tick(t * 0.05, 0.0, 0.0)
              if f.kind == "level"]
    s = Serializer("p01", "s", 0.0)
    for f in levels[:3]:
        payload_validator(_doc(s.message(f).payload))
    doc = _doc(s.message(Feedback("level", 9.0, {
        **levels[0].payload, "phase": "holding", "hold_remaining_s": 3.0,
        "joint_deviation_deg": 1.5, "joint_limit_deg": 5.0})).payload)
    payload_validator(doc)
    with pytest.raises(jsonschema.ValidationError):
        payload_validator({**doc, "joint_deviation_deg": -1.0})


def test_a_retraction_names_the_seq_of_the_onset_it_withdraws(payload_validator: Any) -> None:
    s = Serializer("p01", "s1", 0.0)
    onset = Event(EventType.ONSET, 1.0, 1.05, "emg", 12.0)
    docs = [json.loads(s.message(e).payload) for e in (
        onset,
        Event(EventType.RELEASE, 1.2, 1.4, "emg"),
        Event(EventType.RETRACTED, 1.0, 1.4, "emg", None, {"onset_decided": 1.05}),
        # a retraction that names no onset seen by this serializer gets no seq to name
        Event(EventType.RETRACTED, 7.0, 7.4, "emg", None, {"onset_decided": 7.05}),
    )]
    assert docs[2]["type"] == "retracted" and docs[2]["retracts"] == docs[0]["seq"]
    assert docs[2]["t_event"] == docs[0]["t_event"] and "retracts" not in docs[3]
    for d in docs:
        payload_validator(d)


def test_a_refined_onset_names_the_seq_of_the_onset_it_re_times(
        payload_validator: Any) -> None:
    s = Serializer("p01", "s1", 0.0)
    docs = [json.loads(s.message(e).payload) for e in (
        Event(EventType.ONSET, 1.0, 1.05, "emg", 12.0),
        Event(EventType.ONSET_REFINED, 0.985, 1.15, "emg", None,
              {"onset_t": 1.0, "onset_decided": 1.05}),
        # one naming an onset this serializer did not see gets no seq
        Event(EventType.ONSET_REFINED, 6.985, 7.15, "emg", None,
              {"onset_t": 7.0, "onset_decided": 7.05}),
    )]
    assert docs[1]["type"] == "onset_refined" and docs[1]["refines"] == docs[0]["seq"]
    assert docs[1]["t_event"] == 0.985 and docs[1]["detail"]["onset_t"] == docs[0]["t_event"]
    assert "refines" not in docs[2] and "retracts" not in docs[1]
    for d in docs:
        payload_validator(d)


def test_clean_and_encode_keep_the_bytes() -> None:
    """The exact-type shortcuts of ``_clean`` and the shared encoder give what the
    general checks and ``json.dumps`` give, for every kind of payload value."""
    body = {"a": 1.5, "b": float("nan"), "c": np.float64(2.5), "d": np.float64("inf"),
            "e": (1, 2.0, {"x": float("-inf")}), "f": True, "g": None, "h": "s", 3: [np.int64(4)],
            "i": {"j": {"k": np.float32(0.5)}}}
    assert _clean(body) == {"a": 1.5, "b": None, "c": 2.5, "d": None,
                            "e": [1, 2.0, {"x": None}], "f": True, "g": None, "h": "s",
                            "3": [4], "i": {"j": {"k": 0.5}}}
    doc = {"z": 1, "a": [1.25, None, "é"], "m": {"b": False, "a": 0.1}}
    assert Serializer.encode(doc) == json.dumps(doc, separators=(",", ":"), sort_keys=True,
                                                allow_nan=False).encode()


def test_the_quality_message_words_each_issue_as_the_terminal_does(
        payload_validator: Any) -> None:
    """The page's signal light shows the quality message's ``words`` (it keeps no phrases
    of its own), so the patient reads on the page what the terminal says."""
    from isofeedback.sinks.signal_words import signal_words

    issues = ("flat", "mains", "noisy", "saturation", "unknown")
    doc = _doc(Serializer("p01", "s1", 0.0).device_quality("d", 1.0, ok=False,
                                                           issues=issues).payload)
    payload_validator(doc)
    assert doc["issues"] == list(issues)
    assert doc["words"] == [signal_words(i) for i in issues]
    assert doc["words"][2] == "the sensor is noisy, press it gently onto the skin"
    assert doc["words"][4] == "unknown"
