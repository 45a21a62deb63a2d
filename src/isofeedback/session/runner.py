"""Open a planned session, run it, and end it — always the same way.

However a session ends (the protocol's end, Ctrl-C, SIGTERM, a ``stop`` from the patient's
app, the data running out, a fatal fault), :func:`open_session` runs the one stop path:

1. the coach is stopped by a recorded ``stop`` command (so the summary exists and a replay
   of the recording reproduces it),
2. the devices are stopped (the source is closed),
3. the recording is closed with its summary and counters,
4. the patient's history (and a newly measured calibration) is stored,
5. the summary and ``offline`` are published (retained) and the broker left,
6. the summary is printed.

A fault before the session began (no sensor, no broker) is raised as the project error it
is; a fault during it is reported after the stop path as one sentence (exit code 2), with
everything up to it kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from isofeedback.coach.calibration import Calibration
from isofeedback.coach.calibration_store import PatientStore
from isofeedback.coach.prescription import (
    Prescription,
    exercised_days,
    next_reminder,
    parse_prescription,
    prescription_message,
    schedule_status,
)
from isofeedback.coach.progression import progressed
from isofeedback.control import Control, ControlRefused, parse_control
from isofeedback.errors import BrokerError, ConfigError, IsofeedbackError, RecordingError
from isofeedback.pipeline import Pipeline
from isofeedback.recording.writer import Recorder
from isofeedback.service import ControlInbox, OutputSink, PacketTap, SessionResult, run_session
from isofeedback.session.keyboard import KeyboardControls
from isofeedback.session.lsl import open_lsl
from isofeedback.session.patient_data import reusable_calibration, save_session
from isofeedback.session.plan import SessionPlan, SourceContext
from isofeedback.session.stop import StopRequests
from isofeedback.session.summary import print_summary
from isofeedback.sinks.haptic import HapticSink
from isofeedback.sinks.lsl import has_joint_angle
from isofeedback.sinks.messages import MqttMessage, Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.sinks.quality import QualityReporter
from isofeedback.sinks.terminal import TerminalView
from isofeedback.sources.base import PacketSource, SourceStatus
from isofeedback.types import Event, Feedback

__all__ = ["SessionOutcome", "new_session_id", "open_session"]

BROKER_CONNECT_TIMEOUT_S = 5.0
REMINDER_POLL_S = 60.0  # a new prescription's reminders are picked up within this
REMINDER_TEXT = "Time for your exercise session"
KEY_HINT = "space pause/resume · q stop · p pain"
# the plan's source kind → what the retained status tells apps (the page's badge)
_SOURCES: dict[str, Literal["live", "simulated", "replay"]] = {
    "ble": "live", "simulated": "simulated", "replay": "replay"}


def new_session_id(patient: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{patient}-{stamp}-{secrets.token_hex(2)}"


class _WithoutProgress:
    """An output sink passing everything but ``progress`` messages on to ``sink``."""

    def __init__(self, sink: OutputSink) -> None:
        self.sink = sink

    def submit(self, item: Event | Feedback) -> None:
        if not (isinstance(item, Feedback) and item.kind == "progress"):
            self.sink.submit(item)


@dataclass
class SessionOutcome:
    """What a session left: its result, where it was recorded, how it ended."""

    session_id: str
    result: SessionResult = field(default_factory=SessionResult)
    recording: Path | None = None
    started: bool = False  # the source was open and packets flowed into the pipeline
    error: str = ""  # a fault that ended it, in one sentence
    stopped_by: str = ""
    reliable_published: int = 0  # reliable messages made (the last ``seq``)
    mqtt: dict[str, Any] = field(default_factory=dict)  # the publisher's final counters

    @property
    def exit_code(self) -> int:
        return 2 if self.error else 0


def device_message(serializer: Serializer, s: SourceStatus) -> MqttMessage:
    """The retained per-device MQTT message for a source status change."""
    if s.kind == "battery":
        return serializer.device_battery(s.device, float(s.body["level"]), s.t)
    state = str(s.body.get("state", "offline"))
    detail = str(s.body.get("reason") or "")
    return serializer.device_availability(
        s.device, state if state in ("online", "offline", "connecting") else "offline",  # type: ignore[arg-type]
        s.t, name=str(s.body.get("address", "")), detail=detail,
    )


class _Session:
    """The state the stop path needs, whatever point the session reached."""

    def __init__(self, plan: SessionPlan, publisher: MqttPublisher, serializer: Serializer,
                 outcome: SessionOutcome) -> None:
        self.plan = plan
        self.publisher = publisher
        self.serializer = serializer
        self.outcome = outcome
        self.inbox = ControlInbox()
        self.stops = StopRequests(self.inbox)
        self.recorder: Recorder | None = None
        self.pipeline: Pipeline | None = None
        self.source: PacketSource | None = None

    # -- inputs from outside ---------------------------------------------------------------
    def on_status(self, s: SourceStatus) -> None:
        self.publisher.submit_message(device_message(self.serializer, s))
        if self.recorder is not None:
            self.recorder.note(f"device_{s.kind}", s.t, device=s.device, **s.body)
        what = ", ".join(f"{k} {v}" for k, v in s.body.items())
        self.plan.console.print(f"[dim]{s.t:7.1f} s[/] {s.device}: {s.kind} {what}")

    @staticmethod
    def _from_writer_thread(handler: Callable[[str], None]) -> Callable[[str], None]:
        """``handler`` run on this event loop when called from another thread."""
        loop = asyncio.get_running_loop()

        def call(why: str) -> None:
            loop.call_soon_threadsafe(handler, why)

        return call

    def on_recording_failed(self, why: str) -> None:
        """The recording stopped mid-session (disk full, medium removed): the exercise
        goes on, and the patient and every app are told at once that it is not saved."""
        self.plan.console.print(f"[red]Recording stopped: {why.split(';')[0]}. The exercise "
                                "goes on, but the rest of this session is not saved.[/]")
        self.serializer.recording_problem = why
        self.publisher.refresh_status()

    def _session_now(self) -> float:
        """The session time now: the live source's clock, else (a simulated or replayed
        session) the time of the last sample the pipeline took."""
        now = self.source.now() if self.source is not None else None
        if now is not None:
            return now
        if self.pipeline is not None and self.pipeline.emg_last_t is not None:
            return self.pipeline.emg_last_t
        return self.outcome.result.session_s

    def on_control_message(self, payload: bytes, *, retained: bool = False) -> None:
        """A command from the patient's app: validated, acknowledged, then queued. A
        retained one was left on the broker before this session began (control is never
        retained, docs/mqtt.md): refused, so a stale "skip" or "stop" cannot act on it."""
        t = self._session_now()
        try:
            control = parse_control(payload)
            if retained:
                raise ControlRefused("a retained command (kept by the broker from before "
                                     "this session) is not applied; publish commands "
                                     "without retain", control.id, control.command)
            if not self.stops.running or (self.pipeline is not None
                                          and self.pipeline.coach.finished):
                raise ControlRefused("no session is running", control.id, control.command)
        except ControlRefused as refused:
            self.publisher.submit_message(self.serializer.control_ack(
                t, id=refused.id, command=refused.command, accepted=False,
                reason=refused.reason))
            return
        self.inbox.put(control)
        self.publisher.submit_message(self.serializer.control_ack(
            t, id=control.id, command=control.command, accepted=True))

    def on_prescription_message(self, payload: bytes) -> None:
        """The clinician's retained prescription: validated, stored for the next sessions
        (never applied to this one) and acknowledged; a refused one changes nothing."""
        if not payload:  # the clinician cleared the retained message
            return
        t = self._session_now()
        rx, ack = prescription_message(payload, self.plan.patient)
        store = self.store()
        if rx is not None and store is None:
            ack = {"accepted": False, "reason": f"prescription for {self.plan.patient}: this "
                   "session keeps no patient store (no data folder), so it was not kept"}
        elif rx is not None and store is not None:
            try:
                doc = json.loads(payload)
                if store.prescription_doc() != doc:
                    store.save_prescription(doc)
            except ConfigError as exc:
                ack = {"accepted": False, "reason": str(exc)}
        self.publisher.submit_message(self.serializer.prescription_ack(
            t, accepted=bool(ack["accepted"]), reason=str(ack["reason"]),
            prescription=ack.get("prescription") if ack["accepted"] else None))
        self.plan.console.print(f"prescription {'stored' if ack['accepted'] else 'refused'}: "
                                f"{ack['reason']}")
        if ack["accepted"]:
            self.publish_schedule()

    def prescription(self) -> Prescription | None:
        """The stored prescription, validated again (a protocol may have changed since)."""
        store = self.store()
        doc = store.prescription_doc() if store is not None else None
        if store is None or doc is None:
            return None
        return parse_prescription(doc, f"{store.path}: prescription")

    def publish_schedule(self, now: datetime | None = None) -> None:
        """The retained ``schedule`` from the stored prescription and history (nothing
        when there is no prescription; a store that went bad is said, not raised)."""
        store = self.store()
        try:
            rx = self.prescription()
            if rx is None or store is None:
                return
            days = exercised_days(store.sessions())
        except ConfigError as exc:
            self.plan.console.print(f"[red]no schedule: {exc}[/]")
            return
        self.publisher.submit_message(self.serializer.schedule(
            self._session_now(), schedule_status(rx, days, now or datetime.now())))

    def on_key(self, control: Control) -> None:
        if self.stops.running:
            self.inbox.put(control)

    # -- the session -----------------------------------------------------------------------
    async def run(self, calibration: Calibration | None) -> None:
        plan = self.plan
        history = self._history()
        # this session's hold from the patient's history (lengthened after good sessions,
        # shortened after pain): the protocol the coach, the recording and the source use
        protocol = progressed(plan.protocol, history)
        change = protocol.progression.get("change")
        if change in ("longer", "shorter"):
            plan.console.print(f"hold {protocol.hold_s:g} s ({change} than last time's "
                               f"{protocol.progression['previous_s']:g} s): "
                               f"{protocol.progression['reason']}")
        ctx = SourceContext(calibration, self.on_status, protocol)
        async with plan.open_source(ctx) as source:
            self.source = source
            # now it is known whether a motion sensor checks the joint: tell the apps
            self.serializer.joint_checked = has_joint_angle(source.profiles)
            self.publisher.refresh_status()
            pipeline = Pipeline(source.profiles, protocol, calibration=calibration,
                                history=history)
            self.pipeline = pipeline
            # the progress message is the patient's history: published only when it is
            # kept (docs/mqtt.md); without a store it would be this session alone
            sinks: list[OutputSink] = [self.publisher if plan.store is not None
                                       else _WithoutProgress(self.publisher)]
            if pipeline.emg_device is not None:  # the signal light of pages and dashboards
                sinks.append(QualityReporter(self.serializer, pipeline.emg_device,
                                             self.publisher.submit_message))
            taps: list[PacketTap] = []
            if plan.recording is not None:
                rp = plan.recording
                self.recorder = Recorder.open_in(
                    rp.folder, self.outcome.session_id, profiles=source.profiles,
                    protocol=protocol, config=pipeline.config, patient=plan.patient,
                    wall_start=self.serializer.wall_start, source=rp.source,
                    simulated=rp.simulated, extra_meta=dict(rp.extra_meta),
                    on_error=self._from_writer_thread(self.on_recording_failed))
                self.outcome.recording = self.recorder.path
                sinks.append(self.recorder)
                taps.append(self.recorder)
            async with contextlib.AsyncExitStack() as stack:
                write = getattr(source, "write", None)
                for name, profile in source.profiles.items():
                    if profile.haptic and write is not None:  # "release now" is also felt
                        sinks.append(await stack.enter_async_context(
                            HapticSink(profile, functools.partial(write, name))))
                live_clock = source.now() is not None
                sinks += await stack.enter_async_context(open_lsl(
                    plan.lsl, plan.console, patient=plan.patient,
                    session_id=self.outcome.session_id, protocol=protocol,
                    angle=has_joint_angle(source.profiles),
                    wall_start=self.serializer.wall_start,
                    session_now=(lambda: source.now() or 0.0) if live_clock else None))
                if plan.speak:
                    from isofeedback.sinks.speaker import Speaker

                    sinks.append(await stack.enter_async_context(
                        Speaker(locale=plan.protocol.locale)))
                keys = None
                if plan.keyboard:
                    keys = stack.enter_context(KeyboardControls(self.on_key, plan.console))
                view = stack.enter_context(TerminalView(
                    plan.console, title=plan.title, live=plan.view == "live",
                    hint=KEY_HINT if keys is not None and keys.active else ""))
                sinks.append(view)
                self.stops.running = True
                control_taps = [self.recorder] if self.recorder is not None else []
                try:
                    await run_session(source, pipeline, sinks, taps, keep_outputs=False,
                                      controls=self.inbox,
                                      control_taps=control_taps, result=self.outcome.result)
                finally:
                    self.stops.running = False
                    self.outcome.started = True
                    self.outcome.stopped_by = self.outcome.result.stopped_by

    def _history(self) -> list[dict[str, Any]]:
        store = self.store()
        return list(store.sessions()) if store is not None else []

    def store(self) -> PatientStore | None:
        sp = self.plan.store
        return PatientStore(sp.folder, self.plan.patient) if sp is not None else None

    # -- the stop path's own steps ------------------------------------------------------
    def close_recording(self) -> None:
        if self.recorder is None:
            return
        pipeline = self.pipeline
        stats: dict[str, Any] = {"mqtt": self.publisher.stats.as_dict(),
                                 "stopped_by": self.outcome.stopped_by}
        if pipeline is not None:
            stats.update(packets=pipeline.stats.packets, bad_packets=pipeline.stats.bad_packets)
            self.recorder.set_meta("summary", pipeline.coach.summary())
        try:
            self.recorder.close(stats)
        except RecordingError as exc:
            self.plan.console.print(f"[red]{exc}[/]")

    def save_history(self, calibration: Calibration | None) -> None:
        store, sp = self.store(), self.plan.store
        if store is None or sp is None or self.pipeline is None or not self.outcome.started:
            return
        try:
            save_session(store, self.pipeline, calibration, sp.profile, sp.device,
                         self.outcome.session_id, self.serializer.wall(0.0))
        except OSError as exc:
            self.plan.console.print(f"[red]could not save the session to {store.path}: "
                                    f"{exc}[/]")


async def open_session(plan: SessionPlan) -> SessionOutcome:
    """Run the planned session to its end and through the one stop path."""
    console = plan.console
    store = (PatientStore(plan.store.folder, plan.patient) if plan.store is not None else None)
    if store is not None and (damaged := store.set_aside_if_damaged()) is not None:
        aside, why = damaged
        console.print(f"The patient's stored calibration and history could not be read "
                      f"({why}): the file is kept as {aside} for the clinician, and this "
                      "session starts a new one.", markup=False)
    calibration = None
    if store is not None and plan.store is not None:
        calibration = reusable_calibration(store, plan.store.profile, plan.store.device,
                                           console)
    outcome = SessionOutcome(new_session_id(plan.patient))
    async with resolve_broker_for(plan) as (broker, where):
        serializer = Serializer(plan.patient, outcome.session_id, time.time(),
                                source=_SOURCES.get(plan.source_kind))
        publisher = MqttPublisher(broker, serializer)
        session = _Session(plan, publisher, serializer, outcome)
        publisher.subscribe(serializer.topic("control"), session.on_control_message,
                            retained=functools.partial(session.on_control_message,
                                                       retained=True))
        if plan.store is not None:  # only a session that can keep it answers the clinician
            publisher.subscribe(serializer.topic("prescription"),
                                session.on_prescription_message)
        # the page's server outlives the publisher: the summary and `offline` reach it
        async with contextlib.AsyncExitStack() as web_stack, publisher:
            if plan.broker_explicit and not plan.wait and not await publisher.wait_connected(
                    BROKER_CONNECT_TIMEOUT_S):
                why = publisher.stats.last_error or "no answer"
                if broker.uses_tls and any(w in why.lower() for w in ("reset by peer", "eof")):
                    # a plain MQTT port closes the connection at the TLS hello
                    why += ("; the port closed the connection at the TLS hello: it does not "
                            "speak TLS (a plain MQTT port?): check the port and the TLS "
                            "options")
                raise BrokerError(f"could not connect to {where}: {why}")
            session.publish_schedule()
            reminders = None
            if plan.wait:  # the gateway service: remind while waiting for the patient
                reminders = asyncio.create_task(remind(session), name="reminders")
                web_stack.callback(reminders.cancel)  # also when a fault leaves early
            if plan.intro is not None:
                plan.intro(console, broker, where, f"isofeedback/{plan.patient}/#")
            if plan.web is not None:
                from isofeedback.web import WebServer, print_url

                web = await web_stack.enter_async_context(WebServer(
                    broker, patient=plan.patient, host=plan.web[0], port=plan.web[1]))
                print_url(web.url, console.file)
            with session.stops.installed():
                try:
                    await session.run(calibration)
                except asyncio.CancelledError:
                    if not session.stops.requested:
                        raise
                    task = asyncio.current_task()
                    if task is not None:
                        task.uncancel()
                    outcome.stopped_by = outcome.stopped_by or f"signal:{session.stops.requested}"
                except IsofeedbackError as exc:
                    if not outcome.started:
                        session.close_recording()
                        raise
                    outcome.error = str(exc)
                finally:
                    session.close_recording()
            outcome.stopped_by = outcome.stopped_by or outcome.result.stopped_by
            session.save_history(calibration)
            if reminders is not None:
                reminders.cancel()
            session.publish_schedule()
        # the publisher is closed here: the summary and `offline` went out (retained)
        outcome.reliable_published = serializer.seq
        outcome.mqtt = publisher.stats.as_dict()
        _finish(console, session, outcome)
    return outcome


async def remind(session: _Session, now: Callable[[], datetime] = datetime.now,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """At each prescribed reminder time when no session is running, send a ``reminder``
    (not retained) and the updated ``schedule``. Runs while the gateway service waits for
    the patient; the stored prescription is read again every ``REMINDER_POLL_S`` so a new
    one is followed without a restart. ``now``/``sleep`` are the clock (tests)."""
    while True:
        try:
            rx = session.prescription()
        except ConfigError as exc:
            session.plan.console.print(f"[red]no reminders: {exc}[/]")
            return
        due = next_reminder(rx, now()) if rx is not None else None
        wait = REMINDER_POLL_S if due is None else (due - now()).total_seconds()
        await sleep(max(0.0, min(wait, REMINDER_POLL_S)))
        if due is None or now() < due:
            continue
        if not session.stops.running:
            stamp = due.isoformat(timespec="minutes")
            session.publisher.submit_message(session.serializer.reminder(
                session.outcome.result.session_s, due=stamp, text=REMINDER_TEXT))
            session.plan.console.print(f"reminder {stamp}: {REMINDER_TEXT}")
            session.publish_schedule(now())


@contextlib.asynccontextmanager
async def resolve_broker_for(plan: SessionPlan) -> AsyncIterator[tuple[BrokerSettings, str]]:
    """The broker the plan names; in service mode (``wait``) a configured broker is used
    as it is, even if it is down now: the publisher keeps trying and buffers meanwhile."""
    from isofeedback.broker import resolve_broker

    if plan.wait and plan.broker is not None:
        yield plan.broker, f"MQTT broker {plan.broker.address}"
        return
    async with resolve_broker(plan.broker, plan.broker_explicit, plan.listen,
                              patient=plan.patient,
                              password_file=plan.listen_password_file) as found:
        yield found


def _finish(console: Console, session: _Session, outcome: SessionOutcome) -> None:
    if session.source is not None:
        for line in session.source.report():
            console.print(line)
    st = outcome.result.stats
    said = ([f"{st.bad_packets} malformed packet(s) skipped (last: {st.last_error or '-'})"]
            if st.bad_packets else [])
    if st.gaps:
        said.append(f"{st.gaps} gap(s) in the EMG, {st.lost_s:.2f} s of signal lost")
    if st.mains_note:
        said.append(st.mains_note)
    if st.band_note:
        said.append(st.band_note)
    if said:
        console.print("; ".join(said))
    if outcome.started:
        print_summary(console, outcome.result, session.publisher.stats.as_dict(),
                      outcome.session_id)
    else:
        console.print(f"stopped ({outcome.stopped_by or 'before the session began'}); "
                      "no exercise data")
    if outcome.recording is not None:
        console.print(f"recorded to {outcome.recording}")
    if session.plan.store is not None and outcome.started:
        console.print(f"saved to {session.plan.store.folder}; see 'isofeedback progress "
                      f"--patient {session.plan.patient}"
                      f" --data-dir {session.plan.store.folder}'", soft_wrap=True)
    if outcome.error:
        console.print(f"[red]session ended by a fault: {outcome.error}[/]")
