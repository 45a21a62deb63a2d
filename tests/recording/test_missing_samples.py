"""Samples a foreign file does not have: every way files write them is one gap.

Exporters write a lost sample as ``NaN``, an empty cell, ``NA``, a blank line, or leave
the row out (the time or a row counter skips). Each was refused or, worse, read with
every later sample moved earlier (blank lines were skipped). Now each is a gap: the
pipeline is told of it, never fed it, and every later sample keeps its time, as with a
device's lost packets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from isofeedback.cli import main
from isofeedback.errors import RecordingError
from isofeedback.recording.importers import load_foreign
from isofeedback.research.replay import replay
from isofeedback.types import EventType

FS = 1000
GAP = (8000, 300)  # rows 8.0–8.3 s, in the rest between two contractions


def _signal() -> np.ndarray:
    rng = np.random.default_rng(11)
    t = np.arange(14 * FS) / FS
    active = ((t > 4) & (t < 7)) | ((t > 10) & (t < 12))
    return np.round(rng.normal(0.0, 1.0, t.size) * (1 + 15 * active), 4)


def _lost(i: int) -> bool:
    return GAP[0] <= i < GAP[0] + GAP[1]


def _cells(x: np.ndarray, missing: str) -> str:
    return "t,emg\n" + "".join(f"{i / FS:.3f},{missing if _lost(i) else v}\n"
                               for i, v in enumerate(x))


WRITERS: dict[str, Callable[[np.ndarray], tuple[str, float | None]]] = {
    "nan": lambda x: (_cells(x, "NaN"), None),
    "empty cell": lambda x: (_cells(x, ""), None),
    "NA": lambda x: (_cells(x, "NA"), None),
    "blank line": lambda x: ("emg\n" + "".join("\n" if _lost(i) else f"{v}\n"
                                               for i, v in enumerate(x)), FS),
    "row left out": lambda x: ("t,emg\n" + "".join(f"{i / FS:.3f},{v}\n"
                                                   for i, v in enumerate(x) if not _lost(i)),
                               None),
    "counter skips": lambda x: ("sample,emg\n" + "".join(f"{i},{v}\n" for i, v in enumerate(x)
                                                         if not _lost(i)), FS),
}


def _onsets(path: Path, fs: float | None) -> list[float]:
    return [e.t for e in replay(path, fs=fs).events if e.type == EventType.ONSET]


def test_every_way_of_writing_a_missing_sample_is_the_same_gap(tmp_path: Path) -> None:
    x = _signal()
    whole = tmp_path / "whole.csv"
    whole.write_text("t,emg\n" + "".join(f"{i / FS:.3f},{v}\n" for i, v in enumerate(x)))
    complete = _onsets(whole, None)
    assert len(complete) == 2
    got = {}
    for name, writer in WRITERS.items():
        text, fs = writer(x)
        path = tmp_path / f"{name.replace(' ', '_')}.csv"
        path.write_text(text)
        signals = load_foreign(path, fs)
        emg = signals.streams["emg"]
        assert emg.gaps == (GAP,), name
        assert emg.n == x.size, name  # every later sample at its own time
        kept = np.array([not _lost(i) for i in range(x.size)])
        assert np.array_equal(emg.data[kept, 0], x[kept]), name
        assert signals.meta["missing_rows"] == {"emg": GAP[1]}, name
        got[name] = _onsets(path, fs)
    # the same events whichever way the file wrote it; the gap in the rest moves the
    # onsets by at most a sample or two (the filters restart their settling after it)
    assert len({tuple(v) for v in got.values()}) == 1, got
    onsets = next(iter(got.values()))
    assert onsets[0] == complete[0]
    assert abs(onsets[1] - complete[1]) < 0.005


def test_a_matlab_file_with_nan_samples_has_the_gap(tmp_path: Path) -> None:
    x = _signal()
    y = x.copy()
    y[GAP[0]:GAP[0] + GAP[1]] = np.nan
    path = tmp_path / "lost.mat"
    savemat(path, {"emg": y[:, None], "fs": float(FS)})
    emg = load_foreign(path).streams["emg"]
    assert emg.gaps == (GAP,) and emg.n == x.size


def test_the_replay_says_how_much_was_missing(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    text, _ = WRITERS["nan"](_signal())
    path = tmp_path / "lost.csv"
    path.write_text(text)
    assert main(["replay", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "1 gap in the EMG (0.300 s of samples missing from the file" in out


@pytest.mark.parametrize(("text", "problem"), [
    # the time of a row is not a sample: without it the row cannot be placed
    ("t,emg\n0,1\n,2\n0.002,3\n", r"line 3, column 't': the time is missing"),
    ("sample,emg\n0,1\nNA,2\n2,3\n", r"line 3, column 'sample': the row counter is missing"),
    ("t,emg\n0,\n0.001,NaN\n", "every emg sample is missing"),
    # not whole sample intervals: jitter, not samples lost
    ("t,emg\n" + "".join(f"{k / 1000},1\n" for k in range(100))
     + "".join(f"{(k + 0.4) / 1000},1\n" for k in range(101, 200)),
     "irregular sampling in the time column: line 102"),
])
def test_what_cannot_be_a_gap_is_one_clear_error(tmp_path: Path, text: str,
                                                 problem: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(RecordingError, match=problem):
        load_foreign(path, 1000.0 if text.startswith("sample") else None)


@pytest.mark.parametrize("how", ["packet arrival", "sample jitter"])
def test_arrival_times_that_jitter_are_read_at_the_even_rate(tmp_path: Path, how: str) -> None:
    """A phone's log stamps each BLE packet's samples with the packet's arrival time (ten
    rows alike, then a jump, late by up to 4 ms), or each sample with a jittered time: the
    samples are even, the times are not. Read as the even rate, each row one sample (the
    same events as exact times give), and said; it was refused ("remove the repeated
    rows")."""
    x = _signal()
    rng = np.random.default_rng(2)
    i = np.arange(x.size)
    if how == "packet arrival":
        t = (i // 10) * 0.01 + np.repeat(rng.uniform(0, 0.004, x.size // 10), 10)
    else:
        t = np.sort(i / FS + rng.normal(0, 0.0003, x.size))
    jittered = tmp_path / "phone.csv"
    jittered.write_text("t,emg\n" + "".join(f"{a:.4f},{v}\n" for a, v in zip(t, x, strict=True)))
    exact = tmp_path / "exact.csv"
    exact.write_text("t,emg\n" + "".join(f"{k / FS:.3f},{v}\n" for k, v in enumerate(x)))
    signals = load_foreign(jittered)
    assert signals.streams["emg"].fs == FS and signals.streams["emg"].n == x.size
    assert "strays up to" in signals.meta["time_jitter"]
    assert _onsets(jittered, None) == _onsets(exact, None)


def test_eval_skips_the_gap_as_the_replay_does(tmp_path: Path) -> None:
    """``eval --csv`` scores a file with missing samples over the same gap: the rows it
    lacks are never fed (zeros there read as a dead electrode)."""
    from isofeedback.research.eval import _read_csv, chunk_stream, detect_emg

    text, _ = WRITERS["empty cell"](_signal())
    path = tmp_path / "lost.csv"
    path.write_text(text)
    notes = tmp_path / "truth.csv"
    notes.write_text("onset,4\nrelease,7\nonset,10\nrelease,12\n")
    rec = _read_csv(path, notes, None)
    assert rec.gaps == (GAP,)
    chunks = list(chunk_stream(rec.emg, rec.fs, "emg", 0.05, rec.gaps))
    assert sum(c.gap_before for c in chunks) == GAP[1]
    assert sum(c.n for c in chunks) == rec.emg.shape[0] - GAP[1]
    assert not any(c.start_index < GAP[0] + GAP[1] and c.start_index + c.n > GAP[0]
                   for c in chunks)
    events, _ = detect_emg(rec)
    onsets = [e.t for e in events if e.type == EventType.ONSET]
    assert [round(t) for t in onsets] == [4, 10]


def test_a_channel_or_a_motion_sensor_left_empty_is_left_out(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An export with a column for every electrode writes the unrecorded one empty, and a
    gyroscope not worn leaves its columns blank: their gaps would take every row of the
    channels that were recorded (the file was refused as "every emg sample is missing").
    A channel empty in more than half its rows, and a motion stream with no sample, are
    left out and named; the other channels keep every sample."""
    x = _signal()
    rows = "".join(f"{i / FS:.3f},{v},,{'' if i % 3 else v},,,\n" for i, v in enumerate(x))
    path = tmp_path / "export.csv"
    path.write_text("t,emg1,emg2,emg3,gyro_x,gyro_y,gyro_z\n" + rows)
    signals = load_foreign(path)
    emg = signals.streams["emg"]
    assert emg.channels == ("emg1",) and emg.gaps == () and np.array_equal(emg.data[:, 0], x)
    assert "gyro" not in signals.streams
    assert signals.meta["empty_channels"] == ("left out, empty in more than half the rows: "
                                              "emg2, emg3, gyro")
    assert main(["replay", str(path)]) == 0
    assert "left out, empty in more than half the rows" in capsys.readouterr().out


def test_an_xdf_stream_with_nan_samples_has_the_gap_and_its_break(tmp_path: Path) -> None:
    """An LSL recording's NaN samples (an amplifier's dropped values) are a gap like the
    stream's break: both at their times."""
    pytest.importorskip("pyxdf")
    from tests.recording.xdf_file import XdfStream, write_xdf

    fs = 500.0
    n = 4000
    times = 10.0 + np.arange(n) / fs
    times[3000:] += 1.0  # a 1 s break
    values = np.random.default_rng(18).normal(0.0, 1.0, (n, 1))
    values[1000:1100] = np.nan
    path = tmp_path / "nan.xdf"
    write_xdf(path, [XdfStream("Amp", "EMG", fs, "float32", ["ch"], times, values.tolist())])
    got = load_foreign(path).streams["emg"]
    assert got.gaps == ((1000, 100), (3000, 500)) and got.n == n + 500
    assert np.isfinite(got.data).all()
