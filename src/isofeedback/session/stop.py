"""Stop requests from outside the session: SIGINT (Ctrl-C) and SIGTERM (systemd, docker).

The first signal asks the session to stop the normal way: a ``stop`` command goes into the
session's inbox, so the coach ends, the summary is made, published and recorded, and a
replay reproduces it. Before the session runs (still looking for the sensor) there is
nothing to stop gracefully and the waiting is cancelled instead. A second signal cancels
whatever is still going on (the stop path's cleanup still runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

from isofeedback.control import Control
from isofeedback.service import ControlInbox

__all__ = ["StopRequests"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequests:
    """Turns SIGINT/SIGTERM into stop commands for one session (a context manager that
    installs the handlers on the running loop and restores the defaults after)."""

    def __init__(self, inbox: ControlInbox) -> None:
        self.inbox = inbox
        self.running = False  # the session loop applies inbox commands
        self.requested = ""  # the signal's name once one came
        self._task: asyncio.Task[object] | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequests]:
        loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        installed = []
        for sig in _SIGNALS:
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):
                continue  # not the main thread, or no signals on this platform
            installed.append(sig)
        try:
            yield self
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        first = not self.requested
        self.requested = self.requested or sig.name
        if first and self.running:
            self.inbox.put(Control("stop", origin=f"signal:{sig.name}"))
        elif self._task is not None and not self._task.done():
            self._task.cancel(f"stopped by {sig.name}")
