"""The recorder: a packet tap and output sink that writes a session to a native recording.

The service calls :meth:`Recorder.on_packet` for every raw packet and :meth:`Recorder.submit`
for every event and feedback; both only enqueue (a few hundred nanoseconds), so recording
never stalls acquisition. A writer thread drains the queue and commits at least every
``commit_s`` seconds: a session killed at any moment leaves a valid file that misses at most
the last commit interval. The file (and SQLite's ``-wal``/``-shm`` companions, which SQLite
creates with the same mode) is owner-only: it holds health data.

A full disk (or a file-size limit, or a removed medium) must not cost the patient the
session: when the recording cannot even start, :class:`Recorder` raises one
:class:`RecordingError` and leaves no empty file behind; when it fails mid-session the
writer logs it once, sets :attr:`Recorder.error` and calls ``on_error`` (so the session
tells the patient and the apps at once), stops queueing, and the feedback goes on.
SQLite rolls the failed transaction back, so the file keeps every commit before the
failure and stays a valid, replayable recording; :meth:`Recorder.close` then raises one
RecordingError that says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from isofeedback import __version__
from isofeedback.coach.protocol import ExerciseProtocol
from isofeedback.config import PipelineConfig
from isofeedback.control import Control
from isofeedback.errors import RecordingError
from isofeedback.profiles.schema import Profile
from isofeedback.recording.format import (
    APPLICATION_ID,
    FORMAT_NAME,
    FORMAT_VERSION,
    SCHEMA,
    SUFFIX,
    encode_output,
)
from isofeedback.types import Event, Feedback, Packet

__all__ = ["Recorder", "profile_text", "recording_path"]

log = logging.getLogger(__name__)

_STOP = object()


def profile_text(profile: Profile) -> str:
    """The TOML text a profile was loaded from (what a recording stores)."""
    try:
        return profile.path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecordingError(
            f"cannot read profile file {profile.path} to store it in the recording: {exc}"
        ) from None


def recording_path(folder: Path, session_id: str) -> Path:
    """Where a session's recording goes; the session id must be a plain file name."""
    if not session_id or "/" in session_id or session_id.startswith("."):
        raise RecordingError(f"session id {session_id!r} cannot be used as a file name")
    return folder / f"{session_id}{SUFFIX}"


class Recorder:
    """Writes one session. Open with :meth:`create` (or :meth:`open_in` for a folder);
    close with :meth:`close` or a ``with`` block.

    ``profile_texts`` (device → TOML text) may replace reading the profiles' files, for
    profiles that were not loaded from disk.
    """

    def __init__(
        self,
        path: Path,
        *,
        profiles: Mapping[str, Profile],
        protocol: ExerciseProtocol,
        config: PipelineConfig,
        patient: str,
        session_id: str,
        wall_start: float | None = None,
        source: str = "ble",
        simulated: bool = False,
        extra_meta: Mapping[str, Any] | None = None,
        profile_texts: Mapping[str, str] | None = None,
        commit_s: float = 0.5,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.commit_s = commit_s
        self.on_error = on_error  # called once, from the writer thread, when writing fails
        self.wall_start = time.time() if wall_start is None else wall_start
        self.error: str | None = None
        self.packets = 0
        self.outputs = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        texts = dict(profile_texts or {})
        for dev, prof in profiles.items():
            texts.setdefault(dev, profile_text(prof))
        meta: dict[str, Any] = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "software_version": __version__,
            "start_wall": self.wall_start,
            "start_iso": datetime.fromtimestamp(self.wall_start, tz=UTC).isoformat(),
            "patient": patient,
            "session": session_id,
            "source": source,
            "simulated": simulated,
            "protocol": dataclasses.asdict(protocol),
            "config": config.as_dict(),
            **(extra_meta or {}),
        }
        self._con = self._create(path)
        try:
            with self._con:
                self._con.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [(k, json.dumps(v)) for k, v in meta.items()],
                )
                self._con.executemany(
                    "INSERT INTO profiles VALUES (?, ?, ?)",
                    [(d, profiles[d].id, texts[d]) for d in profiles],
                )
        except sqlite3.Error as exc:
            self._con.close()
            raise self._not_started(path, exc) from None
        self._thread = threading.Thread(target=self._run, name=f"recorder-{session_id}",
                                         daemon=True)
        self._thread.start()

    @classmethod
    def open_in(cls, folder: Path | str, session_id: str, **kwargs: Any) -> Recorder:
        """Create ``<folder>/<session_id>.isorec`` (the folder is made owner-only)."""
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise RecordingError(f"cannot create recordings folder {folder}: {exc}") from None
        return cls(recording_path(folder, session_id), session_id=session_id, **kwargs)

    @staticmethod
    def _create(path: Path) -> sqlite3.Connection:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            raise RecordingError(f"{path}: a recording with this name already exists") from None
        except OSError as exc:
            raise RecordingError(f"{path}: cannot create recording: {exc}") from None
        os.close(fd)
        try:
            os.chmod(path, 0o600)  # whatever the umask said
            con = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise Recorder._not_started(path, exc) from None
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: survives a killed process
            con.execute(f"PRAGMA application_id={APPLICATION_ID}")
            con.execute(f"PRAGMA user_version={FORMAT_VERSION}")
            con.executescript(SCHEMA)
        except sqlite3.Error as exc:
            con.close()
            raise Recorder._not_started(path, exc) from None
        con.isolation_level = "DEFERRED"
        return con

    @staticmethod
    def _not_started(path: Path, exc: BaseException) -> RecordingError:
        """The recording could not be set up: remove what was created (an empty or
        half-made file is not a recording, and would be mistaken for one) and say why."""
        for leftover in (path, path.with_name(path.name + "-wal"),
                         path.with_name(path.name + "-shm")):
            with contextlib.suppress(OSError):
                leftover.unlink()
        return RecordingError(f"{path}: cannot start the recording: {_why(exc)}; free some "
                              "space or record into another folder")

    # -- the service-facing side (event loop thread): enqueue only ------------------------
    def on_packet(self, packet: Packet) -> None:
        """PacketTap: record one raw packet (never blocks)."""
        if not self._closed and self.error is None:
            self._queue.put(packet)

    def submit(self, item: Event | Feedback) -> None:
        """OutputSink: record one event or feedback (never blocks)."""
        if not self._closed and self.error is None:
            self._queue.put(item)

    def note(self, kind: str, t: float, **doc: Any) -> None:
        """A status note: a gap, a device (dis)connecting, an MQTT overflow, …"""
        if not self._closed:
            self._queue.put(("note", t, time.time(), kind, json.dumps(doc, default=str)))

    def on_control(self, control: Control, after_packets: int) -> None:
        """ControlTap: keep a control command with the packet count it was applied after,
        so a replay applies it at the same point (design contract 7)."""
        self.note("control", control.t, after_packets=after_packets, control=control.as_dict())

    def set_meta(self, key: str, value: Any) -> None:
        if not self._closed:
            self._queue.put(("meta", key, json.dumps(value, default=str)))

    def close(self, stats: Mapping[str, Any] | None = None) -> None:
        """Write what is queued, mark the recording complete and close the file."""
        if self._closed:
            return
        self.set_meta("end_wall", time.time())
        if stats is not None:
            self.set_meta("end_stats", stats)
        self.set_meta("complete", True)
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        try:
            self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            self.error = self.error or _why(exc)
        finally:
            self._con.close()
        if self.error:
            raise RecordingError(f"{self.path}: recording incomplete: {self.error}")

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the writer thread -----------------------------------------------------------------
    def _run(self) -> None:
        chans: dict[tuple[str, str], int] = {}
        packets: list[tuple[float, int, bytes]] = []
        outputs: list[tuple[int, float, str, str]] = []
        notes: list[tuple[float, float, str, str]] = []
        metas: list[tuple[str, str]] = []
        new_chans: list[tuple[int, str, str]] = []
        last_commit = time.monotonic()
        stop = False
        while not stop:
            timeout = max(self.commit_s - (time.monotonic() - last_commit), 0.0)
            try:
                item = self._queue.get(timeout=timeout)
                while True:
                    if item is _STOP:
                        stop = True
                        break
                    if isinstance(item, Packet):
                        key = (item.device, item.characteristic)
                        cid = chans.get(key)
                        if cid is None:
                            cid = chans[key] = len(chans) + 1
                            new_chans.append((cid, *key))
                        packets.append((item.t_arrival, cid, item.data))
                        self.packets += 1
                    elif isinstance(item, Event | Feedback):
                        kind, t, doc = encode_output(item)
                        self.outputs += 1
                        outputs.append((self.outputs, t, kind, doc))
                    elif item[0] == "note":
                        notes.append(item[1:])
                    else:
                        metas.append(item[1:])
                    if len(packets) >= 20_000:
                        break
                    item = self._queue.get_nowait()
            except queue.Empty:
                pass
            if stop or time.monotonic() - last_commit >= self.commit_s or len(packets) >= 20_000:
                self._commit(new_chans, packets, outputs, notes, metas)
                for batch in (new_chans, packets, outputs, notes, metas):
                    batch.clear()
                last_commit = time.monotonic()

    def _commit(self, chans: list[Any], packets: list[Any], outputs: list[Any],
                notes: list[Any], metas: list[Any]) -> None:
        if self.error:
            return
        try:
            with self._con:
                self._con.executemany("INSERT INTO channels VALUES (?, ?, ?)", chans)
                self._con.executemany("INSERT INTO packets VALUES (?, ?, ?)", packets)
                self._con.executemany("INSERT INTO outputs VALUES (?, ?, ?, ?)", outputs)
                self._con.executemany("INSERT INTO notes VALUES (?, ?, ?, ?)", notes)
                self._con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", metas)
        except sqlite3.Error as exc:  # disk full, file removed…: say so once, keep running
            last = max((p[0] for p in packets), default=0.0)
            self.error = (f"{_why(exc)}; recording stopped near session time {last:.1f} s "
                          f"(the {self.packets - len(packets)} packets before are kept and "
                          "readable)")
            log.error("recording %s: %s", self.path, self.error)
            if self.on_error is not None:
                try:
                    self.on_error(self.error)
                except Exception:  # whoever is told must not stop the writer
                    log.exception("recording error handler failed")


def _why(exc: BaseException) -> str:
    """SQLite's and the OS's words for a write failure, in the user's."""
    text = str(exc)
    if "full" in text or getattr(exc, "errno", None) == errno.ENOSPC:
        return "the disk is full"
    if getattr(exc, "errno", None) == errno.EFBIG:
        return "the file reached the size limit"
    if "disk I/O error" in text:  # SQLite's word for a failed write(): EFBIG, EIO, …
        return "a write failed (disk I/O error: a file-size limit, or the medium failed)"
    return text
