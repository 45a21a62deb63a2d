"""Reading native recordings, with a clear error for every way a file can be wrong.

A file that is missing, empty, not SQLite, not ours, from a newer version or without its
metadata raises :class:`RecordingError` naming the file and the problem. Damage *inside*
the packet or output tables (a truncated copy, a flipped sector) does not lose what comes
before it: iteration stops at the damage and :attr:`RecordingReader.damage` says where.
Reading never loops: rows must come in increasing row order, so a damaged page that
points back into the table ends the read instead of restarting it.

A row whose *values* are wrong in an otherwise sound file (a NULL or text time, a channel
that does not exist, an output that is not our JSON) was altered by hand or by a tool, and
raises :class:`RecordingError` naming the table and row; in a file already known to be cut
short the same row is the torn end of the cut and only ends the read.

Read-only media (an archive, a DVD, a folder without write permission) are opened
read-only: SQLite's ``immutable`` mode when the folder is not writable (it would otherwise
need to create its shared-memory file beside the recording), or a private copy when a
write-ahead log left by a killed recorder must be folded in.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import tempfile
import tomllib
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from isofeedback.checks import regular_file
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
from isofeedback.types import Event, Feedback, Packet, PacketColumns

__all__ = ["Note", "RecordingReader", "open_recording"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
#: the longest text or blob a recording holds (profile texts and output documents are kB)
MAX_VALUE_BYTES = 16 << 20
#: packet arrival times beyond this (session seconds) are not a session's: a week
MAX_SESSION_S = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Note:
    t: float
    wall: float
    kind: str
    detail: Mapping[str, Any]


def _usual_rows(times: Sequence[Any], chans: Sequence[Any], data: Sequence[Any],
                channels: Mapping[int, Any]) -> bool:
    """Every row the usual one (checked in a few passes over all of them: a float
    session time, a known channel, bytes); anything else is judged row by row
    (:meth:`RecordingReader._packet`), as it always was."""
    return (set(map(type, times)) == {float} and set(map(type, chans)) == {int}
            and set(map(type, data)) == {bytes} and min(times) >= -1.0
            and max(times) <= MAX_SESSION_S and not any(map(math.isnan, times))
            and all(map(channels.__contains__, chans)))


def _finite(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _printable(text: str, limit: int = 120) -> str:
    """SQLite's message about a damaged row, fit for a terminal and a CSV cell: it quotes
    the row's bytes, which in a damaged file are binary (replacement characters, control
    codes); those become '?' and the text is cut at ``limit`` characters."""
    clean = "".join(c if c.isprintable() and c != "\ufffd" else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


class RecordingReader:
    """An open recording. Use :func:`open_recording` or ``RecordingReader(path)``."""

    def __init__(self, path: Path | str, batch: int = 4096) -> None:
        self.path = Path(path)
        self.batch = max(int(batch), 1)
        self.damage: str | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        try:
            self._con = self._connect()
        except BaseException:
            self._cleanup()
            raise
        try:
            self.meta = self._read_meta()
            self._profile_rows = self._header_rows(
                "profiles", "SELECT device, profile_id, toml FROM profiles ORDER BY rowid",
                (str, str, str))
            self._channels = {
                i: (d, c) for i, d, c in self._header_rows(
                    "channels", "SELECT id, device, characteristic FROM channels",
                    (int, str, str))
            }
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # (text not UTF-8)
            self.close()
            raise self._fail(f"the header tables are damaged ({exc}); the file cannot be "
                             "replayed") from None
        except RecordingError:
            self.close()
            raise
        if not self._profile_rows:
            self.close()
            raise self._fail("no firmware profile stored; the file cannot be decoded")

    def _header_rows(self, table: str, sql: str, kinds: tuple[type, ...]
                     ) -> list[tuple[Any, ...]]:
        rows = self._con.execute(sql).fetchall()
        for n, row in enumerate(rows, 1):
            for value, kind in zip(row, kinds, strict=True):
                if not isinstance(value, kind) or isinstance(value, bool):
                    raise self._fail(f"the {table} table is damaged (row {n} holds "
                                     f"{value!r} where a {kind.__name__} belongs); the file "
                                     "cannot be replayed")
        return rows

    def _damaged(self, what: str) -> None:
        if self.damage is None:
            self.damage = what
        elif what not in self.damage:
            self.damage = f"{self.damage}; {what}"

    def _fail(self, problem: str) -> RecordingError:
        return RecordingError(f"{self.path}: {problem}")

    def _bad_row(self, table: str, rowid: int, problem: str) -> None:
        """A row with impossible values: the torn end of a cut file ends the read there;
        in a sound file it was altered, which is an error (nothing after it can be
        trusted to be what the session recorded)."""
        if self.damage is not None:
            self._damaged(f"{table} row {rowid} {problem}; data before it was read")
            return
        raise self._fail(f"{table} row {rowid} {problem}: the file was altered or damaged; "
                         "use an intact copy")

    def _connect(self) -> sqlite3.Connection:
        p = self.path
        regular_file(p, "recording file", error=RecordingError)  # a FIFO would block
        try:
            with p.open("rb") as f:
                head = f.read(100)
        except OSError as exc:
            raise self._fail(f"cannot read: {exc}") from None
        if not head:
            raise self._fail("empty file (the session wrote nothing; nothing to replay)")
        if not head.startswith(_SQLITE_MAGIC):
            from isofeedback.recording.importers import FOREIGN_SUFFIXES

            if p.suffix.lower() in FOREIGN_SUFFIXES:
                raise self._fail("foreign data, not an isofeedback recording: replay it "
                                 "with 'isofeedback replay' (export converts recordings)")
            raise self._fail("not an isofeedback recording (not an SQLite file); foreign "
                             "data is read by its name: .csv, .edf, .bdf, .xdf, .hea, .txt")
        if len(head) < 100:
            raise self._fail("truncated inside the file header; nothing can be recovered")
        try:
            con = self._open_sqlite()
        except sqlite3.DatabaseError as exc:
            raise self._fail(f"cannot open ({exc}); check the file's permissions") from None
        try:
            app, version = self._ids(con)
        except sqlite3.DatabaseError as exc:
            con.close()
            con = self._open_truncated(head, exc)
            try:
                app, version = self._ids(con)
            except sqlite3.DatabaseError as exc2:
                con.close()
                raise self._fail(f"truncated and unreadable ({exc2})") from None
        # no value we write is longer than a few kB: a damaged record header claiming a
        # gigabyte is then SQLite's "too big" (damage), not a MemoryError
        con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        if app != APPLICATION_ID:
            empty = app == 0 and not con.execute("SELECT count(*) FROM sqlite_master"
                                                 ).fetchone()[0]
            con.close()
            if empty:
                # a recording's first pages stay in its write-ahead log until the recorder
                # closes it: a copy of the main file alone, made during (or after a crash
                # of) a session, is an empty SQLite file
                raise self._fail(
                    "an empty SQLite file: if it is a copy of a recording made while the "
                    "session ran (or after it was killed), its data is in the "
                    f"'{self.path.name}-wal' file beside the original: copy that too, or "
                    "open the original once with isofeedback (docs/recordings.md)")
            raise self._fail("an SQLite file, but not an isofeedback recording")
        if version > FORMAT_VERSION:
            con.close()
            raise self._fail(f"recording format version {version} is newer than this "
                             f"isofeedback reads ({FORMAT_VERSION}); upgrade isofeedback")
        if version < 1:
            con.close()
            raise self._fail(f"unsupported recording format version {version}")
        return con

    @staticmethod
    def _ids(con: sqlite3.Connection) -> tuple[int, int]:
        app = con.execute("PRAGMA application_id").fetchone()[0]
        version = con.execute("PRAGMA user_version").fetchone()[0]
        return int(app), int(version)

    def _open_sqlite(self) -> sqlite3.Connection:
        """Read-write where we may write (SQLite folds in the write-ahead log a killed
        recorder left); on read-only media immutable, or a private copy with its log."""
        p = self.path
        uri = "file:" + urllib.parse.quote(str(p.absolute()))
        writable = os.access(p, os.W_OK) and os.access(p.parent, os.W_OK)
        if writable:
            return sqlite3.connect(f"{uri}?mode=rw", uri=True)
        wal = p.with_name(p.name + "-wal")
        if wal.is_file() and wal.stat().st_size > 0:
            copy = self._private_copy()
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
            return sqlite3.connect(copy)
        # nobody can be writing a file we may not write in a folder we may not write
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)

    def _private_copy(self) -> Path:
        """A copy of the file in an owner-only temporary folder (health data)."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="isofeedback-")
            os.chmod(self._tmp.name, 0o700)
        copy = Path(self._tmp.name) / "recording.isorec"
        try:
            shutil.copyfile(self.path, copy)
        except OSError as exc:
            raise self._fail(f"cannot make a private copy to read ({exc})") from None
        return copy

    def _open_truncated(self, head: bytes, exc: Exception) -> sqlite3.Connection:
        """A file cut short (a partial copy, a full disk): SQLite refuses it, but the pages
        that are there are intact. Open a padded private copy, so everything before the cut
        can be read; the missing pages, and the one the cut tore, read as damage."""
        page = int.from_bytes(head[16:18], "big")
        page = 65536 if page == 1 else page
        pages = int.from_bytes(head[28:32], "big")
        size = self.path.stat().st_size
        if page < 512 or size >= page * pages:
            raise self._fail(f"damaged SQLite file ({exc})") from None
        copy = self._private_copy()
        try:
            with copy.open("r+b") as f:
                # a torn last page would read as rows with zeroed bytes, valid to SQLite:
                # drop it whole, so it reads as damage like the pages that are missing
                f.truncate(size // page * page)
                f.truncate(page * pages)  # sparse: the missing pages read as zeros
        except OSError as exc2:
            raise self._fail(f"damaged SQLite file ({exc}; padding a copy failed: "
                             f"{exc2})") from None
        self.damage = f"file truncated at {size} of {page * pages} bytes"
        try:
            return sqlite3.connect(copy)
        except sqlite3.DatabaseError as exc2:
            raise self._fail(f"truncated and unreadable ({exc2})") from None

    def _read_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        for key, value in self._con.execute("SELECT key, value FROM meta"):
            if not isinstance(key, str) or not isinstance(value, str | bytes):
                raise self._fail(f"metadata entry {key!r} is damaged ({value!r} is not "
                                 "JSON text)")
            try:
                meta[key] = json.loads(value)
            except ValueError:
                raise self._fail(f"metadata {key!r} is not valid JSON") from None
        if meta.get("format") != FORMAT_NAME:
            raise self._fail("metadata missing or not an isofeedback recording")
        for key, kind in (("session", str), ("patient", str), ("protocol", dict),
                          ("config", dict), ("start_wall", float)):
            if key not in meta:
                raise self._fail(f"metadata {key!r} missing")
            ok = _finite(meta[key]) if kind is float else isinstance(meta[key], kind)
            if not ok:
                raise self._fail(f"metadata {key!r} is damaged ({meta[key]!r})")
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
        # recorded before the hold countdown counted in the band only: it counted the clock
        data.setdefault("countdown_in_band", False)
        # ... before "relaxed" allowed for the sensor's noise: against relaxed_below alone
        data.setdefault("relaxed_over_noise", False)
        try:
            return ExerciseProtocol(**data)
        except (TypeError, ValueError, ConfigError) as exc:
            raise self._fail(f"stored exercise protocol cannot be used: {exc}") from None

    def config(self) -> PipelineConfig:
        try:
            return recorded_pipeline_config(dict(self.meta["config"]), f"{self.path} (config)")
        except ConfigError as exc:
            raise self._fail(f"stored pipeline configuration is invalid: {exc}") from None

    def _rows(self, sql: str, table: str) -> Iterator[tuple[Any, ...]]:
        """``(rowid, *values)`` in increasing rowid order, in batches; stops (and records
        why) at damage. A damaged page can make SQLite step back to rows already read:
        such a row ends the read, so it can never cycle."""
        for rows in self._batches(sql, table):
            yield from rows

    def _batches(self, sql: str, table: str) -> Iterator[list[tuple[Any, ...]]]:
        """:meth:`_rows` a batch at a time (the last one cut at the damage, if any)."""
        last = 0
        size = self.batch
        while True:
            try:
                rows = self._con.execute(sql, (last, size)).fetchall()
            except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # (text not UTF-8)
                if size > 1:  # read the rest of this batch row by row, up to the damage
                    size = 1
                    continue
                self._damaged(f"{table} table damaged after row {last} "
                              f"({_printable(str(exc))}); data before it was read")
                return
            if not rows:
                return
            for k, row in enumerate(rows):
                rowid = row[0]
                if not isinstance(rowid, int) or rowid <= last:
                    if k:
                        yield rows[:k]
                    self._damaged(f"{table} table damaged after row {last} (rows out of "
                                  "order); data before it was read")
                    return
                last = rowid
            yield rows

    def packets(self) -> Iterator[Packet]:
        """Every recorded packet in arrival order."""
        for window in self.packet_windows():
            yield from window

    def packet_windows(self) -> Iterator[PacketColumns]:
        """:meth:`packets` a batch of rows at a time, as columns (no :class:`Packet` per
        row: a replay's bulk path reads the columns). A row that is not the usual one
        ends the window before it, and is judged (the read may end there, or raise) only
        when the next window is asked for, as :meth:`packets` judges it when the packet
        before it was taken."""
        channels = self._channels
        devices = {chan: names[0] for chan, names in channels.items()}
        characteristics = {chan: names[1] for chan, names in channels.items()}
        for rows in self._batches(
            "SELECT rowid, t, chan, data FROM packets WHERE rowid > ? ORDER BY rowid LIMIT ?",
            "packets",
        ):
            _, times, chans, data = zip(*rows, strict=True)
            if _usual_rows(times, chans, data, channels):
                yield PacketColumns(list(map(devices.__getitem__, chans)),
                                    list(map(characteristics.__getitem__, chans)), data, times)
                continue
            taken: list[Packet] = []
            for rowid, t, chan, blob in rows:
                if _usual_rows((t,), (chan,), (blob,), channels):
                    taken.append(Packet.trusted(devices[chan], characteristics[chan], blob, t))
                    continue
                if taken:
                    yield PacketColumns.of(taken)
                    taken = []
                packet = self._packet(rowid, t, chan, blob)
                if packet is None:
                    return
                taken.append(packet)
            if taken:
                yield PacketColumns.of(taken)

    def _packet(self, rowid: int, t: Any, chan: Any, data: Any) -> Packet | None:
        """The packet of one row, or None (the row recorded as bad: the read ends)."""
        problem = None
        if not _finite(t) or not -1.0 <= t <= MAX_SESSION_S:
            problem = f"has time {t!r}, not a session time in seconds"
        elif not isinstance(chan, int) or chan not in self._channels:
            problem = f"refers to channel {chan!r}, which the channels table lacks"
        elif not isinstance(data, bytes):
            problem = f"holds {type(data).__name__} data, not the packet's bytes"
        if problem is not None:
            self._bad_row("packets", rowid, problem)
            return None
        device, characteristic = self._channels[chan]
        return Packet(device, characteristic, data, float(t))

    def _output_rows(self) -> Iterator[tuple[int, str, str]]:
        for seq, kind, doc in self._rows(
            "SELECT seq, kind, doc FROM outputs WHERE seq > ? ORDER BY seq LIMIT ?", "outputs"
        ):
            if not isinstance(kind, str) or not isinstance(doc, str):
                self._bad_row("outputs", seq, f"holds {kind!r}/{type(doc).__name__}, not "
                              "an output kind and its JSON")
                return
            yield seq, kind, doc

    def output_docs(self) -> Iterator[tuple[str, str]]:
        """``(kind, doc)`` of every recorded output, in the order the live run produced them."""
        for _, kind, doc in self._output_rows():
            yield kind, doc

    def outputs(self) -> list[Event | Feedback]:
        out: list[Event | Feedback] = []
        for seq, kind, doc in self._output_rows():
            try:
                out.append(decode_output(kind, doc))
            except (ValueError, KeyError, TypeError) as exc:
                self._bad_row("outputs", seq, f"is not a valid {kind!r} output ({exc})")
                break
        return out

    def notes(self) -> list[Note]:
        out = []
        for rowid, t, wall, kind, doc in self._rows(
            "SELECT rowid, t, wall, kind, doc FROM notes WHERE rowid > ? ORDER BY rowid LIMIT ?",
            "notes",
        ):
            try:
                detail = json.loads(doc) if isinstance(doc, str) else None
            except ValueError:
                detail = None
            if not (_finite(t) and _finite(wall) and isinstance(kind, str)
                    and isinstance(detail, dict)):
                self._bad_row("notes", rowid, "is not a valid status note")
                break
            out.append(Note(float(t), float(wall), kind, detail))
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

    def duration_s(self) -> float | None:
        """The last packet's arrival time (0 when there is none; None when the packets
        table cannot be read to its end: a damaged file's length is unknown, not 0 s)."""
        try:
            row = self._con.execute("SELECT max(t) FROM packets").fetchone()
        except sqlite3.DatabaseError:
            return None
        value: Any = row[0] if row else None
        if value is None:
            return 0.0
        return float(value) if _finite(value) and 0 <= value <= MAX_SESSION_S else None

    def _cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def close(self) -> None:
        self._con.close()
        self._cleanup()

    def __enter__(self) -> RecordingReader:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_recording(path: Path | str) -> RecordingReader:
    """Open a native recording for reading (raises :class:`RecordingError`)."""
    return RecordingReader(path)
