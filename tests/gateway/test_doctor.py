"""``isofeedback doctor``: each failure a home can have, presented by real components (the
virtual BlueZ on a private D-Bus, a private Mosquitto with a password file and TLS, a
folder this user cannot write), and the exact advice printed for it."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from isofeedback.ble.private_bus import PrivateSystemBus
from isofeedback.ble.virtual_bluez import VirtualBluez
from isofeedback.ble.wearable import device_spec
from isofeedback.cli import main
from isofeedback.gateway.config import load_service_config
from isofeedback.gateway.doctor import Check, check_broker, check_folder, exit_status, run_checks
from isofeedback.profiles.schema import find_profile
from tests.e2e.test_mqtt_tls_acl import make_pki

MYO = find_profile("myo")
BT = ("dbus", "bluez", "adapter", "permission", "wearable")


def lines(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.line() for c in checks}


async def bt_checks(config: Path | None = None) -> dict[str, Check]:
    cfg = load_service_config(config).run if config else None
    got = await run_checks(cfg, Path("/nonexistent"), Path("/nonexistent"), BT,
                           scan_timeout=1.0)
    return {c.name: c for c in got}


def test_no_dbus_cli_line_and_exit_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-such-bus")
    assert main(["doctor", "--only", "dbus,bluez,adapter"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"FAIL    dbus        cannot connect to unix:path={tmp_path}/no-such-bus "
        "(FileNotFoundError): Bluetooth is not available: the system message bus (D-Bus) is "
        "not running; start it with 'sudo systemctl start dbus bluetooth'")
    assert out[1] == "SKIP    bluez       needs dbus"
    assert out[2] == "SKIP    adapter     needs dbus"
    assert out[3] == "1 check(s) failed"


def test_json_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-such-bus")
    assert main(["doctor", "--only", "dbus,data", "--json", "--data-dir", str(tmp_path),
                 "--recordings", str(tmp_path / "rec")]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert [(c["name"], c["status"]) for c in doc["checks"]] == [
        ("dbus", "fail"), ("data", "ok"), ("data", "ok")]
    assert doc["checks"][0]["advice"].startswith("Bluetooth is not available")


def test_unknown_check_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["doctor", "--only", "dbus,radio"])
    assert exc.value.code == 2
    assert "--only must be one of 'dbus', 'bluez'" in capsys.readouterr().err


async def test_bluez_absent(private_bus: PrivateSystemBus) -> None:
    got = await bt_checks()
    assert got["dbus"].status == "ok"
    assert got["bluez"].line() == (
        "FAIL    bluez       no Bluetooth service (org.bluez) on the system bus: the Bluetooth "
        "service (BlueZ) is not running: start it with 'sudo systemctl start bluetooth' and "
        "try again (not installed? 'sudo apt install bluez')")
    assert [got[n].status for n in ("adapter", "permission", "wearable")] == ["skip"] * 3


async def test_adapter_switched_off(private_bus: PrivateSystemBus) -> None:
    async with VirtualBluez(private_bus.address, powered=False):
        got = await bt_checks()
    assert got["bluez"].status == "ok"
    assert got["adapter"].line() == (
        "FAIL    adapter     adapter hci0 is switched off: Bluetooth is switched off: turn it "
        "on (the system's Bluetooth setting, or 'bluetoothctl power on') and try again")
    assert got["permission"].line() == "SKIP    permission  needs adapter"


async def test_no_adapter(private_bus: PrivateSystemBus) -> None:
    async with VirtualBluez(private_bus.address, has_adapter=False):
        got = await bt_checks()
    assert got["bluez"].status == "ok"
    assert got["adapter"].line() == (
        "FAIL    adapter     BlueZ has no adapter: no Bluetooth LE adapter found: plug one in "
        "or enable the built-in one, then try again")


async def test_not_allowed_to_scan(private_bus: PrivateSystemBus) -> None:
    async with VirtualBluez(private_bus.address) as bluez:
        bluez.fail_next("StartDiscovery", "org.freedesktop.DBus.Error.AccessDenied")
        got = await bt_checks()
    assert got["adapter"].status == "ok"
    assert got["permission"].line() == (
        "FAIL    permission  not allowed to scan (org.freedesktop.DBus.Error.AccessDenied): "
        "this user may not use Bluetooth: add it to the 'bluetooth' group ('sudo usermod -aG "
        "bluetooth USER', then log in again) or run the service as the user the systemd unit "
        "names")


async def test_wearable_seen_with_signal_strength(
        private_bus: PrivateSystemBus, write_config: Callable[..., Path]) -> None:
    async with VirtualBluez(private_bus.address, advertising_interval=0.05) as bluez:
        await bluez.add_device(device_spec(MYO, "C0:FF:EE:00:00:07", rssi=-61))
        got = await bt_checks(write_config())
        assert [got[n].status for n in BT] == ["ok"] * 5
        assert got["wearable"].line() == (
            "OK      wearable    seen: arm C0:FF:EE:00:00:07 at -61 dBm")
        # the configured address is not around: say what to do
        got = await bt_checks(write_config(address="C0:FF:EE:00:00:99"))
        assert got["wearable"].line() == (
            "FAIL    wearable    arm (C0:FF:EE:00:00:99) not seen within 1 s: switch the "
            "sensor on, charge it and bring it within a few metres of this computer; check "
            "the address with 'isofeedback scan'")


async def test_wearable_weak_signal(private_bus: PrivateSystemBus,
                                    write_config: Callable[..., Path]) -> None:
    async with VirtualBluez(private_bus.address, advertising_interval=0.05) as bluez:
        await bluez.add_device(device_spec(MYO, "C0:FF:EE:00:00:08", rssi=-93))
        got = await bt_checks(write_config())
    assert got["wearable"].status == "warn"
    assert got["wearable"].advice.startswith("move this computer closer")
    assert exit_status(list(got.values())) == 0  # a warning is told, not fatal


# ---- broker

@pytest.fixture(scope="module")
def secured_broker(tmp_path_factory: pytest.TempPathFactory,
                   mosquitto_control: Any) -> Iterator[dict[str, Any]]:
    """A Mosquitto with a password file on a plain port and a TLS port (server cert from a
    test CA), plus a second, unrelated CA."""
    start, stop = mosquitto_control
    folder = tmp_path_factory.mktemp("secured")
    make_pki(folder)
    other = folder / "other"
    other.mkdir()
    make_pki(other)
    pw = folder / "passwords"
    pw.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(pw), "p01", "right-pass"], check=True,
                   capture_output=True)
    from tests.conftest import _free_port, _wait_port

    # the TLS port is chosen free, then bound by mosquitto: another test's broker may take
    # it in between (mosquitto then exits after its first listener answered), so both
    # ports must answer, else the broker is started again on new ones
    for attempt in range(3):
        tls_port = _free_port()
        broker = start(folder, f"user root\nallow_anonymous false\npassword_file {pw}\n"
                       f"listener {tls_port} 127.0.0.1\ncafile {folder}/ca.crt\n"
                       f"certfile {folder}/server.crt\nkeyfile {folder}/server.key\n")
        try:
            _wait_port(tls_port, timeout=5.0)
            break
        except RuntimeError:
            stop(broker)
            if attempt == 2:
                raise
    yield {"folder": folder, "port": broker.port, "tls_port": tls_port}
    stop(broker)


def _secret(folder: Path, text: str) -> str:
    path = folder / f"pw-{text}"
    path.write_text(text + "\n")
    path.chmod(0o600)  # a password file others can read is refused
    return str(path)


async def test_broker_accepts_right_credentials(secured_broker: dict[str, Any],
                                                write_config: Callable[..., Path]) -> None:
    f = secured_broker["folder"]
    cfg = load_service_config(write_config(broker={
        "port": secured_broker["tls_port"], "user": "p01", "tls_ca": str(f / "ca.crt"),
        "password_file": _secret(f, "right-pass")})).run
    c = await check_broker(cfg.broker)
    assert c.line() == f"OK      broker      connected to 127.0.0.1:{secured_broker['tls_port']} " \
                       "as p01 with TLS"


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_broker_refuses_wrong_password(secured_broker: dict[str, Any],
                                             write_config: Callable[..., Path],
                                             protocol: str) -> None:
    f = secured_broker["folder"]
    cfg = load_service_config(write_config(broker={
        "port": secured_broker["port"], "user": "p01", "protocol": protocol,
        "password_file": _secret(f, "wrong-pass")})).run
    c = await check_broker(cfg.broker)
    assert c.status == "fail"
    assert c.verdict.startswith(f"127.0.0.1:{secured_broker['port']} refused the login of p01")
    assert c.advice == (
        "check [broker] user and the password in [broker] password_file or "
        "ISOFEEDBACK_MQTT_PASSWORD, and the broker's password file/ACL")


async def test_broker_not_listening(write_config: Callable[..., Path]) -> None:
    from tests.conftest import _free_port

    port = _free_port()
    cfg = load_service_config(write_config(broker={"port": port})).run
    c = await check_broker(cfg.broker)
    assert c.line() == (
        f"FAIL    broker      nothing accepts connections at 127.0.0.1:{port}: start the broker "
        "('sudo systemctl start mosquitto') or fix [broker] host and port")


async def test_broker_tls_wrong_ca(secured_broker: dict[str, Any],
                                   write_config: Callable[..., Path]) -> None:
    f = secured_broker["folder"]
    wrong_ca = f / "other" / "ca.crt"
    cfg = load_service_config(write_config(broker={
        "port": secured_broker["tls_port"], "user": "p01", "tls_ca": str(wrong_ca),
        "password_file": _secret(f, "right-pass")})).run
    c = await check_broker(cfg.broker)
    assert c.line() == (
        f"FAIL    broker      127.0.0.1:{secured_broker['tls_port']} (TLS): the broker's "
        f"certificate is not trusted by {wrong_ca}: set [broker] tls_ca to the CA certificate "
        "that signed the broker's certificate (and check the broker's name matches [broker] "
        "host)")


# ---- data folder

def _as_other_user(fn: Callable[[], Check]) -> Check:
    """Run ``fn`` as 'nobody' when the tests run as root (root may write anywhere; the
    service runs as its own user), in a forked child; else run it here."""
    if os.geteuid() != 0:
        return fn()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            c = fn()
            os.write(w, json.dumps(c.as_dict()).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fr:
        data = fr.read()
    os.waitpid(pid, 0)
    return Check(**json.loads(data))


def test_data_folder_read_only() -> None:
    base = Path(tempfile.mkdtemp(prefix="isofeedback-doctor-"))
    try:
        base.chmod(0o755)  # reachable by the other user, not writable
        folder = base / "recordings"
        folder.mkdir(mode=0o555)
        folder.chmod(0o555)
        c = _as_other_user(lambda: check_folder("recordings", folder))
        who = "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.getuid()).pw_name
        assert c.status == "fail"
        assert c.verdict == f"recordings {folder} is not writable (Permission denied)"
        assert c.advice == (f"make it writable for the service user: 'sudo chown -R {who} "
                            f"{folder}' (or choose another folder in the configuration)")
        # a folder not created yet is checked where it would be created
        ok = check_folder("recordings", base / "new" / "deeper")
        assert ok.status in ("ok", "warn") and "writable" in ok.verdict + ok.advice
    finally:
        folder.chmod(0o755)
        subprocess.run(["rm", "-rf", str(base)], check=True)


def test_clock_says_how_it_knows() -> None:
    """Whatever this machine's clock state, the verdict names its source (timedatectl,
    chronyc, the kernel's adjtimex) or says honestly that it cannot tell."""
    from isofeedback.gateway.doctor import _adjtimex_state, check_clock

    c = check_clock()
    assert c.status in ("ok", "fail", "unknown")
    assert any(w in c.verdict for w in ("(timedatectl)", "(chronyc)", "(adjtimex)",
                                        "cannot tell"))
    assert bool(c.advice) == (c.status != "ok")
    state = _adjtimex_state()
    assert state is None or 0 <= state <= 5  # TIME_OK … TIME_ERROR


def test_env_file_gives_the_broker_password_and_must_be_owner_only(
        secured_broker: dict[str, Any], write_config: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """doctor reads the unit's EnvironmentFile, so it logs in as the service will."""
    # recorded by monkeypatch, so the password doctor puts into os.environ is undone after
    monkeypatch.setenv("ISOFEEDBACK_MQTT_PASSWORD", "")
    monkeypatch.delenv("ISOFEEDBACK_MQTT_PASSWORD")
    config = write_config(broker={"port": secured_broker["port"], "user": "p01"})
    env = tmp_path / "secrets.env"
    env.write_text("# the broker\nISOFEEDBACK_MQTT_PASSWORD='right-pass'\n")
    env.chmod(0o644)
    assert main(["doctor", str(config), "--only", "broker", "--env-file", str(env)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"FAIL    secrets     {env} is readable by others (mode 644): make it "
                      f"owner-only: 'sudo chmod 600 {env}'")
    assert out[1].startswith("OK      broker      connected to 127.0.0.1:")
    env.chmod(0o600)
    assert main(["doctor", str(config), "--only", "broker", "--env-file", str(env)]) == 0
    # without it, the login is refused and the advice names the variable
    monkeypatch.delenv("ISOFEEDBACK_MQTT_PASSWORD")
    capsys.readouterr()
    assert main(["doctor", str(config), "--only", "broker"]) == 1
    assert "ISOFEEDBACK_MQTT_PASSWORD" in capsys.readouterr().out


async def test_broker_tls_on_a_plain_port(mosquitto: Any,
                                          write_config: Callable[..., Path]) -> None:
    """TLS on in the config, the port a plain MQTT listener: the broker closes the
    connection at the TLS hello. That said "[Errno 104] Connection reset by peer: check the
    broker's log"; it is the TLS mismatch, and the advice says so."""
    cfg = load_service_config(write_config(broker={"port": mosquitto.port, "tls": True})).run
    c = await check_broker(cfg.broker)
    assert c.status == "fail"
    assert "check that this port speaks TLS" in c.line(), c.line()
