"""Virtual Myo → real bleak → isofeedback service → real Mosquitto → subscriber.

The wearable plays the simulated patient through the virtual BlueZ at ``SPEED`` × real
time; the service runs with the same time scale, so session times match the simulator's
labels. One test has the peripheral drop the link mid-hold.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from isofeedback.ble.virtual_bluez import VirtualBluez
from isofeedback.ble.wearable import VirtualWearable, WearableFaults
from isofeedback.commands.common import LslOptions
from isofeedback.commands.run import live_session
from isofeedback.commands.virtual_device import session_packets
from isofeedback.profiles.schema import find_profile
from isofeedback.research.replay import replay_async
from isofeedback.run_config import RunConfig, parse_run_config
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sinks.mqtt import BrokerSettings

# a Myo's signal counts as lost after 1 s of session time without data: at 5x that is a
# 0.2 s stall of a loaded test machine (seen in CI), at 2.5x a 0.4 s one
SPEED = 2.5
# the Myo has no packet counter: the link adds a few ms of jitter to the arrival anchors
ONSET_TOL_S = 0.08
RELEASE_TOL_S = 0.35

SHORT_PIR = """
[exercise]
technique = "pir"
name = "Short PIR for tests"
reps = 2
intensity = [10, 25]
intensity_unit = "%MVC"
hold_s = 5.0
relax_s = 3.0
stretch_s = 2.0
rest_calibration_s = 2.0
mvc_capture = true
movement_max_deg = 5.0
movement_max_dps = 30.0
"""


async def run_live(bluez: VirtualBluez, mosquitto: Any, collector: Any, patient: str,
                   tmp_path: Path,
                   faults: WearableFaults, extra_reps: int = 0,
                   lsl: LslOptions | None = None, speed: float = SPEED,
                   protocol_extra: str = "",
                   ) -> tuple[list[dict[str, Any]], VirtualWearable, str]:
    protocol_file = protocol_path(tmp_path, protocol_extra)
    profile = find_profile("myo")
    packets, _ = session_packets(profile, str(protocol_file), seed=4, device="arm",
                                 extra_reps=extra_reps)
    wearable = VirtualWearable(bluez, profile, packets, speed=speed, faults=faults)
    await wearable.start()
    cfg: RunConfig = parse_run_config({
        "patient": patient, "protocol": str(protocol_file),
        "devices": [{"name": "arm", "profile": "myo", "address": "auto"}],
        "broker": {"host": mosquitto.host, "port": mosquitto.port},
        "ble": {"scan_timeout": 5.0},
        "recording": {"folder": str(tmp_path / "recordings")},
    })
    received: list[dict[str, Any]] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(collector(
        BrokerSettings(mosquitto.host, mosquitto.port), f"isofeedback/{patient}/#", received,
        ready, lambda d: False))
    await asyncio.wait_for(ready.wait(), 5)
    out = io.StringIO()
    code = await asyncio.wait_for(
        live_session(cfg, Console(file=out, width=120), view=False, time_scale=speed,
                     data_dir=tmp_path / "patients", lsl=lsl), 150)
    assert code == 0
    await asyncio.sleep(0.3)
    sub.cancel()
    await wearable.close()
    return received, wearable, out.getvalue()


def protocol_path(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "short_pir.toml"
    path.write_text(SHORT_PIR + extra)
    return path


def truth(tmp_path: Path, extra_reps: int = 0) -> tuple[list[float], list[float]]:
    from isofeedback.coach.protocol import find_protocol

    p = find_protocol(str(protocol_path(tmp_path)))
    # as session_packets makes the wearable's
    script = follow_protocol(p, reps=p.reps + extra_reps, seed=4)
    return [c.onset for c in script.contractions], [c.release for c in script.contractions]


def session_times(t: float, start: float, gaps: list[dict[str, Any]]) -> tuple[float, float]:
    """The session times the service may give the wearable's simulated time ``t``: shifted
    by the moment the stream started, and also by every loss reported before it. (A Myo has
    no packet counter: when a loaded machine stalls the service, packets arrive late, which
    the decoder takes as a loss, dating the next samples after it, until the burst of
    delayed packets shows they came early for those dates and the clock moves back.)"""
    shift = start
    for g in sorted(gaps, key=lambda g: g["t_event"]):
        if g["t_event"] - g["value"] <= t + shift:
            shift += g["value"]
    return t + start, t + shift


def t0(received: list[dict[str, Any]]) -> float:
    """Session time the device came online: its stream (the simulator's time 0) starts then."""
    return float(next(d["t"] for d in received
                      if d["_topic"].endswith("/device/arm/availability")
                      and d["state"] == "online"))


def device_states(received: list[dict[str, Any]]) -> list[str]:
    return [d["state"] for d in received if d["_topic"].endswith("/device/arm/availability")]


async def test_virtual_myo_session_events_match_labels(
    bluez: VirtualBluez, mosquitto: Any, patient: str, tmp_path: Path, mqtt_collector: Any
) -> None:
    # reps to spare: should a loaded machine stall the session long enough that the coach
    # pauses and asks for a rep again, the simulated patient repeats it
    received, wearable, text = await run_live(bluez, mosquitto, mqtt_collector, patient, tmp_path,
                                              WearableFaults(), extra_reps=2)
    events = [d for d in received if d["_topic"].endswith("/events")]
    onsets = [d["t_event"] for d in events if d["type"] == "onset"]
    releases = [d["t_event"] for d in events if d["type"] == "release"]
    on_truth, off_truth = truth(tmp_path, extra_reps=2)
    # the stream starts when the service writes the start command: shift by that moment
    start = t0(received)
    gaps = [e for e in events if e["type"] == "gap" and e["detail"]["stream"] == "emg"]
    # only what a stalled test machine explains: short, and no sample lost by the wearable
    assert sum(g["value"] for g in gaps) < 2.0, gaps
    # every onset and release is a labelled one (the nearest), each label found once; all
    # three contractions (the MVC and two reps) unless the session lost its signal
    for found, labels, tol in ((onsets, on_truth, ONSET_TOL_S),
                               (releases, off_truth, RELEASE_TOL_S)):
        at = [session_times(t, start, gaps) for t in labels]

        def error(i: int, t: float, at: list[tuple[float, float]] = at) -> float:
            return min(abs(at[i][0] - t), abs(at[i][1] - t))
        nearest = [min(range(len(at)), key=lambda i, t=t: error(i, t)) for t in found]
        assert all(error(i, t) <= tol for i, t in zip(nearest, found, strict=True)), (
            found, at, gaps)
        assert len(set(nearest)) == len(nearest), (found, at)
        lost = any(d["id"] == "signal_lost" for d in received if d["_topic"].endswith("/cues"))
        assert len(found) >= (2 if lost else 3), (found, at)
    summary = next(d for d in received if d["kind"] == "summary")
    assert summary["reps_done"] == 2
    assert device_states(received) == ["connecting", "online", "offline"]
    battery = [d for d in received if d["_topic"].endswith("/device/arm/battery")]
    assert battery and battery[0]["percent"] == 87
    assert wearable.stats.drops == 0  # (packets after the session's end count as offline)
    assert "0 dropped (queue full)" in text
    # the patient's calibration and this session are kept for the next session's coach
    stored = json.loads((tmp_path / "patients" / f"{patient}.json").read_text())
    assert len(stored["sessions"]) == 1 and stored["calibration"]["mvc"] > 0
    # "release now" was also sent as a vibration to the armband, once per rep
    assert wearable.device is not None
    buzzes = [d for _, d in wearable.device.writes if d == bytes.fromhex("030101")]
    releases = [d for d in received if d["_topic"].endswith("/cues") and d["id"] == "release"]
    assert len(buzzes) == len(releases) == 2
    # the live session was recorded; replaying it reproduces every event and cue exactly
    (recording,) = (tmp_path / "recordings").glob("*.isorec")
    result = await replay_async(recording, verify=True)
    assert result.verified, result.difference


async def test_link_drop_mid_hold_reconnects_and_reports_the_gap(
    bluez: VirtualBluez, mosquitto: Any, patient: str, tmp_path: Path, mqtt_collector: Any
) -> None:
    on_truth, _ = truth(tmp_path)
    drop = on_truth[1] + 2.0  # mid-hold of rep 1 (contraction 0 is the MVC)
    # the coach asks to repeat the interrupted rep, and the simulated patient does (with
    # reps to spare: a Myo has no packet counter, so a machine that stalls the virtual
    # wearable for a second makes another gap, and another repeated rep)
    received, wearable, text = await run_live(bluez, mosquitto, mqtt_collector, patient, tmp_path,
                                              WearableFaults(drop_at=(drop,)), extra_reps=3)
    assert wearable.stats.drops == 1 and wearable.stats.lost_offline > 0
    # (looked for once: after the drop it reconnects by itself)
    assert device_states(received) == ["connecting", "online", "offline", "online", "offline"]
    gaps = [d for d in received if d["_topic"].endswith("/events") and d["type"] == "gap"]
    assert gaps, ("the lost samples must be reported as a gap", text, wearable.stats)
    # a gap event is dated at the first sample after it; the drop's began when the link
    # dropped. (The Myo has no packet counter: a loaded machine that stalls the virtual
    # wearable for a second also shows as a gap, elsewhere; those are not the drop's.)
    start = drop + t0(received)
    at_drop = [g for g in gaps if abs(g["t_event"] - g["value"] - start) < 0.3]
    assert {g["detail"]["stream"] for g in at_drop} >= {"emg"}, (
        [(g["t_event"], g["value"]) for g in gaps], drop, t0(received))
    lost_s = sum(g["value"] for g in at_drop if g["detail"]["stream"] == "emg")
    # out of range for outage_s, plus the reconnection (scan, connect, start) in session
    # time, which a loaded machine stretches: a sanity bound, not a speed limit
    outage = wearable.faults.outage_s
    assert outage <= lost_s <= outage + 5.0, (lost_s, gaps)
    # (the coach's "cleared" marks the end of a warning: not part of what is said)
    said = [d for d in received if d["_topic"].endswith("/cues") and d["id"] != "cleared"]
    cues = [d["id"] for d in said]
    lost_at = next(i for i, c in enumerate(cues)  # the drop's: the first after it
                   if c == "signal_lost" and said[i]["t"] >= start)
    assert cues[lost_at + 1 : lost_at + 3] == ["signal_back", "repeat_rep"], cues
    summary = next(d for d in received if d["kind"] == "summary")
    assert summary["reps_done"] == 2 and summary["complete"], summary
    assert "1 lost" in text
    # the pause the live service announced (no data for 1 s) replays identically
    (recording,) = (tmp_path / "recordings").glob("*.isorec")
    result = await replay_async(recording, verify=True)
    assert result.verified, result.difference


async def test_a_sensor_that_never_comes_back_ends_the_session_with_its_summary(
    bluez: VirtualBluez, mosquitto: Any, patient: str, tmp_path: Path, mqtt_collector: Any
) -> None:
    """The wearable drops the link mid-hold and stays out of range: the session pauses,
    the link keeps trying, and after the protocol's ``sensor_wait_s`` of silence the
    session ends — said to the patient (``sensor_gone``), with its summary published and
    recorded — instead of staying paused for ever (no summary, no history, no reminders)."""
    on_truth, _ = truth(tmp_path)
    drop = on_truth[1] + 2.0  # mid-hold of rep 1
    received, wearable, text = await run_live(
        bluez, mosquitto, mqtt_collector, patient, tmp_path,
        WearableFaults(drop_at=(drop,), outage_s=1e6), protocol_extra="sensor_wait_s = 6.0\n")
    assert wearable.stats.drops == 1
    said = [d for d in received if d["_topic"].endswith("/cues") and d["id"] != "cleared"]
    cues = [d["id"] for d in said]
    assert cues[-2:] == ["signal_lost", "sensor_gone"], cues
    lost, gone = said[-2:]
    # 1 s of silence pauses, sensor_wait_s ends: both from the last sample, in session time
    assert 4.9 <= gone["t"] - lost["t"] <= 5.1, (lost, gone)
    summary = next(d for d in received if d["kind"] == "summary")
    assert summary["stop_reason"] == "the sensor did not come back", summary
    assert not summary["complete"] and summary["reps_done"] == 0, summary
    assert "the sensor did not come back" in text
    # the stop is a recorded command: a replay ends the session at the same point
    (recording,) = (tmp_path / "recordings").glob("*.isorec")
    result = await replay_async(recording, verify=True)
    assert result.verified, result.difference


def _lsl_markers(patient: str, out: list[dict[str, Any]]) -> None:
    """A LabRecorder-like consumer (in a thread: pylsl blocks): finds both of the session's
    streams by name and connects to both (the service waits for a consumer on each), then
    keeps every marker until the outlet goes away."""
    import pylsl

    inlets = []
    for kind in ("level", "markers"):
        found = pylsl.resolve_byprop("name", f"isofeedback {patient} {kind}", timeout=30.0)
        assert found, f"no LSL stream for {kind}"
        inlet = pylsl.StreamInlet(found[0], recover=False)
        inlet.open_stream(timeout=30.0)
        inlets.append(inlet)
    level, markers = inlets
    while True:
        try:
            level.pull_chunk(timeout=0.0)
            samples, _ = markers.pull_chunk(timeout=0.2)
        except pylsl.util.LostError:
            return
        out += [json.loads(s[0]) for s in samples]


async def test_live_session_with_lsl_streams_every_event_and_cue(
    bluez: VirtualBluez, mosquitto: Any, patient: str, tmp_path: Path, mqtt_collector: Any
) -> None:
    """``run --lsl``: the live BLE session's events and cues reach an LSL consumer, the
    same and in the same order as the MQTT subscriber gets them."""
    markers: list[dict[str, Any]] = []
    consumer = asyncio.create_task(asyncio.to_thread(
        _lsl_markers, patient, markers))
    # (reps to spare: see the first test)
    received, _, text = await run_live(bluez, mosquitto, mqtt_collector, patient, tmp_path,
                                       WearableFaults(), extra_reps=2,
                                       lsl=LslOptions(wait_s=20.0))
    await asyncio.wait_for(consumer, 30)
    # the session started once the consumer had connected, not after the 20 s wait
    assert "no LSL consumer yet" not in text, text

    def reliable(docs: list[dict[str, Any]]) -> list[tuple[str, Any]]:
        return [(d["kind"], d.get("type") or d.get("id")) for d in docs
                if d["kind"] in ("event", "cue")]

    mqtt = reliable(sorted((d for d in received if "seq" in d and d["kind"] != "level"),
                           key=lambda d: d["seq"]))
    assert mqtt and reliable(markers) == mqtt
    assert sum(1 for k, v in mqtt if (k, v) == ("event", "onset")) >= 2
