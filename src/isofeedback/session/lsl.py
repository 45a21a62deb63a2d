"""Lab Streaming Layer outlets for a session (``--lsl``): opened, waited for, anchored.

Shared by live sessions and replays; pylsl is imported only when LSL is asked for.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from rich.console import Console

from isofeedback.coach.protocol import ExerciseProtocol
from isofeedback.service import OutputSink

__all__ = ["LslOptions", "open_lsl"]


@dataclass(frozen=True)
class LslOptions:
    """What ``--lsl``/``--lsl-wait`` asked for."""

    wait_s: float = 0.0



@contextlib.asynccontextmanager
async def open_lsl(
    options: LslOptions | None,
    console: Console,
    *,
    patient: str,
    session_id: str,
    protocol: ExerciseProtocol,
    angle: bool,
    wall_start: float | None = None,
    session_now: Callable[[], float] | None = None,
) -> AsyncIterator[list[OutputSink]]:
    """The sinks ``--lsl`` adds to a session (none without it): the outlets open, wait for
    consumers as asked, and are anchored on the session clock (``session_now`` for a live
    source that already tells the time; otherwise the session starts now)."""
    if options is None:
        yield []
        return
    from isofeedback.sinks.lsl import LEVEL_RATE_HZ, LslOutlet

    with LslOutlet(patient, session_id, protocol, angle=angle, wall_start=wall_start) as lsl:
        labels = ", ".join(f"{label} ({unit})" for label, unit, _ in lsl.channels)
        console.print(f"LSL streams '{lsl.level_name}' ({LEVEL_RATE_HZ:g} Hz: {labels}) "
                      f"and '{lsl.marker_name}'", soft_wrap=True)
        if options.wait_s > 0:
            console.print(f"waiting up to {options.wait_s:g} s for an LSL consumer "
                          "(e.g. LabRecorder) …")
            if not await lsl.wait_for_consumers(options.wait_s):
                console.print("[yellow]no LSL consumer yet; starting anyway[/]")
        lsl.anchor(session_now() if session_now is not None else 0.0)
        yield [lsl]
        await lsl.aclose()  # (on an error the with statement closes it)
        if lsl.stats.failed:
            console.print(f"[yellow]LSL: {lsl.stats.failed} sample(s) could not be sent[/]")
