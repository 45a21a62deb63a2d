"""CPU and memory of the home gateway's service during one live session, as on a Pi.

Run: ``PYTHONPATH=src python benchmarks/gateway_resources.py [--profile myo] [--technique pir]``

Three processes, as at home: a private Mosquitto (the broker), ``isofeedback
virtual-device`` (stands in for the wearable and BlueZ: it is *not* counted, on a Pi that
work is the sensor's and bluetoothd's) and ``isofeedback service run CONFIG --once`` (the
gateway, measured). The service's CPU time and resident memory are sampled from
``/proc/<pid>`` every 0.25 s: start-up (import, connect, until the wearable is online) and
the session itself (online → exit) are reported separately, in real time (speed 1).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _kib(pid: int, key: str) -> int:
    m = re.search(rf"^{key}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(m.group(1)) if m else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profile", default="myo")
    ap.add_argument("--technique", default="pir")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    tmp = Path(tempfile.mkdtemp(prefix="isofeedback-bench-"))
    port = _free_port()
    (tmp / "mosquitto.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                                        "persistence false\n")
    broker = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c",
                               str(tmp / "mosquitto.conf")], stderr=subprocess.DEVNULL)
    device = subprocess.Popen(
        [sys.executable, "-m", "isofeedback", "virtual-device", "--profile", args.profile,
         "--technique", args.technique, "--once"],
        env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert device.stdout is not None
        address = ""
        for line in device.stdout:
            m = re.search(r"DBUS_SYSTEM_BUS_ADDRESS='([^']+)'", line)
            if m:
                address = m.group(1)
                break
        threading.Thread(target=device.stdout.read, daemon=True).start()  # keep draining
        config = tmp / "service.toml"
        config.write_text(
            f'version = 1\npatient = "bench"\nprotocol = "{args.technique}"\n'
            f'[[devices]]\nname = "arm"\nprofile = "{args.profile}"\n'
            f'[broker]\nhost = "127.0.0.1"\nport = {port}\n'
            f'[recording]\nfolder = "{tmp / "recordings"}"\n'
            f'[service]\ndata_dir = "{tmp / "patients"}"\n')
        t0 = time.monotonic()
        svc = subprocess.Popen(
            [sys.executable, "-m", "isofeedback", "service", "run", str(config), "--once"],
            env={**env, "DBUS_SYSTEM_BUS_ADDRESS": address}, stderr=subprocess.PIPE, text=True)
        online: list[float] = []

        def watch() -> None:
            assert svc.stderr is not None
            for line in svc.stderr:
                if "availability state online" in line and not online:
                    online.append(time.monotonic())

        threading.Thread(target=watch, daemon=True).start()
        cpu = cpu_online = 0.0
        rss_max = hwm = 0
        while svc.poll() is None:
            try:
                cpu = _cpu_s(svc.pid)
                rss_max = max(rss_max, _kib(svc.pid, "VmRSS"))
                hwm = max(hwm, _kib(svc.pid, "VmHWM"))
            except (FileNotFoundError, ProcessLookupError):
                break
            if online and not cpu_online:
                cpu_online = cpu
            time.sleep(0.25)
        t_end = time.monotonic()
        svc.wait()
        session_s = t_end - online[0] if online else float("nan")
        print(f"profile {args.profile}, technique {args.technique}, real time; service exit "
              f"{svc.returncode}")
        print(f"start-up (to wearable online): {online[0] - t0 if online else float('nan'):.1f} "
              f"s wall, {cpu_online:.2f} s CPU")
        print(f"session: {session_s:.1f} s wall, {cpu - cpu_online:.2f} s CPU = "
              f"{100 * (cpu - cpu_online) / session_s:.1f} % of one core")
        print(f"memory: peak resident {hwm / 1024:.0f} MiB (VmHWM), sampled max "
              f"{rss_max / 1024:.0f} MiB")
    finally:
        # SIGINT, not SIGTERM: the virtual device then stops its private D-Bus daemon
        # (SIGTERM would end it at once and leave the daemon running)
        for p, sig in ((device, signal.SIGINT), (broker, signal.SIGTERM)):
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.send_signal(sig)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
