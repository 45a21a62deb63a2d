"""``isofeedback virtual-device`` stopped by SIGTERM or SIGINT leaves nothing behind: its
private dbus-daemon is gone and its temporary folder removed (the real command, started as
a separate process, as a user or systemd would)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _daemon_pids(folder: Path) -> list[int]:
    """dbus-daemon processes serving ``folder`` (found by their config file argument)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"--config-file={folder}/bus.conf".encode() in cmdline:
            pids.append(int(proc.name))
    return pids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_daemon_and_removes_folder(sig: signal.Signals) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SYSTEM_BUS_ADDRESS"}
    env["PYTHONPATH"] = str(ROOT / "src")
    proc = subprocess.Popen(
        [sys.executable, "-m", "isofeedback", "virtual-device", "--speed", "max"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, cwd=ROOT)
    folder: Path | None = None
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"DBUS_SYSTEM_BUS_ADDRESS='unix:path=([^,']+)/bus", line)
            if m:
                folder = Path(m.group(1))
            if "Waiting for a client" in line:
                break
        assert folder is not None, "".join(lines)
        assert folder.is_dir()
        daemons = _daemon_pids(folder)
        assert len(daemons) == 1 and _alive(daemons[0])
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # a failed run must not leave its daemon to the rest of the suite
        for pid in _daemon_pids(folder) if folder is not None else []:
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 0, err
    assert f"{sig.name} received; stopped" in err and "Traceback" not in err
    assert not _alive(daemons[0])
    assert not folder.exists()
