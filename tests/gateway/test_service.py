"""The service as systemd runs it: the shipped unit verifies, ``service install`` writes it
(and keeps an existing config), and the unit's own ExecStart line, run against a virtual
wearable (virtual BlueZ on a private D-Bus) and a real Mosquitto, stops cleanly on SIGTERM
and starts again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from isofeedback.ble.private_bus import PrivateSystemBus
from isofeedback.ble.virtual_bluez import VirtualBluez
from isofeedback.ble.wearable import VirtualWearable
from isofeedback.cli import main
from isofeedback.commands.virtual_device import session_packets
from isofeedback.errors import ConfigError
from isofeedback.gateway.config import load_service_config, service_paths
from isofeedback.gateway.systemd import plan_install
from isofeedback.profiles.schema import find_profile
from isofeedback.recording.reader import RecordingReader
from isofeedback.sinks.mqtt import BrokerSettings

SRC = Path(__file__).resolve().parents[2] / "src"


def _verify(unit: Path, user: bool, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("systemd-analyze")
    assert exe, "systemd-analyze is missing: scripts/test.sh installs the Debian package systemd"
    env = dict(os.environ)
    if user:  # the user manager needs a runtime folder, as under a login session
        runtime = tmp_path / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    return subprocess.run([exe, *(["--user"] if user else []), "verify", str(unit)],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("user", [False, True], ids=["system", "user"])
def test_unit_passes_systemd_analyze_verify(tmp_path: Path, user: bool) -> None:
    plan = plan_install(service_paths(user, {"HOME": str(tmp_path)}), user)
    unit = tmp_path / "isofeedback.service"
    unit.write_text(plan.unit)
    r = _verify(unit, user, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "isofeedback.service" not in r.stderr, r.stderr
    # the check can fail: an unknown key in the same unit is reported
    unit.write_text(plan.unit.replace("Restart=on-failure", "Restart=on-failure\nRestrt=x"))
    assert "Unknown key" in _verify(unit, user, tmp_path).stderr
    for line in ("Restart=on-failure", "RestartSec=10", "StartLimitBurst=5",
                 "RestartPreventExitStatus=78", "KillSignal=SIGTERM"):
        assert line in plan.unit.splitlines()
    if not user:
        assert "DynamicUser=yes" in plan.unit and "SupplementaryGroups=bluetooth" in plan.unit
        assert "AF_UNIX" in plan.unit  # D-Bus to BlueZ stays allowed


def test_install_writes_unit_keeps_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    assert main(["service", "install", "--user", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would write {home}/.config/systemd/user/isofeedback.service:" in out
    assert not home.exists()  # a dry run writes nothing
    assert main(["service", "install", "--user"]) == 0
    out = capsys.readouterr().out
    assert "systemctl --user daemon-reload && systemctl --user enable --now isofeedback" in out
    config = home / ".config" / "isofeedback" / "service.toml"
    svc = load_service_config(config)  # the default config is valid as written
    assert svc.run.recording_folder == home / ".local/share/isofeedback/recordings"
    assert (home / ".local/share/isofeedback").stat().st_mode & 0o777 == 0o700
    assert config.stat().st_mode & 0o077 == 0
    # an upgrade rewrites the unit, never the user's config
    config.write_text(config.read_text().replace('patient = "p01"', 'patient = "p42"'))
    assert main(["service", "install", "--user"]) == 0
    assert "kept the existing configuration" in capsys.readouterr().out
    assert load_service_config(config).run.patient == "p42"


def test_config_versions(write_config: Callable[..., Path]) -> None:
    old = load_service_config(write_config(version=None))
    assert old.version_note.endswith("no 'version' key: read as format 1; add 'version = 1' "
                                     "at the top to silence this note")
    assert load_service_config(write_config()).version_note == ""
    path = write_config(version=2)
    with pytest.raises(ConfigError) as err:
        load_service_config(path)
    assert str(err.value) == (
        f"{path}: version = 2 was written for a newer isofeedback; this one reads version 1: "
        "upgrade isofeedback (pip install -U isofeedback) or write the file in the older format")
    with pytest.raises(ConfigError, match=r"service\.log_format must be one of 'text', 'json'"):
        load_service_config(write_config(service={"log_format": "xml"}))
    with pytest.raises(ConfigError, match=r"service\.colour: unknown key"):
        load_service_config(write_config(service={"colour": "red"}))


def test_config_error_exits_78_without_restart(write_config: Callable[..., Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(version=7)
    assert main(["service", "run", str(path), "--log-format", "json"]) == 78
    # the service's own line is the last: an earlier test's stray asyncio log (a future
    # collected in this test) may come before it in the same worker
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["level"] == "error" and "version = 7" in line["msg"]


def test_a_data_folder_that_cannot_hold_files_is_a_config_error_at_start(
        write_config: Callable[..., Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Found later, every history and every prescription was lost with one INFO line."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = write_config(service={"data_dir": str(blocker / "patients")})
    assert main(["service", "run", str(path), "--log-format", "json"]) == 78
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["level"] == "error" and "cannot hold the patients' files" in line["msg"]


# ---- run as the unit would

async def _read_until(proc: asyncio.subprocess.Process, lines: list[str], needle: str,
                      timeout: float) -> None:
    assert proc.stderr is not None

    async def read() -> None:
        while True:
            raw = await proc.stderr.readline()  # type: ignore[union-attr]
            if not raw:
                raise AssertionError(f"service exited before {needle!r}:\n" + "\n".join(lines))
            lines.append(raw.decode().rstrip())
            if needle in lines[-1]:
                return

    try:
        await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        raise AssertionError(f"no {needle!r} within {timeout} s:\n" + "\n".join(lines)) from None


async def _retained(broker: BrokerSettings, topic: str) -> dict[str, Any]:
    async with broker.client() as client:
        await client.subscribe(topic, qos=1)
        async for msg in client.messages:
            assert isinstance(msg.payload, bytes) and msg.retain
            doc: dict[str, Any] = json.loads(msg.payload)
            return doc
    raise AssertionError(f"nothing retained on {topic}")


async def test_unit_exec_start_sigterm_and_restart(
        tmp_path: Path, mosquitto: Any, patient: str,
        write_config: Callable[..., Path]) -> None:
    secret = "pw-that-must-not-be-logged"
    config = write_config(patient=patient, broker={"host": mosquitto.host,
                                                   "port": mosquitto.port, "user": "p01"},
                          service={"log_format": "text", "home_assistant": True})
    paths = service_paths(True, {"HOME": str(tmp_path)})
    unit = plan_install(paths, True).unit
    exec_line = next(x for x in unit.splitlines() if x.startswith("ExecStart="))
    argv = shlex.split(exec_line.removeprefix("ExecStart="))
    assert argv[1:] == ["-m", "isofeedback", "service", "run", str(paths.config)]
    argv[-1] = str(config)  # the unit's command line with this test's config file
    profile = find_profile("myo")
    packets, _ = session_packets(profile, "pir", seed=2, device="arm")
    async with PrivateSystemBus() as bus, VirtualBluez(bus.address,
                                                       advertising_interval=0.05) as bluez:
        wearable = VirtualWearable(bluez, profile, packets, speed=1.0)
        await wearable.start()
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": bus.address,
               "PYTHONPATH": str(SRC), "JOURNAL_STREAM": "8:1234",
               "ISOFEEDBACK_MQTT_PASSWORD": secret}
        try:
            for start in (1, 2):  # the second start is systemd's restart
                proc = await asyncio.create_subprocess_exec(
                    *argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE)
                lines: list[str] = []
                try:
                    await _read_until(proc, lines, "availability state online", 60)
                    await asyncio.sleep(1.0)  # some of the session flows
                    proc.send_signal(signal.SIGTERM)
                    await _read_until(proc, lines, "stopped cleanly on SIGTERM", 30)
                    assert await asyncio.wait_for(proc.wait(), 20) == 0
                finally:
                    if proc.returncode is None:
                        proc.kill()
                        await proc.wait()
                rest = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
                lines += rest.splitlines()
                assert wearable.stats.starts == start
                # journal-friendly: every line one event with a syslog priority, no secret
                assert all(x[:3] in ("<3>", "<4>", "<6>", "<7>") for x in lines), lines
                assert "<6>INFO isofeedback.service: stopped cleanly on SIGTERM after 0 " \
                       "complete session(s) (the one under way was ended and kept)" in lines
                assert not any(secret in x or "Traceback" in x for x in lines)
                assert not any(c in x for x in lines for c in "┏┃│└━"), lines  # tables: 1 line
                assert any("Home Assistant discovery: 8 entities published" in x
                           for x in lines), lines
        finally:
            await wearable.close()
    recordings = sorted((tmp_path / "recordings").glob("*.isorec"))
    assert len(recordings) == 2
    for rec in recordings:
        assert RecordingReader(rec).complete  # closed, not cut off
        assert rec.stat().st_mode & 0o077 == 0
    status = await _retained(BrokerSettings(mosquitto.host, mosquitto.port),
                             f"isofeedback/{patient}/status")
    assert status["state"] == "offline"
    # the session's one stop path ran: summary published (retained) and history stored
    summary = await _retained(BrokerSettings(mosquitto.host, mosquitto.port),
                              f"isofeedback/{patient}/summary")
    assert summary["kind"] == "summary" and summary["complete"] is False
    store = json.loads((tmp_path / "patients" / f"{patient}.json").read_text())
    assert len(store["sessions"]) == 2


@contextlib.asynccontextmanager
async def _service_without_wearable(config: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """``service run CONFIG`` as the unit starts it (JSON log on stderr), on a private bus
    with a virtual BlueZ where no device advertises; killed if a test leaves it running."""
    async with PrivateSystemBus() as bus, VirtualBluez(bus.address):
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": bus.address, "PYTHONPATH": str(SRC)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "isofeedback", "service", "run", str(config),
            "--log-format", "json", env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_sigterm_while_waiting_for_the_wearable(
        tmp_path: Path, mosquitto: Any, patient: str,
        write_config: Callable[..., Path]) -> None:
    """At boot the sensor is usually off: the service scans; a stop then ends it at once."""
    config = write_config(patient=patient, broker={"host": mosquitto.host,
                                                   "port": mosquitto.port})
    lines: list[str] = []
    async with _service_without_wearable(config) as proc:
        await _read_until(proc, lines, "waiting until found", 60)
        await asyncio.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        await _read_until(proc, lines, "stopped cleanly on SIGTERM", 30)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    docs = [json.loads(x) for x in lines]  # every line one JSON object
    assert docs[-1]["msg"] == "stopped cleanly on SIGTERM after 0 complete session(s)"
    assert {d["level"] for d in docs} <= {"info", "warning"}
    assert not list((tmp_path / "recordings").glob("*.isorec"))  # no session began


async def test_the_service_follows_the_stored_prescription_and_publishes_the_schedule(
        tmp_path: Path, mosquitto: Any, patient: str,
        write_config: Callable[..., Path]) -> None:
    """A prescription an earlier session stored chooses the protocol of the next session,
    and the retained schedule is there while the service waits for the wearable."""
    import datetime as dt

    from isofeedback.coach.calibration_store import PatientStore

    today = dt.date.today()
    PatientStore(tmp_path / "patients", patient).save_prescription(
        {"prescription": {"patient": patient, "protocol": "hip-flexors-met",
                          "times_per_day": 3, "days": 7, "start": today.isoformat(),
                          "reminders": ["07:00", "12:00", "19:00"]}})
    config = write_config(patient=patient, broker={"host": mosquitto.host,
                                                   "port": mosquitto.port})
    lines: list[str] = []
    async with _service_without_wearable(config) as proc:
        await _read_until(proc, lines, "waiting until found", 60)
        async with BrokerSettings(mosquitto.host, mosquitto.port).client() as client:
            await client.subscribe(f"isofeedback/{patient}/schedule", qos=1)
            async with asyncio.timeout(20):  # retained, or live if it is just going out
                async for msg in client.messages:
                    assert isinstance(msg.payload, bytes)
                    schedule = json.loads(msg.payload)
                    break
        proc.send_signal(signal.SIGTERM)
        await _read_until(proc, lines, "stopped cleanly on SIGTERM", 30)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    msgs = [json.loads(x)["msg"] for x in lines]
    assert any(m.startswith("prescribed protocol: hip-flexors-met (3 a day from") for m in msgs)
    assert any("Hip flexors" in m and "waiting until found" in m for m in msgs), msgs
    assert (schedule["protocol"], schedule["due_today"], schedule["done_today"]) == (
        "hip-flexors-met", 3, 0)
    assert schedule["next_reminder"] is None or schedule["next_reminder"] > (
        dt.datetime.now() - dt.timedelta(minutes=1)).isoformat(timespec="minutes")


async def test_the_service_serves_the_patients_page_across_sessions(
        tmp_path: Path, mosquitto: Any, patient: str,
        write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    """``[service] web``: the gateway serves the patient's page for as long as it runs
    (not one session's), with a token kept in the data folder so that the bookmark or the
    QR code scanned once opens it after every restart; ``service page`` prints both."""
    import urllib.request

    import aiomqtt

    from isofeedback.broker import free_port

    port = free_port()
    config = write_config(patient=patient, broker={"host": mosquitto.host,
                                                   "port": mosquitto.port},
                          service={"web": f"127.0.0.1:{port}"})
    assert main(["service", "page", str(config)]) == 0
    first = capsys.readouterr().out
    assert main(["service", "page", str(config)]) == 0
    token_file = tmp_path / "patients" / "web-token"
    token = token_file.read_text().strip()
    assert token_file.stat().st_mode & 0o077 == 0 and len(token) >= 16
    url = f"http://127.0.0.1:{port}/?token={token}"
    assert f"Patient page: {url}" in first and first == capsys.readouterr().out
    lines: list[str] = []
    async with _service_without_wearable(config) as proc:
        await _read_until(proc, lines, "waiting until found", 60)
        assert any(f"127.0.0.1:{port}" in line and "page" in line for line in lines), lines
        page = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
        assert b"<html" in page.lower()
        # what the page does: MQTT over its WebSocket, relayed to the sessions' broker
        async with aiomqtt.Client("127.0.0.1", port, transport="websockets",
                                  websocket_path=f"/mqtt?token={token}") as client:
            await client.subscribe(f"isofeedback/{patient}/status", qos=1)
            async with asyncio.timeout(20):
                async for msg in client.messages:
                    assert isinstance(msg.payload, bytes)
                    assert json.loads(msg.payload)["state"] == "online"
                    break
        proc.send_signal(signal.SIGTERM)
        await _read_until(proc, lines, "stopped cleanly on SIGTERM", 30)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


@pytest.mark.parametrize(("service", "broker", "problem"), [
    ({"web": "0.0.0.0:99999"}, True, "service.web port 99999 must be 1–65535"),
    ({"web": ":8080"}, True, "service.web ':8080' must look like ADDRESS"),
])
def test_a_bad_page_setting_is_one_clear_error(
        write_config: Callable[..., Path], service: dict[str, Any], broker: bool,
        problem: str) -> None:
    config = write_config(service=service,
                          broker={"host": "127.0.0.1", "port": 1883} if broker else None)
    with pytest.raises(ConfigError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        load_service_config(config)


def test_a_page_on_the_network_needs_the_data_folder_for_its_token(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    """Without service.data_dir the token would be new at every start, and 'service page'
    would print one the running service does not accept."""
    config = write_config(service={"web": "0.0.0.0:8080"})
    text = config.read_text().replace(f'data_dir = "{tmp_path / "patients"}"\n', "")
    config.write_text(text)
    with pytest.raises(ConfigError, match=r"service\.web on a network address needs "
                                          r"service\.data_dir"):
        load_service_config(config)
    config.write_text(text.replace("0.0.0.0:8080", "127.0.0.1:8080"))
    assert load_service_config(config).web == ("127.0.0.1", 8080)  # no token on loopback
