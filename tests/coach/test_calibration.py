"""Calibration: the per-patient store on disk, staleness and plausibility, and the coach
reusing or redoing a stored calibration on a scripted patient."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from isofeedback.coach.calibration import Calibration, stale_reason
from isofeedback.coach.calibration_store import PatientStore
from isofeedback.coach.protocol import find_protocol
from isofeedback.errors import ConfigError
from isofeedback.profiles.schema import find_profile
from isofeedback.sim import packetize
from isofeedback.sim.scenarios import scenario_script
from isofeedback.sources.simulated import simulate_for_profile
from isofeedback.types import Feedback, Packet
from tests.coach.sessions import feed, run, simulated, trace

DAY = 86400.0
MVC = "pir-mvc"  # the calibration of a maximal contraction, when the clinician enables it


def test_store_round_trip_with_owner_only_permissions(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    store = PatientStore(folder, "p-7")
    assert store.calibration() is None and store.sessions() == []
    cal = Calibration("myo", "sim", 1000.0, 1.2, 0.12, 26.0)
    store.save_calibration(cal)
    store.add_session({"session": "s1", "rom_deg": 8.0})
    again = PatientStore(folder, "p-7")
    assert again.calibration() == cal
    assert again.sessions() == [{"session": "s1", "rom_deg": 8.0}]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [p.name for p in folder.iterdir()] == ["p-7.json"]  # no temporary left behind


def test_corrupt_store_is_a_clear_error_and_is_not_overwritten(tmp_path: Path) -> None:
    store = PatientStore(tmp_path, "p")
    store.path.write_text("{not json")
    with pytest.raises(ConfigError, match="the patient store is corrupt"):
        store.add_session({"session": "s"})
    assert store.path.read_text() == "{not json"


def test_calibration_with_missing_field(tmp_path: Path) -> None:
    store = PatientStore(tmp_path, "p")
    store.path.write_text(json.dumps({"version": 1, "calibration": {"profile": "myo"}}))
    with pytest.raises(ConfigError, match="calibration: missing 'device'"):
        store.calibration()


def test_patient_id_cannot_escape_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot name a store file"):
        PatientStore(tmp_path, "../x")


@pytest.mark.parametrize(
    ("change", "now", "reason"),
    [
        ({}, 20 * DAY, "calibration is 20.0 days old (limit 14 days)"),
        ({"profile": "openemg"}, DAY, "made with profile 'openemg'"),
        ({"device": "other"}, DAY, "made with device 'other'"),
        ({"mvc": 0.5}, DAY, "MVC 0.5 is only 4.2x the resting noise"),
        ({}, -DAY, "dated in the future"),
    ],
)
def test_stale_or_implausible(change: dict[str, Any], now: float, reason: str) -> None:
    cal = replace(Calibration("myo", "sim", 0.0, 1.2, 0.12, 26.0), **change)
    got = stale_reason(cal, now=now, profile="myo", device="sim")
    assert got is not None and reason in got


def test_fresh_calibration_is_reused() -> None:
    cal = Calibration("myo", "sim", 0.0, 1.2, 0.12, 26.0)
    assert stale_reason(cal, now=DAY, profile="myo", device="sim") is None


def _without_mvc_capture(name: str = "clean") -> list[Packet]:
    protocol = replace(find_protocol(MVC), mvc_capture=False)
    profile = find_profile("myo")
    session = simulate_for_profile(scenario_script(name, protocol), profile)
    return packetize(session, profile)


def test_stored_calibration_skips_the_mvc_and_gives_the_same_intensities() -> None:
    measured = run("clean", MVC).pipeline.coach
    assert measured.mvc is not None and measured.noise is not None
    cal = Calibration("myo", "sim", 0.0, measured.baseline or 0.0, measured.noise, measured.mvc)
    pipeline, out = feed(_without_mvc_capture(), find_protocol(MVC), live=False,
                         calibration=cal)
    t = trace(out)
    assert t[:6] == ["phase:calibrating", "cue:calibrate_rest", "cue:calibration_reused",
                     "phase:waiting", "cue:contract", "phase:contracting"]
    assert "phase:mvc" not in t and t[-4:] == ["phase:done", "cue:done", "summary", "progress"]
    assert pipeline.coach.mvc_source == "stored"


def test_rest_noise_far_from_the_stored_one_redoes_the_mvc() -> None:
    measured = run("clean", MVC).pipeline.coach
    assert measured.mvc is not None and measured.noise is not None
    cal = Calibration("myo", "sim", 0.0, 1.0, measured.noise * 5, measured.mvc)
    _, packets = simulated("clean", MVC)
    pipeline, out = feed(packets, find_protocol(MVC), live=False, calibration=cal)
    t = trace(out)
    assert t[:5] == ["phase:calibrating", "cue:calibrate_rest", "cue:recalibrate", "phase:mvc",
                     "cue:mvc"]
    reason = next(o.payload["reason"] for o in out
                  if isinstance(o, Feedback) and o.payload.get("id") == "recalibrate")
    assert "resting noise 0.2x the stored one" in reason
    assert pipeline.coach.mvc_source == "captured"
    assert pipeline.coach.mvc == pytest.approx(measured.mvc)


def test_a_damaged_store_is_set_aside_and_the_session_goes_on(
    mosquitto: Any, patient: str, tmp_path: Path
) -> None:
    """A patient cannot repair a file: a store that cannot be read (cut short by a full
    disk, edited by hand) no longer blocks every session. The session keeps the damaged
    file beside it for the clinician, says so, starts a new store and stores itself;
    ``progress`` shows the new session and names the kept file."""
    data = tmp_path / "store"
    data.mkdir()
    damaged = data / f"{patient}.json"
    damaged.write_text('{"version": 1, "sessions": [{"session": "old"')
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
           "COLUMNS": "200"}
    base = [sys.executable, "-m", "isofeedback.cli"]
    done = subprocess.run([*base, "demo", "--speed", "max", "--plain", "--patient", patient,
                           "--broker", f"{mosquitto.host}:{mosquitto.port}", "--data-dir",
                           str(data)], env=env, capture_output=True, text=True, timeout=90,
                          check=False)
    assert done.returncode == 0, done.stderr
    (aside,) = data.glob(f"{patient}.json.damaged-*")
    assert aside.read_text() == '{"version": 1, "sessions": [{"session": "old"'
    assert "could not be read" in done.stdout and str(aside) in done.stdout
    assert "3/3 reps" in done.stdout
    assert len(json.loads(damaged.read_text())["sessions"]) == 1
    shown = subprocess.run([*base, "progress", "--patient", patient, "--data-dir", str(data)],
                           env=env, capture_output=True, text=True, timeout=60, check=False)
    assert shown.returncode == 0 and "1 session" in shown.stdout
    assert str(aside) in shown.stdout.replace("\n", "")


def test_a_sound_or_absent_store_is_not_set_aside(tmp_path: Path) -> None:
    """Only damaged content is set aside; a store that is fine stays, none is made."""
    store = PatientStore(tmp_path, "p")
    assert store.set_aside_if_damaged() is None and not store.path.exists()
    store.add_session({"session": "s"})
    assert store.set_aside_if_damaged() is None and store.damaged_copies() == []
