"""Everything written about a patient's session is owner-only (0600), like the recordings:
reports, event dumps, exports and folder summaries, whatever the umask and even when the
file already existed readable by everyone."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from isofeedback.cli import main
from isofeedback.files import open_private


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: new files readable by every user
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _world_readable(*paths: Path) -> None:
    """Files left over from an earlier run, readable by everyone."""
    for p in paths:
        p.write_text("old")
        p.chmod(0o644)


def test_report_events_export_and_summary_are_owner_only(
    copy_sample: Any, tmp_path: Path, open_umask: None
) -> None:
    rec: Path = copy_sample("myo-pir-sim.isorec")
    report = tmp_path / "report"
    csv = tmp_path / "session.csv"
    folder, dumps = tmp_path / "folder", tmp_path / "dumps"
    folder.mkdir()
    dumps.mkdir()
    shutil.copy(rec, folder / rec.name)
    summary, events = tmp_path / "summary.csv", dumps / f"{rec.stem}.events.jsonl"
    _world_readable(report.with_suffix(".json"), report.with_suffix(".html"), events)
    assert main(["report", str(rec), "--out", str(report)]) == 0
    assert main(["export", str(rec), "--format", "csv", "--out", str(csv)]) == 0
    # replay --events and the folder summary (one replay writes both; --events FILE for a
    # single recording uses the same writer)
    assert main(["replay", str(folder), "--jobs", "1", "--summary", str(summary),
                 "--events", str(dumps)]) == 0
    written = [report.with_suffix(".json"), report.with_suffix(".html"), csv,
               csv.with_name("session.events.csv"), summary, *dumps.iterdir()]
    assert len(written) == 6 and events in written
    for p in written:
        assert p.stat().st_size > 10, p  # really rewritten, not just the old stub
        assert _mode(p) == 0o600, (p, oct(_mode(p)))


def test_open_private(tmp_path: Path, open_umask: None) -> None:
    p = tmp_path / "x.txt"
    with open_private(p) as f:
        f.write("ü\n")
    assert p.read_text(encoding="utf-8") == "ü\n" and _mode(p) == 0o600
    with open_private(p, "wb") as fb:
        fb.write(b"\x00")
    assert p.read_bytes() == b"\x00" and _mode(p) == 0o600
    with pytest.raises(ValueError, match="writes only"):
        open_private(p, "a")  # type: ignore[call-overload]
