"""The patient page in headless Chromium (phone viewport) against a real private Mosquitto
and a real simulated session: what the page shows matches what the service published.

Every change of the visible state is recorded in the page (``harness.RECORDER``) and
compared afterwards with the messages a second subscriber received, so the assertions do
not depend on how fast this (shared) machine polls. Screenshots of key moments go to
``$ISOFEEDBACK_ARTIFACTS`` (default: pytest's tmp folder); with
``ISOFEEDBACK_UPDATE_SCREENSHOTS=1`` they also replace the ones in ``docs/images/``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from isofeedback.recording.reader import RecordingReader
from isofeedback.sim import Faults
from isofeedback.sinks.messages import MqttMessage, Serializer
from isofeedback.sinks.mqtt import BrokerSettings

from .harness import LiveSession, chromium

DOCS = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("ISOFEEDBACK_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def shot(driver: Any, artifacts: Path, name: str) -> None:
    path = artifacts / f"webapp-{name}.png"
    driver.save_screenshot(str(path))
    if os.environ.get("ISOFEEDBACK_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS / path.name)


def js(driver: Any, script: str) -> Any:
    return driver.execute_script(script)


def wait_for(driver: Any, script: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = js(driver, script)
        if value:
            return value
        time.sleep(0.03)
    raise AssertionError(f"timed out waiting for: {script}")


def tap(driver: Any, element_id: str) -> None:
    """Tap a button as a patient does: once it stands still. A phase change re-lays the
    page out (the hold countdown appears), and a click computed before the shift lands
    beside the button: the pause of the control test was lost that way about every
    other run."""
    rect = f"return JSON.stringify(document.getElementById('{element_id}')" \
           ".getBoundingClientRect())"
    deadline = time.monotonic() + 5
    last = js(driver, rect)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = js(driver, rect)
        if now == last:
            break
        last = now
    driver.find_element("id", element_id).click()


def dedupe(values: list[Any]) -> list[Any]:
    return [v for i, v in enumerate(values) if v and (i == 0 or values[i - 1] != v)]


def tenth(v: float) -> str:
    """What JavaScript's ``toFixed(1)`` shows (ties round up, unlike Python's format)."""
    return f"{Decimal(v).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)} s"


def page_errors(driver: Any) -> list[str]:
    """The page's errors, except the reconnect attempts once the session (and so its web
    server) has ended."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"
            and "ERR_CONNECTION_REFUSED" not in e["message"]]


async def publish(broker: BrokerSettings, messages: list[MqttMessage]) -> None:
    async with broker.client() as client:
        for m in messages:
            await client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)


PHASE_SHOT = "document.getElementById('phase').dataset.phase"


def test_page_shows_what_the_service_published(
    mosquitto: Any, patient: str, browser: Any, artifacts: Path
) -> None:
    broker = BrokerSettings(mosquitto.host, mosquitto.port)
    faults = Faults(too_strong_rep=1, move_in_rep=2)  # rep 2 too strong, rep 3 moved
    with LiveSession(broker, patient, speed=5.0, faults=faults) as session:
        browser.get(session.url)
        wait_for(browser, "return window.isofeedbackPage && window.isofeedbackPage.connected")
        # the wearable's retained state, as a BLE session publishes it (the simulated
        # source has no battery or radio)
        device = Serializer(patient, "devices", time.time())
        asyncio.run(publish(broker, [
            device.device_battery("AA:BB:CC:DD:EE:FF", 15.0, 0.0),
            device.device_quality("AA:BB:CC:DD:EE:FF", 0.0, ok=False, packet_loss=0.05,
                                  issues=("noisy",))]))
        wait_for(browser, "return !document.getElementById('signal').hidden", 10)
        assert browser.find_element("id", "battery").text == "Battery 15%"
        assert browser.find_element("id", "battery").get_attribute("data-ok") == "false"
        # (the detector's "noisy", detector version 22, in a patient's words)
        assert (browser.find_element("id", "signal").text
                == "Signal poor: the sensor is noisy, press it gently onto the skin")
        # the programme (retained schedule) and a reminder, as the gateway service sends them
        gateway = Serializer(patient, "gateway", time.time())
        asyncio.run(publish(broker, [
            gateway.schedule(0.0, {"protocol": "hip-flexors-met", "done_today": 1,
                                   "due_today": 2, "next_reminder": "2030-01-02T18:00",
                                   "adherence": 0.5, "start": "2030-01-01", "days": 14}),
            gateway.reminder(0.0, due="2030-01-02T08:00",
                             text="Time for your exercise session")]))
        wait_for(browser, "return document.getElementById('schedule-reminder').textContent", 10)
        assert browser.find_element("id", "schedule-today").text == (
            "Today: 1 of 2 sessions done")
        assert browser.find_element("id", "schedule-next").text == (
            "Next reminder: 18:00 on 2030-01-02")
        assert browser.find_element("id", "schedule-reminder").text == (
            "Time for your exercise session (08:00 on 2030-01-02)")
        shot(browser, artifacts, "schedule")
        session.begin()
        wanted = {
            "holding": f"return {PHASE_SHOT} === 'holding'",
            "warning": "return document.getElementById('cue').dataset.severity === 'warning'",
            "joint": "return document.getElementById('joint-note').dataset.zone === 'over'",
            "relaxing": f"return {PHASE_SHOT} === 'relaxing'",
        }
        deadline = time.monotonic() + 60
        while wanted and time.monotonic() < deadline:
            for name, script in list(wanted.items()):
                if js(browser, script):
                    shot(browser, artifacts, name)
                    del wanted[name]
            time.sleep(0.03)
        wait_for(browser, "return !document.getElementById('summary').hidden", 60)
        shot(browser, artifacts, "summary")
        result = session.wait_done()
        log = js(browser, "return window.__log")
        published = list(session.published)
        assert not page_errors(browser)

    ours = [d for d in published if d.get("session") == published[-1]["session"]]
    phases = [d["phase"] for d in ours if d["kind"] == "phase"]
    cues = [d for d in ours if d["kind"] == "cue"]
    levels = [d for d in ours if d["kind"] == "level"]
    reps = [d for d in ours if d["kind"] == "rep"]
    summary = next(d for d in ours if d["kind"] == "summary")
    assert summary["reps_done"] == 3 == len(reps) and result.summary["reps_done"] == 3

    # phases: every published phase shown, in order (none invented), each by a name in
    # words, never its identifier ("reference_contracting")
    assert dedupe([e["phase"] for e in log]) == dedupe(phases)
    assert all(e["phaseText"] and e["phaseText"] != e["phase"] for e in log if e["phase"]), (
        {(e["phase"], e["phaseText"]) for e in log})
    # cues: every published cue shown, in order, warnings marked as warnings
    shown_cues = dedupe([(e["cue"], e["severity"]) for e in log if e["cue"]])
    # (a warning's end, "cleared", has no text: it takes the warning down, nothing is shown;
    # the set-up instruction has its own place, below)
    assert shown_cues == dedupe([(c["text"], c["severity"]) for c in cues
                                 if c["text"] and c["id"] != "setup"])
    # the target band in the unit the service publishes, in words (the shipped PIR: % of
    # the gentle reference contraction made at the start, never "× rest")
    band = next((d["band"], d["unit"]) for d in levels if d["phase"] == "holding")
    assert band[1] == "%ref", band
    targets = {e["zone"] for e in log if e["zone"].startswith("Target")}
    assert targets == {f"Target {band[0][0]:g}–{band[0][1]:g} % of your gentle level"}, targets
    # ... and no target while the rest and the reference are measured (the effort is in
    # multiples of the rest noise then, which the band is not)
    assert all(e["zone"].strip() == "" for e in log
               if e["phase"] in ("calibrating", "reference", "reference_contracting"))
    # how to set up stays shown from the start until the first repetition
    setup = next(c["text"] for c in cues if c["id"] == "setup")
    with_setup = {e["phase"] for e in log if e["setup"] == setup}
    assert {"calibrating", "reference"} <= with_setup and "holding" not in with_setup
    assert any(s == "warning" and "Gentler" in c for c, s in shown_cues)
    assert any(s == "warning" and "joint still" in c for c, s in shown_cues)
    # the hold countdown shows the published time left, only while holding
    held = {tenth(d["hold_remaining_s"]) for d in levels if "hold_remaining_s" in d}
    holding = [e for e in log if e["phase"] == "holding" and e["timerLabel"] == "Hold for"]
    shown = {e["timer"] for e in holding}
    # (live levels are QoS 0: under load the broker may drop some for the test's own
    # subscriber and not for the page, so a few shown values may be missing from `held`)
    assert len(shown - held) <= len(shown) // 10, shown - held
    assert all(0.0 <= float(v.split()[0]) <= 7.0 for v in shown)
    assert len(shown) > 10  # it counted down
    # relax and stretch count down from the planned duration, never up
    for name, label in (("relaxing", "Relax for"), ("stretching", "Stretch for")):
        planned = next(d["duration_s"] for d in ours if d.get("phase") == name
                       and d["kind"] == "phase")
        runs: list[list[float]] = [[]]
        for e in log:
            if e["phase"] == name and e["timerLabel"] == label:
                runs[-1].append(float(e["timer"].split()[0]))
            elif runs[-1]:
                runs.append([])
        runs = [r for r in runs if r]
        assert len(runs) == 3
        for r in runs:
            assert r == sorted(r, reverse=True) and r[0] <= planned and r[-1] >= 0
    # the joint gauge: over the limit exactly when the service said so
    # (levels are QoS 0 and may be dropped under load; the "keep still" cue is reliable)
    over = [d for d in levels if d.get("joint_deviation_deg", 0) > d.get("joint_limit_deg", 1e9)]
    assert all(d["rep"] == 3 for d in over)
    assert [c["rep"] for c in cues if c["id"] == "keep_still"] == [3]
    assert any(e["jointNote"] == "Keep the joint still" and e["reps"] == "Rep 3 of 3"
               for e in log)
    assert not any(e["jointNote"] == "Keep the joint still" and e["reps"] != "Rep 3 of 3"
                   for e in log)
    # rep counter and per-rep results
    assert dedupe([e["reps"] for e in log if e["reps"].startswith("Rep")]) == [
        f"Rep {n} of 3" for n in (1, 2, 3)]
    results = dedupe([e["rep"] for e in log if e["rep"]])
    assert len(results) == 3
    assert "no problems" in results[0] and "too strong" in results[1]
    assert "joint moved" in results[2]
    assert f"held {reps[1]['hold_s']:.1f} s" in results[1]
    # the summary
    final = log[-1]["summary"]
    assert "3 of 3" in final and f"{summary['mean_hold_s']:.1f} s" in final
    assert f"too strong ({summary['violations'].count('too_strong')}×)" in final
    assert "joint moved" in final
    assert all(e["simulated"] for e in log if e["phase"])


def test_pause_resume_pain_stop_from_the_page_change_the_session(
    mosquitto: Any, patient: str, browser: Any, artifacts: Path, tmp_path: Path
) -> None:
    """The page's buttons drive the real session: each command is acknowledged (shown by
    the page), changes what the service publishes, and is in the recording."""
    broker = BrokerSettings(mosquitto.host, mosquitto.port)
    with LiveSession(broker, patient, speed=4.0, recordings=tmp_path,
                     extra_reps=4) as session:
        browser.get(session.url)
        wait_for(browser, "return window.isofeedbackPage && window.isofeedbackPage.connected")
        session.begin()
        ack = "document.getElementById('ack').textContent"
        wait_for(browser, f"return {PHASE_SHOT} === 'holding'")
        tap(browser, "btn-pause")
        wait_for(browser, f"return {PHASE_SHOT} === 'paused'", 10)
        wait_for(browser, f"return {ack} === '✓ pause accepted'", 10)
        assert browser.find_element("id", "btn-pause").text == "Resume"
        shot(browser, artifacts, "paused")
        # a reload re-syncs from the retained state alone (the session is frozen now)
        reps = browser.find_element("id", "reps").text
        browser.refresh()
        wait_for(browser, f"return {PHASE_SHOT} === 'paused'", 10)
        assert browser.find_element("id", "reps").text == reps
        assert browser.find_element("id", "btn-pause").text == "Resume"
        assert "Paused" in browser.find_element("id", "cue").text
        tap(browser, "btn-pause")  # now "Resume"
        wait_for(browser, f"return {ack} === '✓ resume accepted'", 10)
        wait_for(browser, f"return {PHASE_SHOT} !== 'paused'", 10)
        tap(browser, "btn-pain")
        wait_for(browser, "return document.getElementById('pain-dialog').open")
        shot(browser, artifacts, "pain")
        browser.find_element("id", "pain-0").click()
        wait_for(browser, f"return {ack} === '✓ pain accepted'", 10)
        tap(browser, "btn-stop")
        wait_for(browser, f"return {ack} === '✓ stop accepted'", 10)
        wait_for(browser, "return !document.getElementById('summary').hidden", 20)
        assert "Session ended early" in browser.find_element("id", "summary").text
        assert js(browser, "return document.getElementById('btn-stop').disabled") is True
        session.wait_done()
        assert not page_errors(browser)
    outcome = session.outcome
    assert outcome is not None and outcome.stopped_by == "mqtt", session.console.getvalue()
    commands = [d for d in session.published if d["_topic"].endswith("/control")]
    assert [(d["schema"], d["command"], d.get("value")) for d in commands] == [
        (1, "pause", None), (1, "resume", None), (1, "pain", 0), (1, "stop", None)]
    acks = [d for d in session.published if d.get("kind") == "control_ack"]
    assert [(a["id"], a["accepted"]) for a in acks] == [(d["id"], True) for d in commands]
    phases = [d["phase"] for d in session.published if d.get("kind") == "phase"]
    # paused during a hold: the coach froze, then repeats that repetition after resume
    assert "paused" in phases and phases[phases.index("paused") + 1] == "waiting"
    summary = next(d for d in session.published if d.get("kind") == "summary")
    assert not summary["complete"] and summary["reps_done"] < 3
    assert outcome.recording is not None
    with RecordingReader(outcome.recording) as reader:
        recorded = [(c.command, c.value) for _, c in reader.controls()]
    assert recorded == [("pause", None), ("resume", None), ("pain", 0), ("stop", None)]


def test_broker_restart_page_reconnects_and_catches_up(
    tmp_path: Path, mosquitto_control: Any, patient: str, browser: Any
) -> None:
    start, stop = mosquitto_control
    own = start(tmp_path)
    broker = BrokerSettings(own.host, own.port)
    try:
        with LiveSession(broker, patient, speed=4.0, reps=2) as session:
            browser.get(session.url)
            wait_for(browser, "return window.isofeedbackPage.connected")
            browser.get_log("browser")  # forget the previous test's page
            session.begin()
            wait_for(browser, f"return {PHASE_SHOT} === 'holding'")
            stop(own)
            wait_for(browser, "return !window.isofeedbackPage.connected", 15)
            # the last effort shown is old now: greyed, not a live value
            assert js(browser, "return document.body.dataset.stale") == "true"
            time.sleep(1.0)  # the session goes on while the broker is away
            own = start(tmp_path, port=own.port)
            wait_for(browser, "return window.isofeedbackPage.connected", 20)
            assert js(browser, "return document.body.dataset.stale") == "false"
            wait_for(browser, "return !document.getElementById('summary').hidden", 60)
            session.wait_done()
            log = js(browser, "return window.__log")
    finally:
        stop(own)
    states = dedupe([e["connState"] for e in log])
    while states[-1] == "connecting":  # the session, and so its web server, has ended
        states.pop()
    assert "connecting" in states[1:] and states[-1] == "ended"  # ended cleanly
    outage = states.index("connecting", 1)
    assert "online" in states[outage:]  # reconnected to the relay and the service is back
    first_down = next(i for i, e in enumerate(log) if i and e["connState"] == "connecting")
    after = log[first_down:]
    assert dedupe([e["phase"] for e in after])[-1] == "done"
    assert "2 of 2" in log[-1]["summary"]


def test_page_says_when_the_session_is_no_longer_saved(
    mosquitto: Any, patient: str, browser: Any, artifacts: Path
) -> None:
    """The retained status carries ``recording`` when the recording failed (disk full):
    the page says so in words a patient understands, and that the exercise goes on."""
    broker = BrokerSettings(mosquitto.host, mosquitto.port)
    with LiveSession(broker, patient, speed=20.0, reps=1) as session:
        browser.get(session.url)
        wait_for(browser, "return window.isofeedbackPage && window.isofeedbackPage.connected")
        browser.get_log("browser")  # forget the previous test's page (closed as it left)
        assert js(browser, "return document.getElementById('not-saved').hidden") is True
        service = Serializer(patient, "s", time.time(), source="simulated")
        service.recording_problem = ("the disk is full; recording stopped near session "
                                     "time 12.0 s (the 900 packets before are kept)")
        asyncio.run(publish(broker, [service.status(True, 12.0, reason="connected",
                                                    connection=1)]))
        wait_for(browser, "return !document.getElementById('not-saved').hidden", 10)
        text = browser.find_element("id", "not-saved").text
        assert text == ("This session is no longer being saved (the disk is full). "
                        "Keep going; please tell your clinician.")
        assert browser.find_element("id", "not-saved").get_attribute("role") == "alert"
        shot(browser, artifacts, "not-saved")
        assert not page_errors(browser)
        session.begin()  # (the page's reconnects after the session's end are not errors)
        session.wait_done()


def test_a_page_opened_after_the_start_still_shows_how_to_set_up(
    mosquitto: Any, patient: str, browser: Any, artifacts: Path
) -> None:
    """The set-up instruction is said once, at the session's start; a phone opened a few
    seconds later (the patient started the gateway, then picked up the phone) gets it from
    the retained ``setup`` topic and shows it until the repetitions begin."""
    broker = BrokerSettings(mosquitto.host, mosquitto.port)
    with LiveSession(broker, patient, speed=2.0, reps=1) as session:
        session.begin()
        deadline = time.monotonic() + 30
        while not any(d.get("kind") == "phase" and d.get("phase") == "reference"
                      for d in list(session.published)):
            assert time.monotonic() < deadline, "no reference phase"
            time.sleep(0.05)
        setup = next(d["text"] for d in list(session.published)
                     if d.get("kind") == "cue" and d.get("id") == "setup")
        browser.get(session.url)
        wait_for(browser, "return window.isofeedbackPage.connected")
        wait_for(browser, "return !document.getElementById('setup').hidden", 10)
        assert browser.find_element("id", "setup").text == setup
        shot(browser, artifacts, "setup-late")
        pause_top = "return document.getElementById('btn-pause').getBoundingClientRect().top"
        top = js(browser, pause_top)
        wait_for(browser, f"return {PHASE_SHOT} === 'waiting'", 60)
        assert js(browser, "return document.getElementById('setup').hidden")
        # the controls are docked: the set-up box going away (200 px at phone size) does
        # not move the buttons under the patient's thumb
        assert js(browser, pause_top) == top
        session.wait_done()
        assert not page_errors(browser)


def test_a_session_stopped_for_pain_says_why_and_offers_no_praise(
    mosquitto: Any, patient: str, browser: Any, artifacts: Path
) -> None:
    """Pain 7 in the first repetition stops the session: the summary names why it ended
    and shows neither a "Mean hold 0.0 s" (no hold was done) nor "To work on: nothing:
    well done" (it said so after a stop for pain)."""
    broker = BrokerSettings(mosquitto.host, mosquitto.port)
    with LiveSession(broker, patient, speed=4.0, extra_reps=4) as session:
        browser.get(session.url)
        wait_for(browser, "return window.isofeedbackPage && window.isofeedbackPage.connected")
        session.begin()
        wait_for(browser, f"return {PHASE_SHOT} === 'holding'")
        tap(browser, "btn-pain")
        wait_for(browser, "return document.getElementById('pain-dialog').open")
        browser.find_element("id", "pain-7").click()
        wait_for(browser, "return !document.getElementById('summary').hidden", 20)
        shot(browser, artifacts, "pain-stop")
        text = browser.find_element("id", "summary").text
        session.wait_done()
        assert not page_errors(browser)
    summary = next(d for d in session.published if d.get("kind") == "summary")
    assert summary["reps_done"] == 0 and summary["stop_reason"] == "pain 7/10 reported"
    assert "Session ended early" in text and "pain 7/10 reported" in text, text
    assert "well done" not in text and "Mean hold" not in text, text


def test_while_the_sensor_is_looked_for_the_page_says_to_switch_it_on(
    mosquitto: Any, patient: str, browser: Any, artifacts: Path
) -> None:
    """Before the session, while the service looks for the sensor (the gateway waits for
    the patient to switch it on), the page says what to do instead of an empty box; once
    the sensor is found the instruction goes, and the session's own cues follow."""
    broker = BrokerSettings(mosquitto.host, mosquitto.port)
    with LiveSession(broker, patient, speed=20.0, reps=1) as session:
        browser.get(session.url)
        wait_for(browser, "return window.isofeedbackPage && window.isofeedbackPage.connected")
        browser.get_log("browser")
        service = Serializer(patient, "s", time.time(), source="live")
        asyncio.run(publish(broker, [service.device_availability("sim", "connecting", 0.0)]))
        wait_for(browser, "return document.getElementById('cue').textContent !== ''", 10)
        assert browser.find_element("id", "cue").text == (
            "Put the sensor on and switch it on. The session starts when it is found.")
        shot(browser, artifacts, "sensor-search")
        asyncio.run(publish(broker, [service.device_availability("sim", "online", 1.0)]))
        wait_for(browser, "return document.getElementById('cue').textContent === ''", 10)
        asyncio.run(publish(broker, [service.device_availability("sim", "offline", 2.0)]))
        session.begin()
        session.wait_done()
        assert not page_errors(browser)


def test_a_phone_on_its_side_shows_the_effort_bar_during_the_hold(
    mosquitto: Any, patient: str, artifacts: Path
) -> None:
    """844 x 390 (a phone in landscape): one column put the effort bar below the fold and
    under the docked buttons during the hold; two columns keep the phase, cue, countdown,
    both meters and the buttons on the screen."""
    broker = BrokerSettings(mosquitto.host, mosquitto.port)
    driver = chromium((844, 390))
    try:
        with LiveSession(broker, patient, speed=4.0, reps=1) as session:
            driver.get(session.url)
            wait_for(driver, "return window.isofeedbackPage && window.isofeedbackPage.connected")
            session.begin()
            wait_for(driver, f"return {PHASE_SHOT} === 'holding'", 90)
            rect = "return document.getElementById('{}').getBoundingClientRect().{}"
            dock_top = js(driver, "return document.querySelector('.dock')"
                                  ".getBoundingClientRect().top")
            for element in ("phase", "cue", "timer", "bar", "joint"):
                assert js(driver, rect.format(element, "top")) >= 0
                assert js(driver, rect.format(element, "bottom")) <= dock_top, element
            shot(driver, artifacts, "landscape-holding")
            session.wait_done()
            assert not page_errors(driver)
    finally:
        driver.quit()
