"""A throw-away D-Bus daemon that stands in for the system bus.

bleak's Linux backend talks to BlueZ over the *system* bus. To run bleak's
real code path without a radio (tests, benchmarks, demos) we start our own
``dbus-daemon`` on a unix socket in a temporary directory and point
``DBUS_SYSTEM_BUS_ADDRESS`` at it, so nothing on the host bus is touched and
no privileges or policy files are needed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Final

__all__ = ["PrivateSystemBus"]

_ENV_VAR: Final = "DBUS_SYSTEM_BUS_ADDRESS"

# The queue limits are raised far above the daemon defaults because a
# simulated sensor can emit tens of thousands of small signals per second;
# the virtual peripheral applies its own end-to-end backpressure, the limits
# are only a safety margin so the daemon never silently drops a signal.
_CONFIG_TEMPLATE: Final = """<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
  </policy>
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_message_size">33554432</limit>
  <limit name="max_replies_per_connection">100000</limit>
  <limit name="reply_timeout">60000</limit>
</busconfig>
"""


class PrivateSystemBus:
    """Runs a private ``dbus-daemon`` and exports its address as the system bus.

    Use as ``async with PrivateSystemBus() as bus:``. While the block runs,
    ``os.environ["DBUS_SYSTEM_BUS_ADDRESS"]`` is ``bus.address``; the previous
    value (or its absence) is restored on exit. Anything that opens the
    system bus *inside* the block (bleak, dbus-fast) lands on the private
    daemon. Close every connection to the bus before leaving the block, or
    those connections will see the daemon vanish.

    The daemon is a plain ``subprocess.Popen`` child rather than an asyncio
    subprocess so it is not tied to the event loop that started it: pytest
    fixtures and benchmarks may tear it down after their loop has closed.
    """

    address: str

    def __init__(self, *, startup_timeout: float = 10.0) -> None:
        self._startup_timeout = startup_timeout
        self._tmpdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._saved_env: str | None = None
        self._env_set = False
        self.address = ""

    @property
    def running(self) -> bool:
        """True while the daemon process is alive."""
        return self._proc is not None and self._proc.poll() is None

    async def __aenter__(self) -> PrivateSystemBus:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def start(self) -> None:
        """Start the daemon, wait for its address and export it.

        Raises:
            RuntimeError: if ``dbus-daemon`` is not installed or does not
                come up within ``startup_timeout`` seconds.
        """
        if self._proc is not None:
            raise RuntimeError("PrivateSystemBus is already started")
        exe = shutil.which("dbus-daemon")
        if exe is None:
            raise RuntimeError(
                "dbus-daemon was not found on PATH; a private system bus needs it "
                "(install the Debian package dbus)"
            )
        self._tmpdir = Path(tempfile.mkdtemp(prefix="isofeedback-dbus-"))
        config = self._tmpdir / "bus.conf"
        config.write_text(_CONFIG_TEMPLATE.format(socket=self._tmpdir / "bus"))
        self._proc = subprocess.Popen(
            [exe, f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # own process group: a Ctrl-C aimed at the test run must not kill
            # the bus before the code using it has shut down cleanly
            start_new_session=True,
        )
        assert self._proc.stdout is not None
        try:
            line = await asyncio.wait_for(
                asyncio.to_thread(self._proc.stdout.readline), self._startup_timeout
            )
        except TimeoutError:
            self.close()
            raise RuntimeError(
                f"dbus-daemon did not print its address within {self._startup_timeout} s"
            ) from None
        address = line.decode(errors="replace").strip()
        if not address:
            err = b""
            if self._proc.stderr is not None:
                self._proc.wait(timeout=5)
                err = self._proc.stderr.read()
            self.close()
            raise RuntimeError(
                f"dbus-daemon failed to start: {err.decode(errors='replace').strip()}"
            )
        self.address = address
        self._saved_env = os.environ.get(_ENV_VAR)
        os.environ[_ENV_VAR] = address
        self._env_set = True

    def close(self) -> None:
        """Stop the daemon, restore the environment and remove the temp dir.

        Idempotent and synchronous, so it is safe in ``finally`` blocks and
        after the event loop that used the bus has been closed.
        """
        if self._env_set:
            if self._saved_env is None:
                os.environ.pop(_ENV_VAR, None)
            else:
                os.environ[_ENV_VAR] = self._saved_env
            self._env_set = False
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
