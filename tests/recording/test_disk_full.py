"""A full disk at the start and in the middle of a session, made for real: a file-size limit
(RLIMIT_FSIZE, any user) or a tiny tmpfs in a private mount namespace (root): the recorder
raises one clear error at start and leaves nothing behind; mid-session it reports once,
the feedback goes on, and what was recorded stays a valid, replayable file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
TESTS = Path(__file__).resolve().parent

_CHILD = textwrap.dedent("""
    import asyncio, json, logging, resource, sys
    sys.path.insert(0, {src!r})
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from conftest import simulated_source
    from isofeedback.coach.protocol import find_protocol
    from isofeedback.errors import RecordingError
    from isofeedback.pipeline import Pipeline
    from isofeedback.recording.writer import Recorder
    from isofeedback.service import run_session

    logging.basicConfig(level=logging.WARNING, format="LOG %(levelname)s %(message)s")
    if {fsize}:
        resource.setrlimit(resource.RLIMIT_FSIZE, ({fsize}, {fsize}))

    async def go():
        # paced (20x) and committing often, so the disk fills after some commits, not in
        # the first one, however fast or loaded the machine is
        source = simulated_source(reps=1, speed=20.0)
        protocol = find_protocol("pir")
        out = {{}}
        for with_recorder in (False, True):
            pipeline = Pipeline(source.profiles, protocol)
            sinks = []
            if with_recorder:
                try:
                    rec = Recorder.open_in(Path({folder!r}), "s", profiles=source.profiles,
                                           protocol=protocol, config=pipeline.config,
                                           patient="p", simulated=True, source="simulated",
                                           commit_s=0.05)
                except RecordingError as exc:
                    out["start_error"] = str(exc)
                    break
                sinks = [rec]
            result = await run_session(source, pipeline, sinks, sinks)
            out["outputs_with" if with_recorder else "outputs_without"] = len(result.outputs)
            if with_recorder:
                out["flag"] = rec.error
                try:
                    rec.close({{}})
                except RecordingError as exc:
                    out["close_error"] = str(exc)
        print(json.dumps(out))

    asyncio.run(go())
""")

_READ = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {src!r})
    from isofeedback.recording.reader import RecordingReader
    from isofeedback.recording.replay import replay
    with RecordingReader({path!r}) as r:
        n = sum(1 for _ in r.packets())
        info = {{"packets": n, "complete": r.complete, "damage": r.damage}}
    result = replay({path!r}, verify=True)
    info["verified"] = result.verified
    print(json.dumps(info))
""")


def _on_tmpfs(folder: Path, size: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with ``folder`` a tmpfs of ``size`` that only this child sees."""
    script = f"mount -t tmpfs -o size={size} tmpfs {folder} && {sys.executable} -c \"$CODE\""
    return subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True,
                          text=True, timeout=180, check=False, env={**os.environ, "CODE": code})


def _child(folder: Path, fsize: int = 0, size: str = "") -> tuple[dict[str, object], str]:
    code = _CHILD.format(src=str(SRC), tests=str(TESTS), folder=str(folder), fsize=fsize)
    if size:
        read = _READ.format(src=str(SRC), path=str(folder / "s.isorec"))
        code += f"\nif (Path({str(folder)!r}) / 's.isorec').exists():\n    exec({read!r})\n"
        done = _on_tmpfs(folder, size, code)
    else:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    result = lines[0]
    if len(lines) > 1:
        result["read"] = lines[1]
    return result, done.stderr


def _needs_tmpfs() -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private tmpfs")


@pytest.mark.parametrize("how", ["size-limit", "full-tmpfs"])
def test_a_full_disk_at_start_is_one_error_and_leaves_no_file(tmp_path: Path,
                                                              how: str) -> None:
    folder = tmp_path / "rec"
    folder.mkdir()
    if how == "size-limit":
        out, _ = _child(folder, fsize=2000)
        assert sorted(folder.iterdir()) == []
        assert "cannot start the recording: a write failed" in str(out["start_error"])
    else:
        _needs_tmpfs()
        out, _ = _child(folder, size="4k")  # one page: the file, not its tables
        assert "cannot start the recording: the disk is full" in str(out["start_error"])
        assert "read" not in out  # (the child found no s.isorec to read)
    assert str(folder / "s.isorec") in str(out["start_error"])
    assert "free some space or record into another folder" in str(out["start_error"])


def test_a_size_limit_mid_session_keeps_what_was_recorded(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    folder.mkdir()
    out, log = _child(folder, fsize=200_000)
    assert out["outputs_with"] == out["outputs_without"]  # the feedback went on, unchanged
    assert "recording stopped near session time" in str(out["flag"])
    assert "recording incomplete" in str(out["close_error"])
    assert log.count("LOG ERROR") == 1  # reported once, not per commit
    read = subprocess.run([sys.executable, "-c", _READ.format(
        src=str(SRC), path=str(folder / "s.isorec"))], capture_output=True, text=True,
        timeout=120, check=False)
    info = json.loads(read.stdout)
    assert info["packets"] > 0 and not info["complete"] and info["damage"] is None
    assert info["verified"] is True
    assert f"the {info['packets']} packets before are kept" in str(out["flag"])


def test_a_disk_filling_up_mid_session_keeps_what_was_recorded(tmp_path: Path) -> None:
    _needs_tmpfs()
    folder = tmp_path / "rec"
    folder.mkdir()
    out, log = _child(folder, size="256k")
    assert out["outputs_with"] == out["outputs_without"]
    assert "the disk is full; recording stopped near session time" in str(out["flag"])
    assert log.count("LOG ERROR") == 1
    info = out["read"]
    assert isinstance(info, dict)
    assert info["packets"] > 0 and not info["complete"] and info["damage"] is None
    assert info["verified"] is True
