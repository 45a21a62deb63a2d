"""Spoken cues on the gateway, for a patient without a screen: espeak-ng (a Debian package).
The signal's issues (an electrode off, a noisy sensor) are said too, as they start.

A sink like the others: ``submit`` never blocks. Each cue's text (already in the
protocol's language) is spoken by a named task, one at a time, through ``espeak-ng``
(``-v <locale>``), or written to one WAV file per cue when ``folder`` is given (for tests,
or a device that plays files itself). Speech is slow next to the session, so at most
``max_pending`` cues wait: when more come, the oldest *info* cue is dropped (a stale
"hold" is useless) and counted; warnings are kept ahead of info cues. A missing or
failing espeak-ng is logged once and counted, never raised into the session.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from isofeedback.errors import ConfigError
from isofeedback.sinks.one_at_a_time import OneAtATime
from isofeedback.sinks.signal_words import signal_words
from isofeedback.types import Event, EventType, Feedback

__all__ = ["SIGNAL_REPEAT_S", "Speaker", "SpeakerStats", "espeak_command", "find_espeak"]

#: a signal issue said once is not said again for this long (session seconds)
SIGNAL_REPEAT_S = 30.0

log = logging.getLogger(__name__)


@dataclass
class SpeakerStats:
    requested: int = 0
    spoken: int = 0
    dropped: int = 0
    failed: int = 0


def find_espeak(exe: str = "espeak-ng") -> str:
    """The espeak-ng executable, or a ConfigError saying how to install it."""
    path = shutil.which(exe)
    if path is None:
        raise ConfigError(f"spoken cues need {exe!r}, which is not installed: "
                          "sudo apt-get install espeak-ng")
    return path


def espeak_command(exe: str, text: str, locale: str, wav: Path | None = None,
                   words_per_minute: int = 150) -> list[str]:
    """The espeak-ng command line for one cue (``--`` so a text is never an option).

    >>> espeak_command("espeak-ng", "Hold it.", "en", Path("c.wav"))
    ['espeak-ng', '-v', 'en', '-s', '150', '-w', 'c.wav', '--', 'Hold it.']
    """
    cmd = [exe, "-v", locale, "-s", str(words_per_minute)]
    if wav is not None:
        cmd += ["-w", str(wav)]
    return [*cmd, "--", text]


class Speaker(OneAtATime[tuple[str, str, bool]]):  # (cue id, text, warning)
    """Speaks every cue. ``async with Speaker(locale="en") as speaker:``.

    ``folder``: write ``<seq>-<cue id>.wav`` files there instead of playing them.
    """

    def __init__(self, *, locale: str = "en", folder: Path | None = None,
                 max_pending: int = 3, words_per_minute: int = 150,
                 exe: str = "espeak-ng") -> None:
        super().__init__()
        self.locale = locale
        self.folder = folder
        self.max_pending = max_pending
        self.words_per_minute = words_per_minute
        self.exe = exe
        self.stats = SpeakerStats()
        self.files: list[Path] = []
        self._warned = False
        self._signal_said: dict[str, float] = {}  # issue -> when it was last said

    task_name = "spoken-cues"

    async def __aenter__(self) -> Self:
        self.exe = find_espeak(self.exe)
        # espeak-ng quietly falls back to its default voice for an unknown language
        proc = await asyncio.create_subprocess_exec(
            self.exe, f"--voices={self.locale}", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        out, _ = await proc.communicate()
        if len(out.decode(errors="replace").strip().splitlines()) < 2:
            raise ConfigError(f"espeak-ng has no voice for the cue language {self.locale!r}: "
                              "install its voice data or choose a protocol in another locale")
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        return await super().__aenter__()

    def submit(self, item: Event | Feedback) -> None:
        """Queue a cue to be spoken (or a signal issue: :meth:`_signal`); never blocks."""
        if isinstance(item, Event):
            if item.type == EventType.SIGNAL_QUALITY:
                self._signal(item)
            return
        if item.kind != "cue":
            return
        text = str(item.payload.get("text", "")).strip()
        if text:
            self._enqueue(str(item.payload.get("id", "cue")), text,
                          item.payload.get("severity") == "warning")

    def _signal(self, ev: Event) -> None:
        """What is wrong with the signal, said as it starts: the page's signal light and
        the terminal's ``signal:`` line show it, and a patient with a speaker alone heard
        nothing while an electrode was off or the sensor noisy. The words are English
        (``sinks.signal_words``): said only with an English voice. The same issue again
        within ``SIGNAL_REPEAT_S`` (a contact that comes and goes) is not said again."""
        issue = str(ev.detail.get("issue", ""))
        if ev.detail.get("state") != "start" or not self.locale.startswith("en"):
            return
        last = self._signal_said.get(issue)
        if last is not None and ev.t_decided - last < SIGNAL_REPEAT_S:
            return
        self._signal_said[issue] = ev.t_decided
        text = f"Signal poor: {signal_words(issue, ev.detail.get('channel'))}"
        name = issue if issue.isidentifier() and issue.isascii() else "issue"
        self._enqueue(f"signal_{name}", text if text.endswith("?") else f"{text}.", True)

    def _enqueue(self, cue_id: str, text: str, warning: bool) -> None:
        self.stats.requested += 1
        if len(self._queue) >= self.max_pending:
            info = next((i for i, q in enumerate(self._queue) if not q[2]), None)
            if info is None and not warning:
                self.stats.dropped += 1
                return
            del self._queue[info if info is not None else 0]
            self.stats.dropped += 1
        entry = (cue_id, text, warning)
        if warning:  # ahead of waiting info cues
            at = next((i for i, q in enumerate(self._queue) if not q[2]), len(self._queue))
            self._queue.insert(at, entry)
        else:
            self._queue.append(entry)
        self._queued()

    async def _say(self, cue_id: str, text: str) -> None:
        wav = None
        if self.folder is not None:
            wav = self.folder / f"{self.stats.spoken + self.stats.failed + 1:03d}-{cue_id}.wav"
        proc = await asyncio.create_subprocess_exec(
            *espeak_command(self.exe, text, self.locale, wav, self.words_per_minute),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        said = err.decode(errors="replace").strip()
        if proc.returncode != 0:
            raise OSError(said or f"exit {proc.returncode}")
        if wav is None and "error" in said.lower():
            # no sound device: espeak-ng prints the sound system's errors and exits 0,
            # and the patient hears nothing. Its last line ("error: No such file or
            # directory") sent the reader looking for a missing file: the first one names
            # the sound system's problem
            raise OSError(f"the sound output could not be opened ({said.splitlines()[0]}), "
                          "so the patient hears no cues: connect a speaker and make it the "
                          "default sound device")
        if wav is not None:  # espeak-ng exits 0 even when it could not write the file
            if not wav.is_file() or wav.stat().st_size <= 44:
                raise OSError(f"espeak-ng did not write {wav}")
            self.files.append(wav)

    async def deliver(self, item: tuple[str, str, bool]) -> None:
        cue_id, text, _ = item
        try:
            await self._say(cue_id, text)
            self.stats.spoken += 1
        except OSError as exc:  # no audio device, a bad voice: the session goes on
            self.stats.failed += 1
            if not self._warned:
                self._warned = True
                log.warning("spoken cue failed (espeak-ng): %s", exc)
