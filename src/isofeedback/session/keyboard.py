"""Keyboard equivalents of the app's buttons in the terminal: space pauses or resumes,
``q`` stops (the normal way, with the summary), ``p`` then a number 0–10 and Enter reports
pain. Only when standard input is a terminal; the terminal is put back as it was."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import termios
import tty
from collections.abc import Callable
from types import TracebackType
from typing import Any

from rich.console import Console

from isofeedback.control import Control

__all__ = ["KeyReader", "KeyboardControls"]


class KeyReader:
    """Turns key presses into control commands (pure: fed characters, no terminal)."""

    def __init__(self) -> None:
        self.paused = False
        self.pain: str | None = None  # digits typed after 'p', None when not asking

    def key(self, ch: str) -> tuple[Control | None, str]:
        """The command for one key (or None) and what to tell the user ('' for nothing).

        >>> r = KeyReader()
        >>> r.key(" ")[0].command, r.key(" ")[0].command
        ('pause', 'resume')
        >>> r.key("p")[1], r.key("7"), r.key("\\n")[0].value
        ('pain 0–10, then Enter: ', (None, '7'), 7.0)
        """
        if self.pain is not None:
            if ch.isdigit() and len(self.pain) < 2:
                self.pain += ch
                return None, ch
            if ch in "\r\n":
                text, self.pain = self.pain, None
                if text and int(text) <= 10:
                    return Control("pain", "key-pain", float(int(text)), origin="keyboard"), ""
                return None, "pain must be 0–10; press p to try again"
            if ch in ("\x1b", "\x7f"):
                self.pain = None
                return None, "cancelled"
            return None, ""
        if ch == " ":
            self.paused = not self.paused
            command = "pause" if self.paused else "resume"
            return Control(command, f"key-{command}", origin="keyboard"), ""
        if ch in "qQ":
            return Control("stop", "key-stop", origin="keyboard"), ""
        if ch in "pP":
            self.pain = ""
            return None, "pain 0–10, then Enter: "
        return None, ""


class KeyboardControls:
    """Reads keys from standard input while the session runs (a context manager)."""

    def __init__(self, on_control: Callable[[Control], None], console: Console) -> None:
        self.on_control = on_control
        self.console = console
        self.reader = KeyReader()
        self._fd: int | None = None
        self._saved: Any = None

    def __enter__(self) -> KeyboardControls:
        with contextlib.suppress(AttributeError, ValueError, OSError):
            fd = sys.stdin.fileno()
            if os.isatty(fd):
                self._saved = termios.tcgetattr(fd)
                tty.setcbreak(fd)
                asyncio.get_running_loop().add_reader(fd, self._readable)
                self._fd = fd
        return self

    @property
    def active(self) -> bool:
        """Keys are read (standard input is a terminal)."""
        return self._fd is not None

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self._fd)
        if self._saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
        self._fd = None

    def _readable(self) -> None:
        assert self._fd is not None
        data = os.read(self._fd, 32).decode(errors="replace")
        for ch in data:
            control, say = self.reader.key(ch)
            if say:
                self.console.print(say, end="" if say.endswith(": ") or len(say) == 1 else "\n")
            if control is not None:
                self.on_control(control)
