"""Foreign data is analysed over the whole file: detection only by default, a protocol only
when asked, and a replay that ends early says so with the seconds processed and in the file.

A five-minute CSV with two dozen contractions used to be cut after the default PIR coach
finished (about 80 s and 7 onsets): these tests write such a file and read it back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from isofeedback.cli import main
from isofeedback.coach.protocol import find_protocol
from isofeedback.recording.export import export_recording
from isofeedback.recording.reader import RecordingReader
from isofeedback.research.replay import replay
from isofeedback.sim import benchmark_script, synthesize

FS = 500.0
DURATION_S = 300.0


@pytest.fixture(scope="module")
def long_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float]]:
    """Five minutes of one-channel EMG at 500 Hz with the script's contractions."""
    script = benchmark_script(7, DURATION_S, snr_db=20.0)
    emg = synthesize(script, emg_fs=FS, channels=1).emg[:, 0]
    path = tmp_path_factory.mktemp("foreign") / "five-minutes.csv"
    t = np.arange(emg.size) / FS
    lines = ["time,emg"] + [f"{a:.4f},{b:.6f}" for a, b in zip(t, emg, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path, [c.onset for c in script.contractions]


def test_detection_only_processes_the_whole_file(long_csv: tuple[Path, list[float]]) -> None:
    path, onsets = long_csv
    assert len(onsets) >= 20
    result = replay(path)
    assert result.protocol is None and result.stopped is None
    assert result.file_s == pytest.approx(DURATION_S)
    assert result.session_s == pytest.approx(DURATION_S)
    found = [e.t for e in result.events if e.type == "onset"]
    # every scripted contraction, the last ones included, is found near its true onset
    # (the first starts during the rest calibration and is found when that ends)
    assert len(found) == len(onsets)
    assert np.max(np.abs(np.asarray(found[1:]) - np.asarray(onsets[1:]))) < 0.1
    assert sum(e.type == "release" for e in result.events) == len(onsets)
    assert not [o for o in result.outputs if getattr(o, "kind", "") in ("cue", "phase")]


def test_a_protocol_only_when_asked_and_an_early_end_says_so(
    long_csv: tuple[Path, list[float]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, onsets = long_csv
    result = replay(path, protocol=find_protocol("pir"))
    assert result.protocol == find_protocol("pir").technique
    assert result.session_s < DURATION_S - 10  # the coach finished long before the data did
    assert result.stopped is not None
    assert f"{result.session_s:.1f} s" in result.stopped and f"{DURATION_S:.1f} s" in result.stopped
    assert main(["replay", str(path), "--protocol", "pir"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "stopped early: the coach finished the protocol" in out
    assert f"of the {DURATION_S:.1f} s in the file" in out
    assert main(["replay", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"{DURATION_S:.1f} s of {DURATION_S:.1f} s of data" in out
    assert f"{len(onsets)} onsets" in out and "detection only" in out
    assert "stopped early" not in out


def test_edf_is_analysed_to_its_end(myo_recording: Path) -> None:
    edf = myo_recording.with_suffix(".edf")
    with RecordingReader(myo_recording) as r:
        export_recording(r, edf, "edf")
    result = replay(edf)
    assert result.stopped is None and result.file_s is not None
    assert result.session_s == pytest.approx(result.file_s)
    assert sum(e.type == "onset" for e in result.events) == 3


def test_protocol_is_refused_for_a_native_recording(myo_recording: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(myo_recording), "--protocol", "met"]) == 2
    assert "--protocol applies to foreign data" in capsys.readouterr().err


def test_csv_numbers_are_the_same_doubles_as_float_per_cell(
        long_csv: tuple[Path, list[float]]) -> None:
    """The compiled CSV reader must not change a bit (replays of CSV compare bytewise)."""
    from isofeedback.recording.importers import load_csv

    path, _ = long_csv
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    expected = np.asarray([[float(c) for c in r] for r in rows])
    got = load_csv(path).streams["emg"].data[:, 0]
    assert got.tobytes() == np.ascontiguousarray(expected[:, 1]).tobytes()
