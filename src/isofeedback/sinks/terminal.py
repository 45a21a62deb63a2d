"""Terminal live view: level bar with the target zone, phase, hold timer, warnings, and
what is wrong with the signal (an electrode off, a noisy sensor: the ``signal_quality``
events the page's signal light shows).

On a terminal it redraws one panel (rich); when output is redirected it prints one line
per phase change, cue and signal issue, which is what a log or a screen reader wants.
"""

from __future__ import annotations

import logging
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.logging import RichHandler
from rich.panel import Panel
from rich.text import Text

from isofeedback.coach.phases import MEASURING
from isofeedback.coach.protocol import UNIT_WORDS
from isofeedback.sinks.signal_words import signal_words
from isofeedback.types import Event, EventType, Feedback

__all__ = ["TerminalView", "signal_words"]

_BAR = 40

class TerminalView:
    """A sink that shows the session to the person in front of the screen."""

    def __init__(self, console: Console | None = None, title: str = "isofeedback",
                 live: bool = True, hint: str = "") -> None:
        self.console = console or Console()
        self.title = title
        self.hint = hint  # e.g. the keys that control the session, under the panel
        # the panel needs a terminal; ``live=False`` (``--plain``) prints lines even there
        self.live_mode = live and self.console.is_terminal
        self._live: Live | None = None
        self._level: dict[str, Any] = {}
        self._phase: dict[str, Any] = {}
        self._cue: dict[str, Any] = {}
        self._setup = ""  # the set-up instruction, shown until the first repetition
        self._warning: dict[str, Any] = {}
        self._signal: dict[tuple[str, object], str] = {}  # issues under way: their words
        self._saved_handlers: list[logging.Handler] = []

    def __enter__(self) -> TerminalView:
        if self.live_mode:
            self._live = Live(
                self._render(), console=self.console, refresh_per_second=12, transient=False
            )
            self._live.__enter__()
            # log lines written straight to the terminal would tear the panel (it was
            # redrawn below each of them): while it is up they go through its console
            root = logging.getLogger()
            self._saved_handlers = root.handlers[:]
            handler = RichHandler(console=self.console, show_path=False, show_time=False)
            handler.setLevel(min((h.level for h in root.handlers), default=logging.WARNING))
            root.handlers = [handler]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            logging.getLogger().handlers = self._saved_handlers
            self._live.update(self._render())
            self._live.__exit__(None, None, None)
            self._live = None

    def submit(self, item: Event | Feedback) -> None:
        if isinstance(item, Event):
            if item.type == EventType.SIGNAL_QUALITY:
                self._signal_issue(item)
            return
        p = dict(item.payload)
        if item.kind == "level":
            self._level = p
        elif item.kind == "phase":
            if p.get("phase") != self._phase.get("phase"):
                self._warning = {}  # a warning is about the phase it came in
            self._phase = p
            if p.get("phase") == "waiting":
                self._setup = ""
            if not self.live_mode:
                rep = f" rep {p['rep']}/{p['reps']}" if p.get("rep") else ""
                self.console.print(f"[{item.t:7.2f} s] phase: {p['phase']}{rep}")
        elif item.kind == "cue" and "clears" in p:  # a warning's end: take it down
            if self._warning.get("id") == p["clears"]:
                self._warning = {}
        elif item.kind == "cue" and p.get("id") == "setup":
            # how to set up keeps its own line until the first repetition (it comes with
            # the rest measurement's instruction, which would replace it at once)
            self._setup = str(p.get("text", ""))
            if not self.live_mode:
                self.console.print(f"[{item.t:7.2f} s] > {p['text']}")
        elif item.kind == "cue":
            self._cue = p
            if p.get("severity") == "warning":
                self._warning = p
            if not self.live_mode:
                mark = "!" if p.get("severity") == "warning" else ">"
                self.console.print(f"[{item.t:7.2f} s] {mark} {p['text']}")
        if self._live is not None and item.kind in ("level", "phase", "cue"):
            self._live.update(self._render())

    def _signal_issue(self, event: Event) -> None:
        """A signal issue starts or ends (others, such as a hum notched by the chain
        itself, are not the patient's to act on)."""
        d = event.detail
        key = (str(d.get("issue")), d.get("channel"))
        state = d.get("state")
        if state == "start":
            words = signal_words(*key)
            self._signal[key] = words
            if not self.live_mode:
                self.console.print(f"[{event.t:7.2f} s] ! signal: {words}")
        elif state == "end" and self._signal.pop(key, None) is not None:
            if not self.live_mode:
                self.console.print(f"[{event.t:7.2f} s] signal: {key[0]} ended")
        else:
            return
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Panel:
        lv = self._level
        x = float(lv.get("intensity", 0.0))
        lo, hi = lv.get("band", [0.0, 0.0])
        unit = str(lv.get("unit", ""))
        phase = self._phase.get("phase", lv.get("phase", "starting"))
        measuring = phase in MEASURING  # the band is not in the level's unit yet
        full = max(x * 1.25, 10.0) if measuring else max(float(hi) * 2.0, 1.0)
        cells = []
        for k in range(_BAR):
            v = (k + 0.5) * full / _BAR
            filled = v <= x
            zone = not measuring and lo <= v <= hi
            style = (
                ("bold green" if zone else "bold yellow")
                if filled
                else ("green" if zone else "dim")
            )
            cells.append(("█" if filled else ("▒" if zone else "░"), style))
        bar = Text.assemble(*cells)
        rep = self._phase.get("rep", 0)
        reps = self._phase.get("reps", 0)
        head = Text(f"phase: {phase}   rep {rep}/{reps}", style="bold")
        target = "" if measuring else f"  target {lo:g}–{hi:g}"
        level = Text.assemble("intensity ", bar,
                              f" {x:6.1f} {UNIT_WORDS.get(unit, unit)}{target}")
        hold = lv.get("hold_remaining_s")
        timer = Text(f"hold: {hold:4.1f} s left" if hold is not None else "", style="cyan")
        joint = Text(f"joint: {float(lv.get('angle_deg', 0.0)):5.1f}°")
        same = self._warning and self._cue.get("text") == self._warning.get("text")
        cue = Text("" if same else str(self._cue.get("text", "")), style="bold")
        warn = Text(f"⚠ {self._warning['text']}" if self._warning else "", style="bold red")
        setup = Text(f"set-up: {self._setup}" if self._setup else "", style="italic")
        signal = Text("signal: " + "; ".join(self._signal.values()) if self._signal else "",
                      style="bold yellow")
        return Panel(Group(head, level, timer, joint, cue, warn, signal, setup),
                     title=self.title, subtitle=self.hint or None)
