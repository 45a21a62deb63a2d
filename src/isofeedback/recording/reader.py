"""Reading native recordings, with a clear error for every way a file can be wrong.

A file that is missing, empty, not SQLite, not ours, from a newer version or without its
metadata raises :class:`RecordingError` naming the file and the problem. Damage *inside*
the packet or output tables (a truncated copy, a flipped sector) does not lose what comes
before it: iteration stops at the damage and :attr:`RecordingReader.damage` says where.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from isofeedback.coach.protocol import ExerciseProtocol
from isofeedback.config import PipelineConfig, recorded_pipeline_config
from isofeedback.control import Control
from isofeedback.errors import ConfigError, RecordingError
from isofeedback.profiles.schema import Profile, parse_profile
from isofeedback.recording.format import (
    APPLICATION_ID,
    FORMAT_NAME,
    FORMAT_VERSION,
    decode_output,
)
from isofeedback.types import Event, Feedback, Packet

__all__ = ["Note", "RecordingReader", "open_recording"]

_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True, slots=True)
class Note:
    t: float
    wall: float
    kind: str
    detail: Mapping[str, Any]


class RecordingReader:
    """An open recording. Use :func:`open_recording` or ``RecordingReader(path)``."""

    def __init__(self, path: Path | str, batch: int = 4096) -> None:
        self.path = Path(path)
        self.batch = batch
        self.damage: str | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._con = self._connect()
        try:
            self.meta = self._read_meta()
            self._profile_rows = self._con.execute(
                "SELECT device, profile_id, toml FROM profiles ORDER BY rowid").fetchall()
            self._channels = {
                int(i): (str(d), str(c))
                for i, d, c in self._con.execute("SELECT id, device, characteristic FROM channels")
            }
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._fail(f"the header tables are damaged ({exc}); the file cannot be "
                             "replayed") from None
        except RecordingError:
            self.close()
            raise
        if not self._profile_rows:
            self.close()
            raise self._fail("no firmware profile stored; the file cannot be decoded")

    def _damaged(self, what: str) -> None:
        if self.damage is None:
            self.damage = what
        elif what not in self.damage:
            self.damage = f"{self.damage}; {what}"

    def _fail(self, problem: str) -> RecordingError:
        return RecordingError(f"{self.path}: {problem}")

    def _connect(self) -> sqlite3.Connection:
        p = self.path
        if not p.exists():
            raise self._fail("recording not found")
        if p.is_dir():
            raise self._fail("is a folder, not a recording file")
        try:
            with p.open("rb") as f:
                head = f.read(100)
        except OSError as exc:
            raise self._fail(f"cannot read: {exc}") from None
        if not head:
            raise self._fail("empty file (the session wrote nothing; nothing to replay)")
        if not head.startswith(_SQLITE_MAGIC):
            raise self._fail("not an isofeedback recording (not an SQLite file); for CSV or "
                             "EDF/BDF data use a .csv, .edf or .bdf name")
        if len(head) < 100:
            raise self._fail("truncated inside the file header; nothing can be recovered")
        try:
            # read-write so SQLite can fold in the write-ahead log a killed recorder left
            con = sqlite3.connect(f"file:{p}?mode=rw", uri=True)
            app = con.execute("PRAGMA application_id").fetchone()[0]
            version = con.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.OperationalError as exc:
            raise self._fail(f"cannot open ({exc}); check the file's permissions") from None
        except sqlite3.DatabaseError as exc:
            con.close()
            con = self._open_truncated(head, exc)
            app = con.execute("PRAGMA application_id").fetchone()[0]
            version = con.execute("PRAGMA user_version").fetchone()[0]
        if app != APPLICATION_ID:
            con.close()
            raise self._fail("an SQLite file, but not an isofeedback recording")
        if version > FORMAT_VERSION:
            con.close()
            raise self._fail(f"recording format version {version} is newer than this "
                             f"isofeedback reads ({FORMAT_VERSION}); upgrade isofeedback")
        if version < 1:
            con.close()
            raise self._fail(f"unsupported recording format version {version}")
        return con

    def _open_truncated(self, head: bytes, exc: Exception) -> sqlite3.Connection:
        """A file cut short (a partial copy, a full disk): SQLite refuses it, but the pages
        that are there are intact. Open a padded private copy, so everything before the cut
        can be read; the missing pages read as damage."""
        page = int.from_bytes(head[16:18], "big")
        page = 65536 if page == 1 else page
        pages = int.from_bytes(head[28:32], "big")
        size = self.path.stat().st_size
        if page < 512 or size >= page * pages:
            raise self._fail(f"damaged SQLite file ({exc})") from None
        self._tmp = tempfile.TemporaryDirectory(prefix="isofeedback-")
        os.chmod(self._tmp.name, 0o700)
        copy = Path(self._tmp.name) / self.path.name
        shutil.copyfile(self.path, copy)
        with copy.open("r+b") as f:
            f.truncate(page * pages)
        self.damage = f"file truncated at {size} of {page * pages} bytes"
        try:
            return sqlite3.connect(copy)
        except sqlite3.DatabaseError as exc2:
            raise self._fail(f"truncated and unreadable ({exc2})") from None

    def _read_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        for key, value in self._con.execute("SELECT key, value FROM meta"):
            try:
                meta[str(key)] = json.loads(value)
            except ValueError:
                raise self._fail(f"metadata {key!r} is not valid JSON") from None
        if meta.get("format") != FORMAT_NAME:
            raise self._fail("metadata missing or not an isofeedback recording")
        for key in ("session", "patient", "protocol", "config", "start_wall"):
            if key not in meta:
                raise self._fail(f"metadata {key!r} missing")
        return meta

    # -- what was recorded ------------------------------------------------------------------
    @property
    def session_id(self) -> str:
        return str(self.meta["session"])

    @property
    def complete(self) -> bool:
        """True when the recorder closed the file normally (not killed, not crashed)."""
        return bool(self.meta.get("complete", False))

    @property
    def simulated(self) -> bool:
        return bool(self.meta.get("simulated", False))

    def profiles(self) -> dict[str, Profile]:
        """Device → firmware profile, parsed from the stored text."""
        out = {}
        for device, pid, text in self._profile_rows:
            where = Path(f"{self.path}#profile:{device}")
            try:
                out[str(device)] = parse_profile(where, tomllib.loads(text))
            except (tomllib.TOMLDecodeError, ConfigError) as exc:
                raise self._fail(f"stored profile {pid!r} for {device!r} is invalid: {exc}"
                                 ) from None
        return out

    def profile_texts(self) -> dict[str, str]:
        return {str(d): str(t) for d, _, t in self._profile_rows}

    def protocol(self) -> ExerciseProtocol:
        data = dict(self.meta["protocol"])
        try:
            return ExerciseProtocol(**data)
        except (TypeError, ConfigError) as exc:
            raise self._fail(f"stored exercise protocol cannot be used: {exc}") from None

    def config(self) -> PipelineConfig:
        try:
            return recorded_pipeline_config(dict(self.meta["config"]), f"{self.path} (config)")
        except ConfigError as exc:
            raise self._fail(f"stored pipeline configuration is invalid: {exc}") from None

    def _rows(self, sql: str, table: str) -> Iterator[tuple[Any, ...]]:
        """Rows in rowid order, in batches; stops (and records why) at damage."""
        last = 0
        size = self.batch
        while True:
            try:
                rows = self._con.execute(sql, (last, size)).fetchall()
            except sqlite3.DatabaseError as exc:
                if size > 1:  # read the rest of this batch row by row, up to the damage
                    size = 1
                    continue
                self._damaged(f"{table} table damaged after row {last} ({exc}); "
                              "data before it was read")
                return
            if not rows:
                return
            for row in rows:
                yield row[1:]
            last = int(rows[-1][0])

    def packets(self) -> Iterator[Packet]:
        """Every recorded packet in arrival order."""
        for t, chan, data in self._rows(
            "SELECT rowid, t, chan, data FROM packets WHERE rowid > ? ORDER BY rowid LIMIT ?",
            "packets",
        ):
            dev_char = self._channels.get(int(chan))
            if dev_char is None:
                self._damaged(f"packet refers to unknown channel {chan}")
                return
            yield Packet(dev_char[0], dev_char[1], bytes(data), float(t))

    def output_docs(self) -> Iterator[tuple[str, str]]:
        """``(kind, doc)`` of every recorded output, in the order the live run produced them."""
        for kind, doc in self._rows(
            "SELECT seq, kind, doc FROM outputs WHERE seq > ? ORDER BY seq LIMIT ?", "outputs"
        ):
            yield str(kind), str(doc)

    def outputs(self) -> list[Event | Feedback]:
        return [decode_output(k, d) for k, d in self.output_docs()]

    def notes(self) -> list[Note]:
        out = []
        for t, wall, kind, doc in self._rows(
            "SELECT rowid, t, wall, kind, doc FROM notes WHERE rowid > ? ORDER BY rowid LIMIT ?",
            "notes",
        ):
            out.append(Note(float(t), float(wall), str(kind), json.loads(doc)))
        return out

    def controls(self) -> list[tuple[int, Control]]:
        """The control commands the live session applied, each with the number of packets
        the pipeline had seen then (a replay applies them at the same point)."""
        out = []
        for note in self.notes():
            if note.kind != "control":
                continue
            try:
                after = int(note.detail["after_packets"])
                control = Control.from_dict(dict(note.detail["control"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise self._fail(f"a recorded control command is damaged ({exc})") from None
            out.append((after, control))
        return out

    def counts(self) -> dict[str, int]:
        """Rows per table (a damaged table counts as what can be read)."""
        out = {}
        for table in ("packets", "outputs", "notes"):
            try:
                out[table] = int(self._con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            except sqlite3.DatabaseError:
                out[table] = -1
        return out

    def duration_s(self) -> float:
        try:
            row = self._con.execute("SELECT max(t) FROM packets").fetchone()
        except sqlite3.DatabaseError:
            return 0.0
        return float(row[0] or 0.0)

    def close(self) -> None:
        self._con.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> RecordingReader:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_recording(path: Path | str) -> RecordingReader:
    """Open a native recording for reading (raises :class:`RecordingError`)."""
    return RecordingReader(path)
