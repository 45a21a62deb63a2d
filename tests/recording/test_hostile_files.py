"""Recordings cut, altered by hand, on read-only media or not files at all: the reader ends
cleanly or raises one RecordingError, and the commands print one line, never a traceback."""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from isofeedback.cli import main
from isofeedback.errors import RecordingError
from isofeedback.recording.reader import RecordingReader
from isofeedback.recording.replay import replay

SRC = Path(__file__).resolve().parents[2] / "src"
SAMPLE = "myo-pir-sim.isorec"


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if code == 2:
        assert err.count("\n") == 1, err  # one sentence
    return code, out, err


def _child(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process: a hang fails the test (timeout) instead of blocking it."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, "-m", "isofeedback", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


# Cuts in the middle of a packet row (inside a page of the packets table), found from the
# file itself so they stay inside packet data whatever the sample's layout: the old reader
# read the torn page's zeroed rows as row 0 and started the table again, forever.
@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_a_file_cut_mid_page_reads_up_to_the_cut_and_never_cycles(
        copy_sample: Any, where: float, capsys: pytest.CaptureFixture[str]) -> None:
    path = copy_sample(SAMPLE)
    with RecordingReader(path) as r:
        every = list(r.packets())
    raw = path.read_bytes()
    unique = next(p.data for p in every[int(len(every) * where):]
                  if len(p.data) >= 16 and raw.count(p.data) == 1)
    cut = raw.index(unique) + len(unique) // 2
    path.write_bytes(raw[:cut])
    with RecordingReader(path) as r:
        # bounded, so a cycling reader fails here instead of hanging the suite
        got = list(itertools.islice(r.packets(), len(every) + 1))
        assert r.damage and "truncated" in r.damage
    assert len(got) < len(every) and got == every[: len(got)]
    result = replay(path)
    assert result.damage and result.stats.packets == len(got)
    code, out, _ = _cli(["replay", str(path)], capsys)
    assert code == 0 and "damaged" in out
    code, out, err = _cli(["export", str(path), "--format", "csv"], capsys)
    assert (code == 0 and "warning" in out) or "no samples" in err
    code, out, err = _cli(["report", str(path), "--out", str(path.with_suffix(""))], capsys)
    assert code == 0 or "RecordingError" not in err


def _unlock_not_null(con: sqlite3.Connection) -> None:
    """Drop the NOT NULL constraints the recorder's schema has, as a hand edit could."""
    con.execute("PRAGMA writable_schema=ON")
    con.execute("UPDATE sqlite_master SET sql = replace(sql, 'NOT NULL', '') "
                "WHERE type = 'table'")
    con.execute("PRAGMA writable_schema=OFF")


@pytest.mark.parametrize(("sql", "problem"), [
    ("UPDATE packets SET t = NULL WHERE rowid = 500", "packets row 500 has time None"),
    ("UPDATE packets SET t = 'soon' WHERE rowid = 500", "packets row 500 has time 'soon'"),
    ("UPDATE packets SET t = 1e300 WHERE rowid = 500", "packets row 500 has time 1e+300"),
    ("UPDATE packets SET chan = 9 WHERE rowid = 500", "refers to channel 9"),
    ("UPDATE packets SET chan = 'x' WHERE rowid = 500", "refers to channel 'x'"),
    ("UPDATE packets SET data = 7 WHERE rowid = 500", "holds int data"),
    ("UPDATE outputs SET doc = '{\"t\": 1}' WHERE seq = 3", "outputs row 3"),
    ("UPDATE outputs SET doc = 'not json' WHERE seq = 3", "outputs row 3"),
    ("UPDATE channels SET characteristic = NULL", "channels table is damaged"),
    ("UPDATE meta SET value = '[1]' WHERE key = 'protocol'", "metadata 'protocol' is damaged"),
    ("UPDATE meta SET value = 'NaN' WHERE key = 'start_wall'", "'start_wall' is damaged"),
    # text that is not UTF-8 (found by benchmarks/fuzz.py: a UnicodeDecodeError traceback)
    ("UPDATE meta SET value = CAST(X'22FF22' AS TEXT) WHERE key = 'patient'",
     "the header tables are damaged"),
    ("UPDATE profiles SET toml = replace(toml, 'fs = 200', 'fs = nan')",
     "fs: must be a finite number"),
])
def test_hand_damaged_rows_give_one_recording_error(
        myo_recording: Path, sql: str, problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(myo_recording) as con:
        _unlock_not_null(con)
    with sqlite3.connect(myo_recording) as con:
        assert con.execute(sql).rowcount > 0
    commands = [["export", str(myo_recording), "--format", "csv"]]
    if "outputs" in sql:
        # a plain replay does not read the recorded outputs; --verify compares their text
        # and reports the altered one as a difference (exit 1)
        code, out, _ = _cli(["replay", "--verify", str(myo_recording)], capsys)
        assert code == 1 and "output #2 differs" in out
    else:
        commands.append(["replay", "--verify", str(myo_recording)])
    for command in commands:
        code, _, err = _cli(command, capsys)
        assert code == 2 and problem in err and str(myo_recording) in err, (command, err)
    # the report reads the recorded outputs (packets only when it must replay)
    code, _, err = _cli(["report", str(myo_recording)], capsys)
    assert code == 0 or problem in err


def test_a_complete_recording_replays_from_a_read_only_folder(
        myo_recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without root: a read-only file in a read-only folder (root ignores those modes;
    the next test mounts a really read-only file system)."""
    if os.geteuid() == 0:
        pytest.skip("root writes through file modes; see the read-only mount test")
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(myo_recording, archive / "s.isorec")
    (archive / "s.isorec").chmod(0o444)
    archive.chmod(0o555)
    try:
        code, out, _ = _cli(["replay", "--verify", str(archive / "s.isorec")], capsys)
        assert code == 0 and "verify OK" in out
        assert sorted(p.name for p in archive.iterdir()) == ["s.isorec"]
    finally:
        archive.chmod(0o755)


def test_a_complete_recording_replays_from_a_read_only_mount(
        myo_recording: Path, tmp_path: Path) -> None:
    """A real read-only file system (a read-only bind mount in a private mount namespace,
    so nothing outside the test sees it): verify passes and nothing is written there."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private read-only mount")
    store, ro = tmp_path / "store", tmp_path / "ro"
    store.mkdir()
    ro.mkdir()
    shutil.copy(myo_recording, store / "s.isorec")
    before = sorted(p.name for p in store.iterdir())
    script = (f"mount --bind {store} {ro} && mount -o remount,ro,bind {ro} && "
              f"! touch {ro}/probe 2>/dev/null && "
              f"PYTHONPATH={SRC} {sys.executable} -m isofeedback replay --verify {ro}/s.isorec")
    done = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "verify OK" in done.stdout and "Traceback" not in done.stderr
    assert sorted(p.name for p in store.iterdir()) == before


def test_a_killed_recording_with_its_log_replays_from_a_read_only_mount(
        tmp_path: Path) -> None:
    """A recording whose recorder was killed keeps recent rows in its ``-wal`` file; on
    read-only media those are read from a private copy, not lost."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private read-only mount")
    store, ro = tmp_path / "store", tmp_path / "ro"
    store.mkdir()
    ro.mkdir()
    path = store / "k.isorec"
    with sqlite3.connect(Path(__file__).parents[2] / "recordings" / SAMPLE) as src:
        dst = sqlite3.connect(path)
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")
        dst.execute("PRAGMA wal_autocheckpoint=0")
        dst.execute("DELETE FROM meta WHERE key = 'complete'")
        dst.commit()
        with RecordingReader(path) as r:  # (a second connection: the log stays)
            n = sum(1 for _ in r.packets())
        wal = path.with_name(path.name + "-wal")
        shutil.copy(wal, tmp_path / "saved-wal")
        shutil.copy(path, tmp_path / "saved-db")
        dst.close()
    shutil.copy(tmp_path / "saved-db", path)
    shutil.copy(tmp_path / "saved-wal", wal)  # as a killed process leaves them
    code = ("import sys; from isofeedback.recording.reader import RecordingReader as R\n"
            f"r = R('{ro}/k.isorec'); print(r.complete, sum(1 for _ in r.packets()), r.damage)")
    script = (f"mount --bind {store} {ro} && mount -o remount,ro,bind {ro} && "
              f"PYTHONPATH={SRC} {sys.executable} -c \"{code}\"")
    done = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", str(n), "None"]


@pytest.mark.parametrize("command", [
    ["replay", "{fifo}.isorec"], ["export", "{fifo}.isorec"], ["replay", "{fifo}.csv"],
    ["replay", "{fifo}.edf"], ["profiles", "--check", "{fifo}.toml"],
    ["replay", "{rec}", "--config", "{fifo}.toml"],
])
def test_a_fifo_given_as_a_file_is_refused_not_waited_on(tmp_path: Path,
                                                         command: list[str]) -> None:
    for suffix in (".isorec", ".csv", ".edf", ".toml"):
        os.mkfifo(tmp_path / f"f{suffix}")
    shutil.copy(Path(__file__).parents[2] / "recordings" / SAMPLE, tmp_path / "rec.isorec")
    args = [a.format(fifo=tmp_path / "f", rec=tmp_path / "rec.isorec") for a in command]
    done = _child(args, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "not a regular file" in done.stderr and "Traceback" not in done.stderr


def test_reader_errors_name_the_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "p.isorec")
    with pytest.raises(RecordingError, match=r"p\.isorec: is not a regular file"):
        RecordingReader(tmp_path / "p.isorec")


def test_a_value_longer_than_any_we_write_is_damage_not_a_memory_error(
        myo_recording: Path) -> None:
    """The long fuzz run saw MemoryErrors under memory pressure: SQLite allocates what a
    record claims. Values are capped (16 MB; ours are kB), so a huge one is damage."""
    with sqlite3.connect(myo_recording) as con:
        con.execute("UPDATE packets SET data = zeroblob(20000000) WHERE rowid = 500")
    with RecordingReader(myo_recording) as r:
        got = list(r.packets())
        assert len(got) == 499 and r.damage and "too big" in r.damage


def test_a_truncated_file_does_not_claim_zero_seconds_of_data(
        copy_sample: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Cut where the packets table can no longer be read to its end: the file's length is
    unknown, so the replay says how much it read, not "28.7 s of 0.0 s of data" (the
    failed ``max(t)`` read as 0 s)."""
    path = copy_sample(SAMPLE)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * 0.45)])
    result = replay(path)
    assert result.damage and "packets" in result.damage and result.session_s > 5
    assert result.file_s is None and result.stopped is None
    code, out, _ = _cli(["replay", str(path)], capsys)
    assert code == 0 and " of 0.0 s" not in out
    assert f"{result.session_s:.1f} s of data replayed" in " ".join(out.split())


def test_a_damaged_row_is_reported_in_printable_text(
        copy_sample: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Bytes overwritten inside an output's JSON: SQLite's message quotes the row's text,
    binary garbage that was printed to the terminal (and into the summary table) as is."""
    path = copy_sample(SAMPLE)
    raw = bytearray(path.read_bytes())
    at = raw.index(b'{"kind":"level"', len(raw) // 3) + len(b'{"kind":"level"')
    raw[at:at + 300] = b"\xab" * 300
    path.write_bytes(bytes(raw))
    code, out, _ = _cli(["replay", str(path), "--verify"], capsys)
    assert code == 0 and "damaged after row" in out
    assert "\ufffd" not in out and all(c.isprintable() or c == "\n" for c in out), out
    said = " ".join(out.split())
    damaged = said[said.index("damaged:"):]
    assert len(damaged.split("data before it was read")[0]) < 200, damaged
