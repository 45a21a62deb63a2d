"""What a home gateway needs, checked one by one, each with the one thing to do when it fails.

Each check returns a :class:`Check`: a status (``ok``, ``warn``, ``fail``, ``unknown`` when
this computer cannot tell, ``skip`` when an earlier check already failed), a one-line
verdict and, unless ``ok``, the advice. The checks talk to the real system (D-Bus, BlueZ,
the broker, the file system, the clock); the verdicts and the exit status are decided here
and nowhere else, so ``isofeedback doctor`` and its ``--json`` output say the same.

The Bluetooth advice is the BLE source's own (``sources/ble.py``): a patient reads the same
sentence from ``doctor`` as from a failing ``run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import shutil
import ssl
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from isofeedback.broker import broker_reachable
from isofeedback.errors import IsofeedbackError
from isofeedback.mqtt_config import PASSWORD_ENV
from isofeedback.run_config import RunConfig
from isofeedback.sinks.mqtt import BrokerSettings, refused_credentials
from isofeedback.sources.ble import (
    ADVICE_NO_ADAPTER,
    ADVICE_NO_BLUEZ,
    ADVICE_NO_DBUS,
    ADVICE_POWERED_OFF,
    scan,
)

__all__ = [
    "CHECKS",
    "Check",
    "check_broker",
    "check_calibration",
    "check_clock",
    "check_folder",
    "check_secret_file",
    "exit_status",
    "run_checks",
]

CHECKS = ("dbus", "bluez", "adapter", "permission", "wearable", "broker", "data", "clock",
          "calibration")

#: below this free space a folder fails (a 30 min 8-channel session records ~60 MB)
MIN_FREE_FAIL = 200 * 1024**2
#: below this it warns: room for only a few weeks of daily sessions
MIN_FREE_WARN = 2 * 1024**3
#: weaker than this the link will drop often (typical BLE floor is about -90 dBm)
WEAK_RSSI = -85

ADVICE_PERMISSION = ("this user may not use Bluetooth: add it to the 'bluetooth' group "
                     "('sudo usermod -aG bluetooth USER', then log in again) or run the "
                     "service as the user the systemd unit names")


@dataclass(frozen=True, slots=True)
class Check:
    """One check's outcome."""

    name: str
    status: str  # ok | warn | fail | unknown | skip
    verdict: str
    advice: str = ""

    def line(self) -> str:
        """The one line printed for this check."""
        text = f"{self.status.upper():7} {self.name:11} {self.verdict}"
        return f"{text}: {self.advice}" if self.advice else text

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def exit_status(checks: Sequence[Check]) -> int:
    """0 when nothing failed (warnings and unknowns are told, not fatal), else 1."""
    return 1 if any(c.status == "fail" for c in checks) else 0


def _user() -> str:
    """This process's user name (what the advice's commands need), else its uid."""
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


# ---- Bluetooth (over the system D-Bus, like bleak)

@dataclass
class _Bluetooth:
    bus: Any = None
    adapters: dict[str, bool] | None = None  # object path → powered


async def _bus_call(bus: Any, **message: Any) -> Any:
    from dbus_fast import Message, MessageType

    reply = await asyncio.wait_for(bus.call(Message(**message)), 5.0)
    if reply.message_type == MessageType.ERROR:
        raise _DBusFailure(str(reply.error_name), " ".join(map(str, reply.body)))
    return reply.body


class _DBusFailure(Exception):
    def __init__(self, name: str, text: str) -> None:
        super().__init__(f"{name}: {text}")
        self.name = name


_DENIED = ("org.freedesktop.DBus.Error.AccessDenied", "org.bluez.Error.NotPermitted",
           "org.bluez.Error.NotAuthorized")


async def check_dbus(bt: _Bluetooth) -> Check:
    from dbus_fast import BusType
    from dbus_fast.aio import MessageBus

    try:
        bt.bus = await asyncio.wait_for(MessageBus(bus_type=BusType.SYSTEM).connect(), 5.0)
    except (OSError, TimeoutError, ValueError, EOFError) as exc:
        what = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or "the system bus"
        return Check("dbus", "fail", f"cannot connect to {what} ({type(exc).__name__})",
                     ADVICE_NO_DBUS)
    return Check("dbus", "ok", "system message bus reachable")


async def check_bluez(bt: _Bluetooth) -> Check:
    owned = await _bus_call(bt.bus, destination="org.freedesktop.DBus",
                            path="/org/freedesktop/DBus", interface="org.freedesktop.DBus",
                            member="NameHasOwner", signature="s", body=["org.bluez"])
    if not owned[0]:
        return Check("bluez", "fail", "no Bluetooth service (org.bluez) on the system bus",
                     ADVICE_NO_BLUEZ + " (not installed? 'sudo apt install bluez')")
    return Check("bluez", "ok", "BlueZ is running")


async def check_adapter(bt: _Bluetooth) -> Check:
    try:
        objects = (await _bus_call(bt.bus, destination="org.bluez", path="/",
                                   interface="org.freedesktop.DBus.ObjectManager",
                                   member="GetManagedObjects"))[0]
    except _DBusFailure as exc:
        if exc.name in _DENIED:
            return Check("adapter", "fail", f"BlueZ refused to list adapters ({exc.name})",
                         ADVICE_PERMISSION)
        raise
    bt.adapters = {
        path: bool(ifaces["org.bluez.Adapter1"].get("Powered").value)
        for path, ifaces in objects.items() if "org.bluez.Adapter1" in ifaces
    }
    if not bt.adapters:
        return Check("adapter", "fail", "BlueZ has no adapter", ADVICE_NO_ADAPTER)
    on = [p for p, powered in bt.adapters.items() if powered]
    names = ", ".join(p.rsplit("/", 1)[-1] for p in bt.adapters)
    if not on:
        return Check("adapter", "fail", f"adapter {names} is switched off", ADVICE_POWERED_OFF)
    return Check("adapter", "ok", f"adapter {names} present and powered")


async def check_permission(bt: _Bluetooth) -> Check:
    """Scanning is what the service does first: start and stop discovery on the adapter."""
    assert bt.adapters
    path = next(p for p, on in bt.adapters.items() if on)
    try:
        for member in ("StartDiscovery", "StopDiscovery"):
            await _bus_call(bt.bus, destination="org.bluez", path=path,
                            interface="org.bluez.Adapter1", member=member)
    except _DBusFailure as exc:
        if exc.name in _DENIED:
            return Check("permission", "fail", f"not allowed to scan ({exc.name})",
                         ADVICE_PERMISSION)
        if exc.name == "org.bluez.Error.InProgress":  # someone else is scanning: allowed
            return Check("permission", "ok", "allowed to scan (a scan is already running)")
        return Check("permission", "warn", f"scan start failed: {exc}",
                     "retry in a minute; if it persists restart Bluetooth "
                     "('sudo systemctl restart bluetooth')")
    return Check("permission", "ok", f"user {_user()} may scan")


async def check_wearable(cfg: RunConfig | None, timeout: float) -> Check:
    if cfg is None:
        return Check("wearable", "skip", "no configuration file given",
                     "give the service's configuration file to look for its wearable")
    profiles = [d.profile for d in cfg.devices]
    try:
        found = await scan(timeout, profiles)
    except IsofeedbackError as exc:
        return Check("wearable", "fail", "scan failed", str(exc))
    parts, worst = [], "ok"
    for d in cfg.devices:
        match = [f for f in found if (f.address.upper() == d.address if d.address
                                      else f.profile is not None and f.profile.id == d.profile.id)]
        if not match:
            what = d.address or f"profile {d.profile.id!r}"
            return Check("wearable", "fail",
                         f"{d.name} ({what}) not seen within {timeout:g} s",
                         "switch the sensor on, charge it and bring it within a few metres "
                         "of this computer; check the address with 'isofeedback scan'")
        best = match[0]
        parts.append(f"{d.name} {best.address} at {best.rssi} dBm")
        if best.rssi < WEAK_RSSI:
            worst = "warn"
    verdict = "seen: " + ", ".join(parts)
    if worst == "warn":
        return Check("wearable", "warn", verdict + f" (weaker than {WEAK_RSSI} dBm)",
                     "move this computer closer to where the exercises are done (the link "
                     "will drop often at this signal strength)")
    return Check("wearable", "ok", verdict)


async def _bluetooth_checks(cfg: RunConfig | None, scan_timeout: float,
                            only: set[str]) -> list[Check]:
    bt = _Bluetooth()
    out: list[Check] = []
    steps = [("dbus", check_dbus), ("bluez", check_bluez), ("adapter", check_adapter),
             ("permission", check_permission)]
    try:
        failed = ""
        for name, fn in steps:
            if failed:
                if name in only:
                    out.append(Check(name, "skip", f"needs {failed}"))
                continue
            c = await fn(bt)
            if name in only:
                out.append(c)
            if c.status == "fail":
                failed = name
        if "wearable" in only:
            out.append(Check("wearable", "skip", f"needs {failed}") if failed
                       else await check_wearable(cfg, scan_timeout))
    finally:
        if bt.bus is not None:
            bt.bus.disconnect()
    return out


# ---- broker

async def check_broker(settings: BrokerSettings | None, timeout: float = 5.0) -> Check:
    """Connect with the configured credentials and TLS, exactly as the service will."""
    import aiomqtt

    if settings is None:
        local = await broker_reachable("127.0.0.1", 1883)
        where = ("a broker on 127.0.0.1:1883" if local
                 else "its own embedded broker (no broker answers on 127.0.0.1:1883)")
        return Check("broker", "ok", f"no [broker] configured: the service will use {where}")
    if not await broker_reachable(settings.host, settings.port, timeout):
        return Check("broker", "fail", f"nothing accepts connections at {settings.address}",
                     "start the broker ('sudo systemctl start mosquitto') or fix [broker] "
                     "host and port")
    try:
        probe = replace(settings, client_id=f"isofeedback-doctor-{uuid.uuid4().hex[:8]}")
        async with probe.client():
            pass
    except aiomqtt.MqttError as exc:
        cause = exc.__cause__ or exc.__context__
        text = str(exc)
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY" in text:
            ca = settings.tls_ca or "the system's certificate authorities"
            return Check("broker", "fail",
                         f"{settings.address}: the broker's certificate is not trusted by {ca}",
                         "set [broker] tls_ca to the CA certificate that signed the broker's "
                         "certificate (and check the broker's name matches [broker] host)")
        # a plain MQTT port answers a TLS hello by closing the connection: with TLS on,
        # "Connection reset by peer" or an EOF means the port does not speak TLS
        closed = settings.uses_tls and (
            isinstance(cause, ConnectionResetError | ssl.SSLEOFError | EOFError)
            or "reset by peer" in text.lower() or "eof" in text.lower())
        if isinstance(cause, ssl.SSLError) or "SSL" in text or "TLS" in text or closed:
            return Check("broker", "fail", f"{settings.address}: TLS failed ({text})",
                         "check that this port speaks TLS and [broker] tls/tls_ca/port match it")
        lowered = text.lower()
        # the CONNACK's code, as the publisher reads it (it then stops retrying)
        if refused_credentials(exc) or "not authori" in lowered or "password" in lowered:
            who = settings.username or "anonymous"
            return Check("broker", "fail",
                         f"{settings.address} refused the login of {who} ({text})",
                         "check [broker] user and the password in [broker] password_file or "
                         f"{PASSWORD_ENV}, and the broker's password file/ACL")
        return Check("broker", "fail", f"{settings.address}: {text}",
                     "check the broker's log and the [broker] settings")
    who = f" as {settings.username}" if settings.username else ""
    tls = " with TLS" if settings.uses_tls else " (no TLS: fine on a home network only)"
    return Check("broker", "ok", f"connected to {settings.host}:{settings.port}{who}{tls}")


# ---- folders, clock, calibration

def check_folder(label: str, folder: Path) -> Check:
    """``folder`` (or the nearest existing parent, where the service would create it) is
    writable by this user and has room for recordings."""
    probe_dir = folder
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        return Check("data", "fail", f"{label} {folder}: {probe_dir} is not a folder",
                     f"remove {probe_dir} or choose another folder in the configuration")
    probe = probe_dir / f".isofeedback-doctor-{os.getpid()}"
    try:
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as exc:
        who = _user()
        return Check("data", "fail", f"{label} {probe_dir} is not writable ({exc.strerror})",
                     f"make it writable for the service user: 'sudo chown -R {who} "
                     f"{probe_dir}' (or choose another folder in the configuration)")
    free = shutil.disk_usage(probe_dir).free
    gib = free / 1024**3
    if free < MIN_FREE_FAIL:
        return Check("data", "fail", f"{label} {probe_dir}: only {gib:.2f} GiB free",
                     "free disk space (old recordings can be exported and removed)")
    if free < MIN_FREE_WARN:
        return Check("data", "warn", f"{label} {probe_dir}: {gib:.2f} GiB free",
                     "free disk space soon: a 30 min session records up to ~60 MB")
    return Check("data", "ok", f"{label} {folder} writable, {gib:.1f} GiB free")


def check_secret_file(path: Path) -> Check:
    """The secrets file (the broker password) must be readable by its owner only."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        return Check("secrets", "fail", f"{path} is readable by others (mode {mode:o})",
                     f"make it owner-only: 'sudo chmod 600 {path}'")
    return Check("secrets", "ok", f"{path} is owner-only")


def _adjtimex_state() -> int | None:
    """The kernel's clock state (0 TIME_OK … 5 TIME_ERROR = not synchronised), or None."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex is 208 bytes on 64-bit Linux
        state = int(libc.adjtimex(buf))  # modes = 0: read only, no privilege needed
    except (OSError, AttributeError):
        return None
    return None if state < 0 else state


def check_clock() -> Check:
    """Session times on MQTT and in recordings carry wall-clock stamps; a Pi has no RTC."""
    advice = ("enable time synchronisation ('sudo timedatectl set-ntp true', or install "
              "chrony) and check the network")
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        r = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                           capture_output=True, text=True, timeout=5)
        if r.returncode == 0 and r.stdout.strip() in ("yes", "no"):
            if r.stdout.strip() == "yes":
                return Check("clock", "ok", "synchronised (timedatectl)")
            return Check("clock", "fail", "not synchronised (timedatectl)", advice)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        r = subprocess.run(["chronyc", "tracking"], capture_output=True, text=True, timeout=5)
        if r.returncode == 0 and "Leap status" in r.stdout:
            if "Not synchronised" in r.stdout:
                return Check("clock", "fail", "not synchronised (chronyc)", advice)
            return Check("clock", "ok", "synchronised (chronyc)")
    state = _adjtimex_state()
    if state is not None:
        if state == 5:
            return Check("clock", "fail", "the kernel reports the clock unsynchronised "
                         "(adjtimex)", advice)
        return Check("clock", "ok", "the kernel reports the clock synchronised (adjtimex)")
    return Check("clock", "unknown", "cannot tell (no timedatectl, chronyc or adjtimex)",
                 "check that the date is right: " + time.strftime("%Y-%m-%d %H:%M %Z"))


def check_calibration(cfg: RunConfig | None, data_dir: Path) -> Check:
    from isofeedback.coach.calibration import stale_reason
    from isofeedback.coach.calibration_store import PatientStore

    if cfg is None:
        return Check("calibration", "skip", "no configuration file given (no patient)")
    try:
        cal = PatientStore(data_dir, cfg.patient).calibration()
    except IsofeedbackError as exc:
        return Check("calibration", "fail", f"patient {cfg.patient}: {exc}",
                     "move the damaged file away; the next session calibrates again")
    first = ("the first session starts by measuring the rest and a gentle reference "
             "contraction (under a minute)")
    if cal is None:
        return Check("calibration", "warn", f"none stored for patient {cfg.patient} in "
                     f"{data_dir}", first)
    emg = next(d for d in cfg.devices if any(s.name == "emg" for s in d.profile.streams))
    reason = stale_reason(cal, now=time.time(), profile=emg.profile.id,
                          device=emg.address or emg.name)
    if reason:
        return Check("calibration", "warn", f"patient {cfg.patient}: stored one not reusable "
                     f"({reason})", first)
    return Check("calibration", "ok", f"patient {cfg.patient}: stored calibration fits "
                 f"{emg.profile.id}")


async def run_checks(cfg: RunConfig | None, data_dir: Path, recordings: Path,
                     only: Sequence[str] = CHECKS, scan_timeout: float = 5.0) -> list[Check]:
    """Every check in ``only`` (in the order of :data:`CHECKS`)."""
    wanted = set(only)
    out = await _bluetooth_checks(cfg, scan_timeout, wanted)
    if "broker" in wanted:
        out.append(await check_broker(cfg.broker if cfg else None))
    if "data" in wanted:
        out += [check_folder("recordings", recordings), check_folder("patient data", data_dir)]
    if "clock" in wanted:
        out.append(check_clock())
    if "calibration" in wanted:
        out.append(check_calibration(cfg, data_dir))
    return out
