"""The recorder and reader: lossless, owner-only, crash-safe, clear errors on bad files."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from isofeedback.cli import main
from isofeedback.errors import RecordingError
from isofeedback.recording.export import export_recording
from isofeedback.recording.format import encode_output
from isofeedback.recording.reader import RecordingReader
from isofeedback.research.replay import replay

SRC = Path(__file__).resolve().parents[2] / "src"


def test_recording_holds_everything_needed_for_replay(myo_recording_master: Any) -> None:
    path, source, result = myo_recording_master
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    with RecordingReader(path) as r:
        assert r.complete and r.simulated and r.meta["patient"] == "p-test"
        assert r.meta["software_version"] and r.meta["start_iso"]
        assert r.meta["end_stats"]["packets"] == result.stats.packets
        packets = list(r.packets())
        assert packets == source.all_packets[: len(packets)]
        assert len(packets) == result.stats.packets
        assert [encode_output(o) for o in r.outputs()] == [encode_output(o)
                                                           for o in result.outputs]
        assert r.profile_texts()["sim"] == source.profile.path.read_text()
        assert r.config().as_dict() == r.meta["config"]
        assert r.protocol().reps == 2
        assert [n.kind for n in r.notes()] == ["device"]


def test_files_are_owner_only_while_open(tmp_path: Path, make_recording: Any) -> None:
    old = os.umask(0o022)
    try:
        path, _, _ = make_recording(tmp_path / "deep" / "er", reps=1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "deep" / "er").stat().st_mode) == 0o700


def test_existing_recording_is_never_overwritten(tmp_path: Path, make_recording: Any) -> None:
    make_recording(tmp_path, reps=1)
    with pytest.raises(RecordingError, match="already exists"):
        make_recording(tmp_path, reps=1)


_CHILD = textwrap.dedent("""
    import asyncio, sys, time
    sys.path.insert(0, {src!r})
    sys.path.insert(0, {tests!r})
    from conftest import simulated_source
    from isofeedback.coach.protocol import find_protocol
    from isofeedback.pipeline import Pipeline
    from isofeedback.recording.writer import Recorder
    from isofeedback.service import run_session
    from pathlib import Path

    async def go():
        source = simulated_source(speed=2.0)
        protocol = find_protocol("pir")
        pipeline = Pipeline(source.profiles, protocol)
        rec = Recorder(Path({path!r}), profiles=source.profiles, protocol=protocol,
                       config=pipeline.config, patient="p", session_id="killed")
        print("started", flush=True)
        await run_session(source, pipeline, [rec], [rec])
        print("finished", flush=True)

    asyncio.run(go())
""")


def test_sigkill_mid_session_leaves_a_replayable_file(tmp_path: Path) -> None:
    path = tmp_path / "killed.isorec"
    code = _CHILD.format(src=str(SRC), tests=str(Path(__file__).parent), path=str(path))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "started"
    started = time.monotonic()
    time.sleep(2.5)
    streamed_s = (time.monotonic() - started) * 2.0  # session seconds sent at 2x
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    assert child.returncode == -signal.SIGKILL

    with RecordingReader(path) as r:
        assert not r.complete
        recorded_s = r.duration_s()
        packets = list(r.packets())
        assert r.damage is None
    # at most the last second (at 2x: two session seconds) missing, plus start-up slack
    assert recorded_s >= streamed_s - 2.0 - 1.0, (recorded_s, streamed_s)
    assert packets
    result = replay(path, verify=True)
    assert result.verified and not result.complete
    assert result.checked and result.checked > 0
    with RecordingReader(path) as r:
        export_recording(r, tmp_path / "killed.bdf", "bdf")
    assert (tmp_path / "killed.bdf").stat().st_size > 0


def _cli_error(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["replay", str(path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1
    assert str(path) in err
    return err


def test_missing_empty_and_foreign_files_get_clear_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "not found" in _cli_error(tmp_path / "nope.isorec", capsys)
    empty = tmp_path / "empty.isorec"
    empty.touch()
    assert "empty file" in _cli_error(empty, capsys)
    text = tmp_path / "notes.isorec"
    text.write_text("hello")
    assert "not an isofeedback recording" in _cli_error(text, capsys)
    other = tmp_path / "other.isorec"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE x (a)")
    assert "not an isofeedback recording" in _cli_error(other, capsys)


def test_newer_format_version_is_refused(myo_recording: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(myo_recording) as con:
        con.execute("PRAGMA user_version=99")
    assert "version 99 is newer" in _cli_error(myo_recording, capsys)


def _damage(path: Path, packet: bytes, how: str) -> None:
    """Cut the file at, or overwrite, the page that holds ``packet``'s bytes."""
    content = path.read_bytes()
    assert content.count(packet) == 1
    offset = content.index(packet) // 4096 * 4096
    with path.open("r+b") as f:
        if how == "truncate":
            f.truncate(offset)
        else:
            f.seek(offset)
            f.write(b"\xff" * 4096)


@pytest.mark.parametrize("how", ["truncate", "overwrite"])
def test_damaged_file_keeps_data_before_the_damage(myo_recording: Path, how: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with RecordingReader(myo_recording) as r:
        all_packets = list(r.packets())
        all_outputs = list(r.output_docs())
    middle = next(p.data for p in all_packets[len(all_packets) // 2:]
                  if len(p.data) >= 16 and myo_recording.read_bytes().count(p.data) == 1)
    _damage(myo_recording, middle, how)
    with RecordingReader(myo_recording) as r:
        packets = list(r.packets())
        outputs = list(r.output_docs())
        assert r.damage is not None and "data before it was read" in r.damage
        if how == "truncate":
            assert "truncated" in r.damage
    assert packets == all_packets[: len(packets)] and packets
    assert outputs == all_outputs[: len(outputs)]
    assert len(packets) < len(all_packets)
    # replay goes up to the damage, says so, and verify checks the part that is there
    result = replay(myo_recording, verify=True)
    assert result.damage and result.verified
    assert result.checked is not None and result.checked <= len(outputs)
    assert main(["replay", str(myo_recording)]) == 0
    out = capsys.readouterr().out
    assert "damaged" in out and "Traceback" not in out
    assert main(["export", str(myo_recording), "--format", "csv"]) == 0
    assert "warning" in capsys.readouterr().out


def test_header_damage_is_a_clear_error(myo_recording: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with myo_recording.open("r+b") as f:
        f.seek(100)
        f.write(b"\xff" * 3996)  # page 1: the table of tables
    err = _cli_error(myo_recording, capsys)
    assert "damaged" in err or "malformed" in err


def test_a_copy_without_its_write_ahead_log_says_where_the_data_is(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """During a session (or after it was killed) a recording's pages are in its '-wal'
    file: a copy of the main file alone is an empty SQLite file, which was called "not an
    isofeedback recording"; the error now says to copy the '-wal' file too."""
    path = tmp_path / "killed.isorec"
    code = _CHILD.format(src=str(SRC), tests=str(Path(__file__).parent), path=str(path))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "started"
    time.sleep(1.5)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    wal = path.with_name(path.name + "-wal")
    assert wal.stat().st_size > 0
    copied = tmp_path / "copy"
    copied.mkdir()
    shutil.copyfile(path, copied / path.name)
    err = _cli_error(copied / path.name, capsys)
    assert "killed.isorec-wal" in err and "not an isofeedback recording" not in err, err
    shutil.copyfile(wal, copied / wal.name)  # with its log: the recording replays
    assert replay(copied / path.name).stats.packets > 0
