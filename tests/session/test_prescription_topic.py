"""The clinician's loop end to end over a real Mosquitto: a retained prescription is
validated, stored for the next sessions (never applied to the running one) and
acknowledged; an invalid one or another patient's is refused with its reason and changes
nothing; the retained schedule is published at the session's start and end; the gateway's
reminder goes out at the prescribed time only while no session runs."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import aiomqtt
from rich.console import Console

from isofeedback.coach.calibration_store import PatientStore
from isofeedback.coach.prescription import APPLIES
from isofeedback.session import SessionPlan, StorePlan, open_session
from isofeedback.session.patient_data import prescribed_protocol
from isofeedback.sinks.mqtt import BrokerSettings
from tests.session.plans import simulated_plan


def _plan(patient: str, mosquitto: Any, store: Path, out: io.StringIO) -> SessionPlan:
    return simulated_plan(patient, mosquitto, out, store=StorePlan(store, "myo", "sim"))


def _rx(patient: str, **patient_keys: Any) -> dict[str, Any]:
    return {"prescription": {"patient": patient, "protocol": "hip-flexors-met",
                             "times_per_day": 2, "days": 14,
                             "start": dt.date.today().isoformat(),
                             "reminders": ["08:00", "18:00"]},
            "patient": {"side": "left", **patient_keys}}


async def test_a_prescription_is_stored_acknowledged_and_refused_when_invalid(
    mosquitto: Any, patient: str, tmp_path: Path, payload_validator: Any
) -> None:
    prefix = f"isofeedback/{patient}"
    good = _rx(patient)
    seen: list[dict[str, Any]] = []
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as clinician:
        # sent while the gateway is away: retained, it is there when the session starts
        await clinician.publish(f"{prefix}/prescription", json.dumps(good), qos=1, retain=True)
        out = io.StringIO()
        session = asyncio.create_task(open_session(_plan(patient, mosquitto, tmp_path, out)))
        await clinician.subscribe(f"{prefix}/#", qos=1)

        async def wait_for(pred: Any, timeout: float = 60.0) -> dict[str, Any]:
            async with asyncio.timeout(timeout):
                async for msg in clinician.messages:
                    assert isinstance(msg.payload, bytes)
                    if not msg.payload or str(msg.topic).endswith(("/prescription",
                                                                   "/control")):
                        continue
                    doc = json.loads(msg.payload)
                    doc["_topic"], doc["_retain"] = str(msg.topic), bool(msg.retain)
                    seen.append(doc)
                    if pred(doc):
                        return doc
            raise AssertionError(f"not seen; got {[d.get('kind') for d in seen]}")

        def kind(k: str) -> Any:
            return lambda d: d.get("kind") == k and not d["_retain"]

        ack = await wait_for(kind("prescription_ack"))
        assert ack["accepted"] and ack["reason"] == APPLIES, ack
        assert ack["_topic"] == f"{prefix}/prescription/ack"
        assert ack["prescription"]["protocol"] == "hip-flexors-met"
        store = PatientStore(tmp_path, patient)
        assert store.prescription_doc() == good
        sched = await wait_for(kind("schedule"))
        assert (sched["protocol"], sched["due_today"], sched["done_today"]) == (
            "hip-flexors-met", 2, 0)
        await wait_for(lambda d: d.get("kind") == "phase" and d["phase"] == "holding")
        # refused: invalid, another patient's, not JSON — each with its reason, nothing kept
        for doc, words in [(_rx(patient, hold_s=-5.0), "patient.hold_s"),
                           (_rx("someone-else"), "not this patient's")]:
            await clinician.publish(f"{prefix}/prescription", json.dumps(doc), qos=1,
                                    retain=True)
            ack = await wait_for(kind("prescription_ack"))
            assert not ack["accepted"] and words in ack["reason"], ack
            assert ack["prescription"] is None
            assert ack["t"] > 0.0  # mid-session: its time, not the session's start
        await clinician.publish(f"{prefix}/prescription", b"{oops", qos=1, retain=True)
        ack = await wait_for(kind("prescription_ack"))
        assert not ack["accepted"] and "not JSON" in ack["reason"]
        assert store.prescription_doc() == good
        await clinician.publish(f"{prefix}/control", json.dumps(
            {"schema": 1, "command": "stop", "id": "s1"}), qos=1)
        summary = await wait_for(kind("summary"))
        end = await wait_for(kind("schedule"))
        # stopped during its first hold: no repetition done, no exercise for adherence
        assert summary["reps_done"] == 0
        assert (end["done_today"], end["due_today"]) == (0, 2)
        await clinician.publish(f"{prefix}/prescription", b"", qos=1, retain=True)
    outcome = await asyncio.wait_for(session, 30)
    assert outcome.exit_code == 0, out.getvalue()
    # the running session kept its protocol; the next one gets the prescribed one
    assert (summary["muscle"], summary["side"]) == ("wrist flexors", "right"), summary
    nxt = prescribed_protocol(store, Console(file=io.StringIO()))
    assert nxt is not None and (nxt.muscle, nxt.side) == ("hip flexors", "left")
    for doc in seen:
        payload_validator({k: v for k, v in doc.items() if not k.startswith("_")})


async def test_the_gateway_reminds_at_the_prescribed_time_only_when_no_session_runs(
    mosquitto: Any, patient: str, tmp_path: Path, payload_validator: Any
) -> None:
    from isofeedback.session.runner import SessionOutcome, _Session, remind
    from isofeedback.sinks.messages import Serializer
    from isofeedback.sinks.mqtt import MqttPublisher

    doc = _rx(patient)
    doc["prescription"]["start"] = "2026-12-07"
    PatientStore(tmp_path, patient).save_prescription(doc)
    out = io.StringIO()
    plan = _plan(patient, mosquitto, tmp_path, out)
    serializer = Serializer(patient, "gw", 0.0)
    publisher = MqttPublisher(BrokerSettings(mosquitto.host, mosquitto.port), serializer)
    session = _Session(plan, publisher, serializer, SessionOutcome("gw"))
    clock = [dt.datetime(2026, 12, 7, 7, 58)]  # the gateway's local clock, driven here
    past_evening = asyncio.Event()

    async def sleep(seconds: float) -> None:
        clock[0] += dt.timedelta(seconds=seconds)
        if clock[0] >= dt.datetime(2026, 12, 7, 12, 0):
            session.stops.running = True  # a session runs over the evening reminder
        if clock[0] > dt.datetime(2026, 12, 7, 18, 5):
            past_evening.set()
            await asyncio.Event().wait()  # until cancelled
        await asyncio.sleep(0)

    got: list[dict[str, Any]] = []
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as phone:
        await phone.subscribe(f"isofeedback/{patient}/#", qos=1)
        async with publisher:
            task = asyncio.create_task(remind(session, now=lambda: clock[0], sleep=sleep))
            await asyncio.wait_for(past_evening.wait(), 30)
            task.cancel()
            await publisher.wait_connected(5)
        async with asyncio.timeout(10):
            async for msg in phone.messages:
                assert isinstance(msg.payload, bytes)
                if msg.payload:
                    got.append(json.loads(msg.payload))
                if got and got[-1].get("kind") == "status" and got[-1]["state"] == "offline":
                    break
    reminders = [d for d in got if d["kind"] == "reminder"]
    assert [(d["due"], d["text"]) for d in reminders] == [
        ("2026-12-07T08:00", "Time for your exercise session")], got
    sched = next(d for d in got if d["kind"] == "schedule")
    assert (sched["next_reminder"], sched["due_today"]) == ("2026-12-07T18:00", 2)
    for d in got:
        payload_validator(d)


async def test_the_reminder_goes_out_on_the_real_clock_at_its_minute_not_before(
    mosquitto: Any, patient: str, tmp_path: Path, payload_validator: Any
) -> None:
    """The gateway's reminder loop on the real clock (``asyncio.sleep`` and the local time
    going forward), shifted so that the next minute is 3 s away: a prescription whose one
    reminder is that minute. The reminder must come, not before its minute, and only once.
    Only a generous guard against a hang bounds the wait."""
    from isofeedback.session.runner import SessionOutcome, _Session, remind
    from isofeedback.sinks.messages import Serializer
    from isofeedback.sinks.mqtt import MqttPublisher

    real = dt.datetime.now()
    due = real.replace(second=0, microsecond=0) + dt.timedelta(minutes=2)
    offset = (due - dt.timedelta(seconds=3)) - real

    def now() -> dt.datetime:
        return dt.datetime.now() + offset

    doc = _rx(patient)
    doc["prescription"].update(times_per_day=1, start=now().date().isoformat(),
                               reminders=[due.strftime("%H:%M")])
    PatientStore(tmp_path, patient).save_prescription(doc)
    plan = _plan(patient, mosquitto, tmp_path, io.StringIO())
    serializer = Serializer(patient, "gw", 0.0)
    publisher = MqttPublisher(BrokerSettings(mosquitto.host, mosquitto.port), serializer)
    session = _Session(plan, publisher, serializer, SessionOutcome("gw"))
    got: list[tuple[dt.datetime, dict[str, Any]]] = []
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as phone:
        await phone.subscribe(f"isofeedback/{patient}/#", qos=1)
        async with publisher:
            task = asyncio.create_task(remind(session, now=now))

            async def collect(until: Any) -> None:
                async for msg in phone.messages:
                    assert isinstance(msg.payload, bytes)
                    if msg.payload:
                        got.append((now(), json.loads(msg.payload)))
                    if until():
                        return
            try:
                async with asyncio.timeout(60):  # hang guard only: the wait is 3 s
                    await collect(lambda: any(d["kind"] == "schedule" for _, d in got))
                with contextlib.suppress(TimeoutError):  # a second reminder would be here
                    async with asyncio.timeout(2.0):
                        await collect(lambda: False)
            finally:
                task.cancel()
    reminders = [(t, d) for t, d in got if d["kind"] == "reminder"]
    assert [d["due"] for _, d in reminders] == [due.isoformat(timespec="minutes")], got
    assert reminders[0][0] >= due  # not before its minute
    sched = next(d for _, d in got if d["kind"] == "schedule")
    assert sched["due_today"] == 1 and sched["next_reminder"] != reminders[0][1]["due"]
    for _, d in got:
        payload_validator(d)
