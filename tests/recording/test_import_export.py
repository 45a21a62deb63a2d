"""Export → import round trips (BDF, EDF, CSV) and replay of foreign data."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from isofeedback.cli import main
from isofeedback.coach.protocol import find_protocol
from isofeedback.errors import RecordingError
from isofeedback.recording.export import export_recording, quantum, recording_signals
from isofeedback.recording.importers import is_table_text, load_foreign
from isofeedback.recording.reader import RecordingReader
from isofeedback.research.batch import find_recordings
from isofeedback.research.replay import events_jsonl, replay
from isofeedback.types import FloatArray


@pytest.mark.parametrize("fmt", ["bdf", "edf", "csv"])
def test_round_trip_keeps_samples_and_annotations(myo_recording: Path, fmt: str) -> None:
    out = myo_recording.with_suffix(f".{fmt}")
    assert main(["export", str(myo_recording), "--format", fmt]) == 0
    assert out.stat().st_mode & 0o077 == 0
    with RecordingReader(myo_recording) as r:
        original = recording_signals(r)
    back = load_foreign(out)
    streams = ["emg", "gyro", "accel", "quat"] if fmt != "csv" else ["emg"]
    for name in streams:
        a, b = original.streams[name], back.streams[name]
        assert b.fs == a.fs and b.channels == a.channels
        # EDF's last data record is padded; the data-end annotations cut the padding off
        assert b.n == a.n, (name, a.n, b.n)
        got = b.data[: a.n]
        for j in range(a.data.shape[1]):
            tol = 1e-12 if fmt == "csv" else quantum(a.data[:, j], fmt) * 1.01
            assert np.max(np.abs(got[:, j] - a.data[:, j])) <= tol, (name, j)
    assert [a.text for a in back.annotations] == [a.text for a in original.annotations]
    assert "onset" in [a.text for a in back.annotations]
    tol_t = 1e-12 if fmt == "csv" else 1e-3
    for x, y in zip(back.annotations, original.annotations, strict=True):
        assert abs(x.onset - y.onset) <= tol_t


def _csv_of(recording: Path) -> Path:
    csv_file = recording.with_suffix(".csv")
    with RecordingReader(recording) as r:
        export_recording(r, csv_file, "csv")
    return csv_file


def test_foreign_replay_events_do_not_depend_on_chunk_size(myo_recording: Path) -> None:
    csv_file = _csv_of(myo_recording)
    runs = [replay(csv_file, chunk_s=c).events for c in (0.05, 0.013, 0.4)]
    assert events_jsonl(runs[0]) == events_jsonl(replay(csv_file, chunk_s=0.05).events)
    assert sum(e.type == "onset" for e in runs[0]) == 3
    for other in runs[1:]:
        assert [e.type for e in other] == [e.type for e in runs[0]]
        for x, y in zip(other, runs[0], strict=True):
            assert abs(x.t - y.t) < 1e-9 and abs(x.t_decided - y.t_decided) < 1e-9
            assert (x.value is None) == (y.value is None)
            assert x.value is None or abs(x.value - (y.value or 0.0)) <= 1e-9 * abs(x.value)


def test_foreign_replay_events_are_byte_identical_across_chunk_sizes(myo_recording: Path
                                                                      ) -> None:
    csv_file = _csv_of(myo_recording)
    runs = [events_jsonl(replay(csv_file, chunk_s=c).outputs) for c in (0.05, 0.4)]
    assert runs[0] == runs[1]


@pytest.mark.parametrize(("sample", "moved"), [("myo-pir-sim.isorec", True),
                                               ("openemg-met-sim.isorec", False)])
def test_detection_only_in_whole_file_chunks_equals_small_chunks(sample: str, moved: bool,
                                                                 tmp_path: Path) -> None:
    """The default detection-only replay reads 2 s chunks: an onset and its release can
    then fall in one EMG chunk read before the joint chunk of the same seconds. The joint
    movement between them (the sample recordings have some) must still be judged as in
    10 ms chunks: every output byte-identical, the movement and its end included."""
    recording = tmp_path / sample
    shutil.copy(Path(__file__).parents[2] / "recordings" / sample, recording)
    csv_file = _csv_of(recording)
    runs = [replay(csv_file, chunk_s=c) for c in (None, 0.01, 0.013)]
    assert events_jsonl(runs[0].outputs) == events_jsonl(runs[1].outputs)
    assert events_jsonl(runs[0].outputs) == events_jsonl(runs[2].outputs)
    kinds = [e.type.value for e in runs[0].events]
    assert ("movement" in kinds and "movement_end" in kinds) == moved, kinds


@pytest.mark.parametrize("fmt", ["bdf", "edf"])
def test_the_padding_of_the_last_edf_record_is_not_data(tmp_path: Path, fmt: str) -> None:
    """EDF holds whole one-second records: the export pads the last one with each signal's
    last value and marks where the data end. Read back, the padding is gone: replayed
    with a protocol, the file gives what the CSV export gives (the 0.9 s of repeated
    values gave another rep and a 'flat' signal), and other readers see the marker."""
    import pyedflib

    from isofeedback.recording.importers import DATA_END

    src = tmp_path / "openemg.isorec"
    shutil.copy(Path(__file__).resolve().parents[2] / "recordings" / "openemg-met-sim.isorec",
                src)
    out, csv_file = src.with_suffix(f".{fmt}"), src.with_suffix(".csv")
    with RecordingReader(src) as r:
        export_recording(r, out, fmt)
        export_recording(r, csv_file, "csv")
        original = recording_signals(r)
    assert original.duration_s % 1.0 > 0.01  # the last record is padded
    reader = pyedflib.EdfReader(str(out))
    try:
        onsets, _, texts = reader.readAnnotations()
    finally:
        reader.close()
    ends = {t: o for o, t in zip(onsets, texts, strict=True) if t.startswith(DATA_END)}
    assert ends.keys() == {f"{DATA_END} {k}" for k in original.streams}
    back = load_foreign(out)
    for name, st in original.streams.items():
        assert abs(ends[f"{DATA_END} {name}"] - st.n / st.fs) < 1e-6
        assert back.streams[name].n == st.n, name
    assert not [a for a in back.annotations if a.text.startswith(DATA_END)]
    a, b = replay(out, protocol=find_protocol("met")), replay(csv_file,
                                                               protocol=find_protocol("met"))
    assert a.metrics()["reps_done"] == b.metrics()["reps_done"]
    assert [(e.type, round(e.t, 3)) for e in a.events] == [
        (e.type, round(e.t, 3)) for e in b.events]


def test_bdf_replays_like_the_recording(myo_recording: Path) -> None:
    bdf = myo_recording.with_suffix(".bdf")
    with RecordingReader(myo_recording) as r:
        export_recording(r, bdf, "bdf")
    native, foreign = replay(myo_recording), replay(bdf)
    on_native = [e.t for e in native.events if e.type == "onset"]
    on_foreign = [e.t for e in foreign.events if e.type == "onset"]
    assert len(on_native) == len(on_foreign) == 3
    assert np.allclose(on_native, on_foreign, atol=0.05)


def test_csv_without_time_needs_fs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(2000, 2))
    path = tmp_path / "mine.csv"
    path.write_text("emg_a,emg_b\n" + "\n".join(f"{a},{b}" for a, b in data))
    assert main(["replay", str(path)]) == 2
    assert "give the sample rate with --fs" in capsys.readouterr().err
    assert main(["replay", str(path), "--fs", "1000"]) == 0
    signals = load_foreign(path, 1000.0)
    assert signals.streams["emg"].channels == ("emg_a", "emg_b")
    assert np.array_equal(signals.streams["emg"].data, data)


@pytest.mark.parametrize(("text", "problem"), [
    ("", "empty CSV"),
    ("t,emg1\n0,1\n0.001,x\n", "line 3: non-numeric"),
    ("t,emg1\n0,1\n0.001,2\n0.0005,3\n", r"goes back in time \(line 4\)"),
    # jitter, not whole intervals missing (those are gaps: test_missing_samples_are_gaps)
    ("t,emg1\n" + "".join(f"{k / 1000},1\n" for k in range(100))
     + "".join(f"{(k + 0.5) / 1000},1\n" for k in range(100, 200)),
     r"irregular sampling in the time column: line 102 comes 0\.0015 s after the one before"),
    # the line is the file's own after comment lines and a row of units (it was off by as
    # many lines: "line 4" for the fifth)
    ("# logger 2\n# 1 kHz\ntime,emg1\ns,mV\n0,1\n0.002,2\n0.001,3\n",
     r"goes back in time \(line 7\)"),
    ("# logger 2\nt,emg1\n" + "".join(f"{k / 1000},1\n" for k in range(50)) + "0.5005,1\n",
     r"irregular sampling in the time column: line 53 comes 0\.4515 s after"),
    ("t,gyro_x\n0,1\n0.001,2\n", "no EMG columns"),
    ("t,emg1\n0,1,2\n", "has 3 values"),
])
def test_bad_csv_gets_a_clear_error(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(RecordingError, match=problem) as info:
        load_foreign(path)
    assert str(path) in str(info.value)


def test_bad_edf_gets_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.bdf"
    path.write_bytes(b"0       " + b"x" * 300)
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "EDF/BDF" in err and "Traceback" not in err


@pytest.mark.parametrize("fmt", ["bdf", "edf"])
def test_a_cut_edf_file_gives_its_whole_records_and_says_so(
        myo_recording: Path, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A file cut short (a full disk, a dropped transfer) or never closed (record count -1)
    keeps every whole data record: the EDF reader alone refuses it and all is lost. The
    replay says what was missing; a file cut inside its header is one clear error."""
    whole = myo_recording.with_suffix(f".{fmt}")
    with RecordingReader(myo_recording) as r:
        export_recording(r, whole, fmt)
    data = whole.read_bytes()
    header = int(data[184:192])
    records = int(data[236:244])
    record = (len(data) - header) // records
    full = load_foreign(whole)
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(data[:header + 20 * record + record // 2])
    got = load_foreign(cut)
    assert f"20 of the {records} data records" in got.meta["damage"]
    for name, st in got.streams.items():
        assert st.n == 20 * st.fs  # one-second records
        assert np.array_equal(st.data, full.streams[name].data[:st.n]), name
    result = replay(cut)
    assert result.damage == got.meta["damage"] and result.file_s == 20.0
    assert main(["replay", str(cut)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert f"truncated: 20 of the {records} data records" in printed
    open_ended = tmp_path / f"open.{fmt}"
    open_ended.write_bytes(data[:236] + b"-1      " + data[244:header + 30 * record + 5])
    assert "never closed" in load_foreign(open_ended).meta["damage"]
    assert load_foreign(open_ended).streams["emg"].n == 30 * full.streams["emg"].fs
    assert "damage" not in full.meta
    for n in (20, header - 1):
        cut.write_bytes(data[:n])
        with pytest.raises(RecordingError, match="ends inside its header"):
            load_foreign(cut)
    cut.write_bytes(data[:header + record - 1])
    with pytest.raises(RecordingError, match="before its first whole data record"):
        load_foreign(cut)


def test_foreign_data_replays_paced_or_as_fast_as_possible(tmp_path: Path) -> None:
    """--speed applies to CSV/EDF data too (a live display can be driven by it)."""
    import time

    import numpy as np

    from isofeedback.research.replay import replay

    rng = np.random.default_rng(0)
    path = tmp_path / "paced.csv"
    data = rng.standard_normal((1500, 1))  # 1.5 s at 1 kHz
    path.write_text("emg\n" + "\n".join(f"{v:.5f}" for v in data[:, 0]))
    fast = replay(path, fs=1000.0)
    started = time.perf_counter()
    paced = replay(path, fs=1000.0, speed=2.0)
    paced_s = time.perf_counter() - started
    assert paced_s >= 0.7  # 1.5 s of data at 2x real time cannot finish sooner than 0.75 s
    assert paced.outputs == fast.outputs


@pytest.mark.parametrize("variant", ["crlf", "quoted", "blank lines", "quoted header",
                                     "trailing separator"])
def test_csv_dialects_read_the_same_numbers(tmp_path: Path, variant: str) -> None:
    from isofeedback.recording.importers import load_csv

    rng = np.random.default_rng(1)
    rows = [[k / 500.0, *rng.normal(0.0, 30.0, 2).tolist()] for k in range(400)]
    lines = ["t,emg1,emg2", *(",".join(repr(v) for v in r) for r in rows)]
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join(lines) + "\n", encoding="utf-8")
    other = tmp_path / "other.csv"
    if variant == "crlf":
        text = "\r\n".join(lines) + "\r\n"
    elif variant == "quoted":  # numpy's reader refuses quotes: the csv module reads them
        quoted = [",".join(f'"{c}"' for c in ln.split(",")) for ln in lines[1:]]
        text = "\n".join([lines[0], *quoted]) + "\n"
    elif variant == "blank lines":
        text = "\n".join([*lines[:100], "", *lines[100:], "", ""]) + "\n"
    elif variant == "trailing separator":  # serial loggers: 'v1,v2,' (was "no value in
        text = ",\n".join(lines) + ",\n"  # column ''", as if a sample were missing)
    else:
        text = "\n".join(['"t","emg1","emg2"', *lines[1:]]) + "\n"
    other.write_text(text, encoding="utf-8", newline="")
    a, b = load_csv(plain), load_csv(other)
    assert a.streams.keys() == b.streams.keys() and a.streams["emg"].fs == b.streams["emg"].fs
    assert a.streams["emg"].channels == b.streams["emg"].channels == ("emg1", "emg2")
    assert a.streams["emg"].data.tobytes() == b.streams["emg"].data.tobytes()
    assert a.streams["emg"].data.shape == (400, 2)


@pytest.mark.parametrize(("variant", "sep", "bom"), [("semicolon", ";", False),
                                                      ("tab", "\t", False),
                                                      ("byte-order mark", ",", True)])
def test_spreadsheet_csv_variants_replay_like_a_plain_csv(variant: str, sep: str, bom: bool,
                                                          tmp_path: Path) -> None:
    """What spreadsheets write: "CSV UTF-8" starts with a byte-order mark; a locale whose
    decimal mark is the comma separates with semicolons; tab-separated text. Each gives
    the events of the plain file, to the byte."""
    rng = np.random.default_rng(5)
    fs, n = 500, 6000
    x = rng.normal(0.0, 1.0, n)
    x[1500:3000] *= 12.0
    lines = [f"{i / fs:.4f},{v:.5f}" for i, v in enumerate(x)]
    plain = tmp_path / "plain.csv"
    plain.write_text("t,emg1\n" + "\n".join(lines) + "\n")
    other = tmp_path / "other.csv"
    text = "\n".join(["t,emg1", *lines]).replace(",", sep) + "\n"
    other.write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    want = replay(plain).outputs
    assert sum(e.type == "onset" for e in replay(plain).events) == 1
    assert events_jsonl(replay(other).outputs) == events_jsonl(want), variant


def test_a_windows_spreadsheet_csv_with_a_micro_sign_replays(tmp_path: Path) -> None:
    """Excel's plain "CSV" on a Western European Windows is Windows-1252, not UTF-8: a
    header 'EMG [µV]' has the byte 0xb5. It replays like the same file in UTF-8 (it was
    refused: "'utf-8' codec can't decode byte 0xb5")."""
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, 3000)
    x[1000:2000] *= 12.0
    text = "t;EMG [µV]\n" + "".join(f"{i / 500:.3f};{v:.5f}\n" for i, v in enumerate(x))
    utf8, ansi = tmp_path / "utf8.csv", tmp_path / "ansi.csv"
    utf8.write_text(text, encoding="utf-8")
    ansi.write_text(text, encoding="cp1252")
    assert b"\xb5" in ansi.read_bytes()
    want = replay(utf8)
    assert sum(e.type == "onset" for e in want.events) == 1
    assert load_foreign(ansi).streams["emg"].channels == ("EMG [µV]",)
    assert events_jsonl(replay(ansi).outputs) == events_jsonl(want.outputs)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _contractions_csv(sep: str = ",", comma: bool = False, header: str | None = "t,emg1",
                      ) -> tuple[str, FloatArray]:
    """A 500 Hz record with one contraction as CSV text (``sep`` between cells, decimal
    commas when ``comma``, no header row when ``header`` is None), and its EMG."""
    rng = np.random.default_rng(8)
    x = rng.normal(0.0, 1.0, 3000)
    x[1000:2000] *= 12.0
    rows = [f"{i / 500:.3f}{sep}{v:.5f}" for i, v in enumerate(x)]
    if header is None:
        rows = [r.split(sep)[1] for r in rows]
    text = "\n".join(rows) + "\n"
    if comma:
        text = text.replace(".", ",")
    head = "" if header is None else header.replace(",", sep) + "\n"
    return head + text, np.round(x, 5)


@pytest.mark.parametrize("sep", [";", "\t"])
def test_decimal_commas_with_semicolons_or_tabs(tmp_path: Path, sep: str) -> None:
    """A spreadsheet in a locale whose decimal mark is the comma writes ``0,25`` between
    semicolons (or tabs): read as the same numbers, the same analysis as points."""
    points, comma = tmp_path / "points.csv", tmp_path / "comma.csv"
    points.write_text(_contractions_csv(",")[0])
    comma.write_text(_contractions_csv(sep, comma=True)[0])
    got, want = load_foreign(comma), load_foreign(points)
    assert got.streams["emg"].fs == want.streams["emg"].fs == 500.0
    assert np.array_equal(got.streams["emg"].data, want.streams["emg"].data)
    assert events_jsonl(replay(comma).outputs) == events_jsonl(replay(points).outputs)


def test_decimal_commas_mixed_with_points_are_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("t;emg1\n0.000;0,5\n0.002;0,25\n")
    with pytest.raises(RecordingError, match=r"line 2: non-numeric value .*decimal commas "
                       r"are read only where cells are separated by semicolons or tabs"):
        load_foreign(path)
    path.write_text("t,emg1\n0,000,0,5\n")  # commas both ways: not guessed
    with pytest.raises(RecordingError, match="line 2 has 4 values, the header 2"):
        load_foreign(path)


def test_tab_separated_tsv_and_txt_tables(tmp_path: Path) -> None:
    """A lab's tab-separated export, named ``.tsv`` or ``.txt``, is read as a CSV; a
    ``.txt`` of notes stays a clear error (and is no data in a folder)."""
    text = _contractions_csv("\t")[0]
    want = load_foreign(_write(tmp_path / "a.csv", _contractions_csv(",")[0]))
    for name in ("a.tsv", "a.txt"):
        got = load_foreign(_write(tmp_path / name, text))
        assert np.array_equal(got.streams["emg"].data, want.streams["emg"].data)
    notes = _write(tmp_path / "notes.txt", "subject 3 felt tired\nrepeat on Monday\n")
    assert not is_table_text(notes)
    with pytest.raises(RecordingError, match="not a text format read here"):
        load_foreign(notes)
    assert [p.name for p in find_recordings(tmp_path)] == ["a.csv", "a.tsv", "a.txt"]


def test_a_file_without_header_needs_fs(tmp_path: Path) -> None:
    """Columns of EMG without names (a logger's dump) are read with ``--fs``; without it,
    or with a column that rises in every row (time or a counter), one clear error."""
    text, x = _contractions_csv(header=None)
    path = _write(tmp_path / "dump.csv", text)
    with pytest.raises(RecordingError, match=r"first row must name the columns .* --fs"):
        load_foreign(path)
    got = load_foreign(path, fs=500.0)
    assert got.streams["emg"].channels == ("emg1",)
    assert np.array_equal(got.streams["emg"].data[:, 0], x)  # the first row is data
    assert sum(e.type == "onset" for e in replay(path, fs=500.0).events) == 1
    # two columns of decimal commas between semicolons, no header: the same numbers
    two = "".join(f"{v};{v}\n" for v in text.split()).replace(".", ",")
    both = load_foreign(_write(tmp_path / "comma.csv", two), fs=500.0).streams["emg"]
    assert both.channels == ("emg1", "emg2") and np.array_equal(both.data[:, 1], x)
    timed = _write(tmp_path / "timed.csv", _contractions_csv(header="t,emg1")[0]
                   .split("\n", 1)[1])
    with pytest.raises(RecordingError, match="column 1 rises in every row"):
        load_foreign(timed, fs=500.0)


def test_a_time_column_in_milliseconds(tmp_path: Path) -> None:
    """Milliseconds under a seconds name read as 1 Hz: one clear error, never an analysis
    of 1 Hz 'EMG'; named time_ms, they are read as milliseconds."""
    rng = np.random.default_rng(6)
    x = rng.normal(0.0, 1.0, 3000)
    rows = "".join(f"{i},{v:.5f}\n" for i, v in enumerate(x))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("t,emg1\n" + rows)
    with pytest.raises(RecordingError, match=r"the time column 't' gives 1 samples per "
                       r"second, too slow for surface EMG .* is it in milliseconds"):
        load_foreign(wrong)
    right = tmp_path / "right.csv"
    right.write_text("time_ms,emg1\n" + rows)
    assert load_foreign(right).streams["emg"].fs == pytest.approx(1000.0)


def _two_channel_rows(seed: int, n: int = 6000) -> tuple[np.ndarray, np.ndarray]:
    """Two EMG channels at 500 Hz with one contraction (1500–3000), and a gesture label
    (the 0/1/2 column public gesture data sets ship) that is 2 over it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (n, 2))
    x[1500:3000] *= 12.0
    label = np.zeros(n)
    label[1500:3000] = 2.0
    return x, label


@pytest.mark.parametrize("name", ["label", "Gesture", "stimulus"])
def test_a_label_column_becomes_annotations_never_emg(tmp_path: Path, name: str) -> None:
    """A label column read as a third EMG channel put its steps into the evidence (a real
    Myo gesture file: onsets moved by a second and more, one missed). It is annotations."""
    x, label = _two_channel_rows(7)
    plain = tmp_path / "plain.csv"
    plain.write_text("emg1,emg2\n" + "".join(f"{a:.5f},{b:.5f}\n" for a, b in x))
    labelled = tmp_path / "labelled.csv"
    labelled.write_text(f"emg1,{name},emg2\n" + "".join(
        f"{a:.5f},{k:g},{b:.5f}\n" for (a, b), k in zip(x, label, strict=True)))
    signals = load_foreign(labelled, 500.0)
    assert signals.streams["emg"].channels == ("emg1", "emg2")
    assert signals.meta["not_emg"] == [name]
    [a] = signals.annotations
    assert (a.onset, a.duration, a.text) == (3.0, 3.0, f"{name} 2")
    want = replay(plain, fs=500.0)
    assert sum(e.type == "onset" for e in want.events) == 1
    assert events_jsonl(replay(labelled, fs=500.0).outputs) == events_jsonl(want.outputs)


def test_a_row_counter_is_left_out_and_a_jump_in_it_is_a_gap(tmp_path: Path) -> None:
    """pandas' ``to_csv`` writes its row index as an unnamed first column: a ramp, not a
    muscle. A counter that jumps says rows are missing: a gap, every later row at its
    time."""
    x, _ = _two_channel_rows(8)
    plain = tmp_path / "plain.csv"
    plain.write_text("emg1,emg2\n" + "".join(f"{a:.5f},{b:.5f}\n" for a, b in x))
    indexed = tmp_path / "indexed.csv"
    indexed.write_text(",emg1,emg2\n" + "".join(f"{i},{a:.5f},{b:.5f}\n"
                                                for i, (a, b) in enumerate(x)))
    signals = load_foreign(indexed, 500.0)
    assert signals.streams["emg"].channels == ("emg1", "emg2")
    assert signals.meta["not_emg"] == ["column 1"]
    assert events_jsonl(replay(indexed, fs=500.0).outputs) == \
        events_jsonl(replay(plain, fs=500.0).outputs)
    gap = tmp_path / "gap.csv"
    gap.write_text("sample,emg1\n" + "".join(f"{i + (50 if i >= 100 else 0)},{a:.5f}\n"
                                             for i, (a, _) in enumerate(x)))
    emg = load_foreign(gap, 500.0).streams["emg"]
    assert emg.gaps == ((100, 50),) and emg.n == len(x) + 50
    assert np.array_equal(emg.data[150:, 0], np.round(x[100:, 0], 5))
    not_counter = tmp_path / "noname.csv"
    not_counter.write_text(",emg1\n" + "".join(f"{a:.5f},{a:.5f}\n" for a, _ in x))
    with pytest.raises(RecordingError, match=r"column 1 \(no name\) is not a row counter"):
        load_foreign(not_counter, 500.0)


@pytest.mark.parametrize("suffix", ["edf", "bdf"])
def test_edf_signals_that_are_not_emg_are_left_out(tmp_path: Path, suffix: str) -> None:
    """A file from a polygraph or an EEG amplifier: EMG typed ``EMG …`` beside an EEG
    channel, an untyped signal and a trigger channel (BioSemi's ``Status``, high bits set
    as its amplifier does): only the EMG is analysed, the triggers become annotations."""
    import pyedflib

    fs = 500
    x, label = _two_channel_rows(9)
    rng = np.random.default_rng(10)
    # a BDF's Status: BioSemi's CMS bits above the 16 trigger bits; an EDF's trigger plain
    trigger = "Status" if suffix == "bdf" else "Trigger"
    status = label.astype(np.int64) | ((1 << 20) if suffix == "bdf" else 0)
    signals: list[tuple[str, np.ndarray, str]] = [
        ("EMG left", x[:, 0], "uV"), ("EEG Fpz-Cz", rng.normal(0, 30.0, len(x)), "uV"),
        ("EMG right", x[:, 1], "uV"), ("Breathing", np.sin(np.arange(len(x)) / 200), "a.u."),
        (trigger, status.astype(np.float64), "")]
    path = tmp_path / f"poly.{suffix}"
    kind = pyedflib.FILETYPE_BDFPLUS if suffix == "bdf" else pyedflib.FILETYPE_EDFPLUS
    top = (1 << 23) - 1 if suffix == "bdf" else 32767
    with pyedflib.EdfWriter(str(path), len(signals), file_type=kind) as w:
        headers = []
        for name, v, unit in signals:
            digital = name == trigger
            lo, hi = (-top - 1, top) if digital else (np.floor(v.min()) - 1, np.ceil(v.max()) + 1)
            headers.append({"label": name, "dimension": unit, "sample_frequency": fs,
                            "physical_min": lo, "physical_max": hi,
                            "digital_min": -top - 1, "digital_max": top})
        w.setSignalHeaders(headers)
        w.writeSamples([np.ascontiguousarray(v) for _, v, _ in signals])
    got = load_foreign(path)
    assert got.streams["emg"].channels == ("left", "right")
    assert set(got.meta["not_emg"]) == {trigger, "EEG Fpz-Cz", "Breathing"}
    texts = [(round(a.onset, 3), round(a.duration, 3), a.text) for a in got.annotations]
    assert texts == [(3.0, 3.0, f"{trigger} 2")]
    assert sum(e.type == "onset" for e in replay(path).events) == 1


def test_the_summary_counts_contractions_not_retracted_blips(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    """A researcher's summary row and the replay's report count the contractions; the
    provisional onsets of brief blips (retracted after their release) apart."""
    rng = np.random.default_rng(11)
    fs = 500
    x = rng.normal(0.0, 1.0, 12 * fs)
    x[4 * fs : 7 * fs] *= 12.0  # a 3 s contraction
    for start in (2.0, 8.5, 10.0):  # 80 ms blips
        x[int(start * fs) : int((start + 0.08) * fs)] *= 25.0
    path = tmp_path / "blips.csv"
    path.write_text("emg1\n" + "".join(f"{v:.5f}\n" for v in x))
    result = replay(path, fs=float(fs))
    onsets = sum(e.type == "onset" for e in result.events)
    retracted = sum(e.type == "retracted" for e in result.events)
    assert retracted >= 1 and onsets == retracted + 1
    m = result.metrics()
    assert (m["onsets"], m["releases"], m["retracted"]) == (1, 1, retracted)
    assert main(["replay", str(path), "--fs", str(fs)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    brief = "brief activation" if retracted == 1 else "brief activations"
    assert f"1 onset, 1 release ({retracted} {brief} retracted), 0 movements" in out


def _opensignals(path: Path, devices: dict, rows: np.ndarray, end: str = "\n") -> None:
    import json

    lines = ["# OpenSignals Text File Format\n", "# " + json.dumps(devices) + "\n",
             "# EndOfHeader\n"]
    lines += ["\t".join(str(int(v)) for v in row) + end for row in rows]
    path.write_text("".join(lines))


def test_an_opensignals_file_reads_its_emg_sensor_only(tmp_path: Path) -> None:
    """A biosignalsplux chest recording as a public stress data set ships it: eight
    sensors (ECG, EDA, EMG, …) at 700 Hz, a sequence counter, a digital line, rows ending
    with a tab. Only the channel typed EMG is analysed; the replay equals a CSV of it."""
    fs = 700
    rng = np.random.default_rng(12)
    n = 12 * fs
    emg = rng.normal(0.0, 30.0, n)
    emg[4 * fs : 7 * fs] *= 12.0
    others = rng.normal(32000.0, 200.0, (n, 7))
    chans = np.column_stack([others[:, :2], emg + 32768.0, others[:, 2:]]).round()
    rows = np.column_stack([np.arange(n) % 65536, np.zeros(n), chans])
    devices = {"00:07:80:D8:AB:58": {
        "sensor": ["ECG", "EDA", "EMG", "TEMP", "XYZ", "XYZ", "XYZ", "RESPIRATION"],
        "device name": "RespiBan",
        "column": ["nSeq", "DI", "CH1", "CH2", "CH3", "CH4", "CH5", "CH6", "CH7", "CH8"],
        "sampling rate": fs, "label": [f"CH{k}" for k in range(1, 9)]}}
    txt = tmp_path / "S2_respiban.txt"
    _opensignals(txt, devices, rows, end="\t\n")
    signals = load_foreign(txt)
    assert signals.streams["emg"].channels == ("CH3",)
    assert signals.meta["not_emg"][:2] == ["CH1 (ECG)", "CH2 (EDA)"]
    plain = tmp_path / "ch3.csv"
    plain.write_text("emg\n" + "".join(f"{v:g}\n" for v in chans[:, 2]))
    want = replay(plain, fs=float(fs))
    assert sum(e.type == "onset" for e in want.events) == 1
    assert events_jsonl(replay(txt).outputs) == events_jsonl(want.outputs)


def test_a_bitalino_file_and_its_lost_samples(tmp_path: Path) -> None:
    """BITalino's raw channels are untyped: all analog channels are EMG. Its 4-bit nSeq
    wraps at 16; a step of more than one is samples lost on the radio: each later sample
    is kept at its time (zero rows the pipeline is told of as lost, never fed); a counter
    that stands still is one clear error."""
    n = 3000
    rng = np.random.default_rng(13)
    a = rng.normal(512.0, 5.0, (n, 2)).round()
    rows = np.column_stack([np.arange(n) % 16, np.zeros((n, 4)), a])
    devices = {"20:16:04:12:01:40": {
        "sensor": ["RAW", "RAW"], "column": ["nSeq", "I1", "I2", "O1", "O2", "A1", "A2"],
        "sampling rate": 1000, "label": ["A1", "A2"]}}
    ok = tmp_path / "bitalino.txt"
    _opensignals(ok, devices, rows)
    assert load_foreign(ok).streams["emg"].channels == ("A1", "A2")
    lost = tmp_path / "lost.txt"
    _opensignals(lost, devices, np.delete(rows, range(100, 105), axis=0))
    got = load_foreign(lost).streams["emg"]
    assert got.gaps == ((100, 5),) and got.n == n
    assert np.array_equal(np.delete(got.data, range(100, 105), axis=0),
                          np.delete(a, range(100, 105), axis=0))
    repeated = tmp_path / "repeated.txt"
    _opensignals(repeated, devices, np.insert(rows, 100, rows[100], axis=0))
    with pytest.raises(RecordingError, match=r"the sample counter nSeq goes from 4 to 4 at "
                       r"data row 102 \(column 1\): rows repeated or out of order"):
        load_foreign(repeated)


def test_samples_lost_in_foreign_data_are_gaps_at_their_time(tmp_path: Path) -> None:
    """A contraction after samples lost on the radio is found at the time it happened (the
    rows after a loss are not shifted earlier), the pipeline counts the gap as for a
    native recording's lost packets, and the events do not depend on the chunk size."""
    fs, n = 1000, 20000
    rng = np.random.default_rng(3)
    emg = rng.normal(0.0, 5.0, (n, 1))
    emg[12000:16000] *= 12.0  # a contraction from 12 s to 16 s
    rows = np.column_stack([np.arange(n) % 16, np.zeros((n, 4)), emg, emg])
    devices = {"20:16:04:12:01:40": {
        "sensor": ["EMG", "EMG"], "column": ["nSeq", "I1", "I2", "O1", "O2", "A1", "A2"],
        "sampling rate": fs, "label": ["A1", "A2"]}}
    whole, lost = tmp_path / "whole.txt", tmp_path / "lost.txt"
    _opensignals(whole, devices, rows)
    # 14 samples lost (a 4-bit counter sees losses of up to 15)
    _opensignals(lost, devices, np.delete(rows, range(5000, 5014), axis=0))
    a, b = replay(whole), replay(lost)
    assert (a.stats.gaps, b.stats.gaps) == (0, 1) and b.stats.lost_s == pytest.approx(0.014)
    assert b.file_s == a.file_s == 20.0
    onsets = [[e.t for e in r.events if e.type == "onset"] for r in (a, b)]
    assert len(onsets[0]) == len(onsets[1]) == 1 and abs(onsets[1][0] - 12.0) < 0.05
    assert onsets[1][0] == pytest.approx(onsets[0][0], abs=0.005)
    assert any(e.type == "gap" and e.t == 5.014 for e in b.events)
    small = replay(lost, chunk_s=0.05)
    assert [repr(e) for e in small.events] == [repr(e) for e in b.events]


def _openbci_gui(path: Path, emg: np.ndarray, fs: float, *, step: int = 1,
                 accel: np.ndarray | None = None, marker: np.ndarray | None = None,
                 names: bool = True) -> None:
    """A file as the OpenBCI GUI writes it: ``%`` lines, a row of names (GUI 5; GUI 4
    has none), then rows with the packet clock in bursts and a formatted time at the end."""
    n, channels = emg.shape
    accel = np.zeros((n, 3)) if accel is None else accel
    marker = np.zeros(n) if marker is None else marker
    lines = ["%OpenBCI Raw EXG Data" if names else "%OpenBCI Raw EEG Data",
             f"%Number of channels = {channels}", f"%Sample Rate = {fs:g} Hz",
             "%Board = OpenBCI_GUI$BoardCytonSerialDaisy"]
    if names:
        lines.append(", ".join(["Sample Index", *(f"EXG Channel {k}" for k in range(channels)),
                                "Accel Channel 0", "Accel Channel 1", "Accel Channel 2",
                                "Other", "Other", "Analog Channel 0", "Timestamp",
                                "Marker Channel", "Timestamp (Formatted)"]))
    for i in range(n):
        cells = [f"{(i * step) % 256:.1f}", *(f"{v:.6f}" for v in emg[i]),
                 *(f"{v:.3f}" for v in accel[i])]
        if names:
            cells += ["0.0", "0.0", "0.0", f"{1765100000.0 + (i // 6) * 6 / fs:.6f}",
                      f"{marker[i]:.1f}", "2026-12-07 11:00:00.000"]
        else:
            cells += ["11:00:00.000", f"{1765100000000 + i * 4}"]
        lines.append(", ".join(cells))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("suffix", [".txt", ".csv"])
def test_an_openbci_gui_file(tmp_path: Path, suffix: str) -> None:
    """The OpenBCI GUI's raw file: EXG columns are the EMG (µV) at the header's rate, not
    the bursty packet clock; the accelerometer where every row has a reading; markers
    become annotations; the rest is named as left out; a Daisy's counter steps by two;
    samples lost on the radio are a gap at their time; GUI 4's files without names read by
    channel count."""
    fs = 250.0
    rng = np.random.default_rng(5)
    emg = rng.normal(0.0, 20.0, (2500, 4)).round(6)
    accel = np.column_stack([np.full(2500, 0.02), np.full(2500, -0.01), np.ones(2500)])
    marker = np.zeros(2500)
    marker[500:750] = 3
    path = tmp_path / f"OpenBCI-RAW-2026-12-07_11-00-00{suffix}"
    _openbci_gui(path, emg, fs, step=2, accel=accel, marker=marker)
    got = load_foreign(path)
    assert got.streams["emg"].fs == fs and got.streams["emg"].unit == "uV"
    assert got.streams["emg"].channels == tuple(f"EXG Channel {k}" for k in range(4))
    assert np.array_equal(got.streams["emg"].data, emg)
    assert np.array_equal(got.streams["accel"].data, accel)
    assert [(a.onset, a.duration, a.text) for a in got.annotations] == [(2.0, 1.0, "marker 3")]
    assert got.meta["not_emg"] == ["Other", "Analog Channel 0", "Timestamp",
                                   "Timestamp (Formatted)"]
    assert got.meta["device"] == "BoardCytonSerialDaisy"
    assert replay(path).file_s == 10.0
    between = accel.copy()
    between[1::10] = 0.0  # a board that sends its accelerometer every few samples
    _openbci_gui(path, emg, fs, accel=between)
    got = load_foreign(path)
    assert "accel" not in got.streams
    assert got.meta["not_emg"][0] == "Accel Channel 0-2 (zeros between readings)"
    lost = tmp_path / f"lost{suffix}"
    _openbci_gui(lost, emg, fs)
    lines = lost.read_text().splitlines()
    lost.write_text("\n".join(lines[:105] + lines[107:]) + "\n")
    got = load_foreign(lost)
    assert got.streams["emg"].gaps == ((100, 2),) and got.streams["emg"].n == 2500
    assert np.array_equal(got.streams["emg"].data[102:], emg[102:])
    repeats = tmp_path / f"repeats{suffix}"  # a counter a packet of two samples shares
    _openbci_gui(repeats, emg, fs)
    lines = repeats.read_text().splitlines()
    lines[5:] = [", ".join([f"{(k // 2) % 201:.1f}", *line.split(", ")[1:]])
                 for k, line in enumerate(lines[5:])]
    repeats.write_text("\n".join(lines) + "\n")
    assert load_foreign(repeats).streams["emg"].n == 2500
    old = tmp_path / f"old{suffix}"
    _openbci_gui(old, emg, fs, accel=accel, names=False)
    got = load_foreign(old)
    assert np.array_equal(got.streams["emg"].data, emg)
    assert np.array_equal(got.streams["accel"].data, accel)
    assert not got.annotations
    bad = tmp_path / f"bad{suffix}"
    bad.write_text(old.read_text().replace("Sample Rate = 250 Hz", "Sample Rate = 250.0.1 Hz"))
    with pytest.raises(RecordingError, match=r"'%Sample Rate = 250\.0\.1 Hz' holds no rate"):
        load_foreign(bad)
    empty = tmp_path / f"empty{suffix}"
    empty.write_text("\n".join(path.read_text().splitlines()[:5]) + "\n")
    with pytest.raises(RecordingError, match="no data rows"):
        load_foreign(empty)


def test_a_text_file_that_is_not_data_is_not_replayed(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("subject 3 felt tired\n")
    with pytest.raises(RecordingError, match="not a text format read here"):
        load_foreign(notes)
    from isofeedback.research.batch import find_recordings

    (tmp_path / "s1.txt").write_text("# Simple Text Format\n# Sampling Rate (Hz):= 1000.00\n"
                                     "# Labels:= EMG\n" + "".join(f"{i % 7}\n"
                                                                   for i in range(2000)))
    assert [p.name for p in find_recordings(tmp_path)] == ["s1.txt"]
    assert load_foreign(tmp_path / "s1.txt").streams["emg"].channels == ("EMG",)


@pytest.mark.parametrize(("name", "scale"), [("Time [s]", 1.0), ("time (ms)", 1000.0),
                                             ("X[s]", 1.0), ("Zeit [s]", 1.0),
                                             ("Tiempo (ms)", 1000.0)])
def test_a_time_column_with_its_unit_in_the_name(tmp_path: Path, name: str,
                                                 scale: float) -> None:
    """Acquisition software writes the unit into the name (an EMG system's export puts
    its time axis under ``X[s]``, a German one under ``Zeit [s]``): still the time, never
    an EMG channel (a 'Zeit [s]' column was refused as no time column, and with --fs it
    was analysed as a channel of EMG)."""
    rng = np.random.default_rng(14)
    x = rng.normal(0.0, 1.0, 4000)
    path = tmp_path / "export.csv"
    path.write_text(f"{name},EMG 1 (mV)\n" + "".join(
        f"{i / 1000 * scale:.4f},{v:.5f}\n" for i, v in enumerate(x)))
    signals = load_foreign(path)
    assert signals.streams["emg"].channels == ("EMG 1 (mV)",)
    assert signals.streams["emg"].fs == pytest.approx(1000.0)
    assert load_foreign(path, fs=1000.0).streams["emg"].channels == ("EMG 1 (mV)",)


def test_a_second_clock_is_never_emg(tmp_path: Path) -> None:
    """Seconds and milliseconds side by side: the first is the time, the other is left
    out and named, not analysed as EMG."""
    x = np.random.default_rng(16).normal(0.0, 1.0, 2000)
    path = tmp_path / "clocks.csv"
    path.write_text("Time [s],Time [ms],EMG\n" + "".join(
        f"{i / 1000:.3f},{i:d},{v:.5f}\n" for i, v in enumerate(x)))
    signals = load_foreign(path)
    assert signals.streams["emg"].channels == ("EMG",)
    assert signals.meta["not_emg"] == ["Time [ms]"]


def test_a_row_of_units_under_the_names(tmp_path: Path) -> None:
    """Exports that put the units in a second header row (``ms,mV``): not data, and a time
    column's unit there is its unit. A bad row is still named by its line in the file."""
    rng = np.random.default_rng(15)
    x = rng.normal(0.0, 1.0, 4000)
    x[1500:3000] *= 12.0
    rows = "".join(f"{i:d},{v:.5f}\n" for i, v in enumerate(x))
    path = tmp_path / "units.csv"
    path.write_text("time,EMG1\nms,mV\n" + rows)
    signals = load_foreign(path)
    assert signals.streams["emg"].channels == ("EMG1",)
    assert signals.streams["emg"].fs == pytest.approx(1000.0)
    plain = tmp_path / "plain.csv"
    plain.write_text("time_ms,EMG1\n" + rows)
    assert events_jsonl(replay(path).outputs) == events_jsonl(replay(plain).outputs)
    bad = tmp_path / "bad.csv"
    bad.write_text("time,EMG1\ns,mV\n0.000,1.0\n0.001,oops\n")
    with pytest.raises(RecordingError, match=r"line 4: non-numeric value"):
        load_foreign(bad)


@pytest.mark.filterwarnings("ignore::DeprecationWarning:wfdb")  # the package's own (writing)
@pytest.mark.parametrize("fmt", ["16", "212"])
def test_a_physionet_wfdb_record(tmp_path: Path, fmt: str) -> None:
    """A WFDB record written by PhysioNet's own package (an EMG, an ECG and respiration in
    two signal files, 16-bit or 12-bit packed) and its annotations: the EMG is read to
    its quantisation step, the others left out, the annotations kept."""
    wfdb = pytest.importorskip("wfdb")
    fs = 1000
    rng = np.random.default_rng(16)
    x = rng.normal(0.0, 0.05, (9000, 3))
    x[3000:6000, 0] *= 12.0
    gain = 2000.0 if fmt == "16" else 300.0
    wfdb.wrsamp("rec", fs=fs, units=["mV", "mV", "mV"], sig_name=["EMG", "ECG", "Resp"],
                p_signal=x, fmt=[fmt, "16", "212"], adc_gain=[gain, 2000.0, 1000.0],
                baseline=[0, 0, 0], write_dir=str(tmp_path))
    wfdb.wrann("rec", "atr", np.array([3000, 6000]), np.array(["N", "N"]),
               aux_note=["gesture", "rest"], write_dir=str(tmp_path))
    signals = load_foreign(tmp_path / "rec.hea")
    emg = signals.streams["emg"]
    assert emg.channels == ("EMG",) and emg.fs == fs and emg.unit == "mV"
    assert np.max(np.abs(emg.data[:, 0] - x[:, 0])) <= 0.5 / gain + 1e-12
    assert signals.meta["not_emg"] == ["ECG", "Resp"]
    assert [(a.onset, a.text) for a in signals.annotations] == [(3.0, "gesture"),
                                                                 (6.0, "rest")]
    onsets = [e.t for e in replay(tmp_path / "rec.hea").events if e.type == "onset"]
    assert len(onsets) == 1 and abs(onsets[0] - 3.0) < 0.05


def test_an_xdf_file_from_a_lab_streaming_layer_recording(tmp_path: Path) -> None:
    """What LabRecorder writes when an amplifier streams over LSL beside a marker stream
    and an accelerometer: the EMG stream is read (its float32 samples to the bit), the
    markers become annotations on its time line, the others are named and left out."""
    pytest.importorskip("pyxdf")
    from tests.recording.xdf_file import XdfStream, write_xdf

    fs = 500.0
    rng = np.random.default_rng(17)
    n = 6000
    x = rng.normal(0.0, 20.0, (n, 2)).astype(np.float32)
    x[2000:3500] *= 12
    t0 = 1234.5
    times = t0 + np.arange(n) / fs
    emg = XdfStream("Amp", "EMG", fs, "float32", ["FDS", "EDC"], times, x.tolist())
    acc = XdfStream("Wrist", "ACC", 50.0, "float32", ["x", "y", "z"], t0 + np.arange(600) / 50,
                    np.zeros((600, 3)).tolist())
    marks = XdfStream("Task", "Markers", 0.0, "string", ["marker"],
                      np.array([t0 + 4.0, t0 + 7.0]), [["squeeze"], ["let go"]])
    path = tmp_path / "session.xdf"
    write_xdf(path, [acc, emg, marks])
    signals = load_foreign(path)
    got = signals.streams["emg"]
    assert got.channels == ("FDS", "EDC") and got.fs == fs
    assert np.array_equal(got.data, x.astype(np.float64))
    assert signals.meta["not_emg"] == ["Wrist (ACC)", "Task (Markers)"]
    assert [(round(a.onset, 6), a.text) for a in signals.annotations] == [
        (4.0, "squeeze"), (7.0, "let go")]
    onsets = [e.t for e in replay(path).events if e.type == "onset"]
    assert len(onsets) == 1 and abs(onsets[0] - 4.0) < 0.05


def test_an_xdf_emg_stream_with_a_break_is_a_gap_at_its_time(tmp_path: Path) -> None:
    pytest.importorskip("pyxdf")
    from tests.recording.xdf_file import XdfStream, write_xdf

    fs = 500.0
    n = 4000
    times = 10.0 + np.arange(n) / fs
    times[2000:] += 2.0  # the amplifier's link dropped for 2 s
    values = np.random.default_rng(18).normal(0.0, 1.0, (n, 1)).tolist()
    path = tmp_path / "break.xdf"
    write_xdf(path, [XdfStream("Amp", "EMG", fs, "float32", ["ch"], times, values)])
    got = load_foreign(path).streams["emg"]
    assert got.gaps == ((2000, 1000),) and got.n == n + 1000
    assert np.allclose(got.data[3000:, 0], np.asarray(values, dtype=np.float32)[2000:, 0])
    assert replay(path).stats.lost_s == 2.0


def test_a_label_column_of_names(tmp_path: Path) -> None:
    """Labels written as names (``rest``, ``fist``): annotations too, never a refusal of
    the file as non-numeric."""
    x, label = _two_channel_rows(19)
    names = np.where(label > 0, "fist", "rest")
    path = tmp_path / "named.csv"
    path.write_text("emg1,emg2,gesture\n" + "".join(
        f"{a:.5f},{b:.5f},{g}\n" for (a, b), g in zip(x, names, strict=True)))
    signals = load_foreign(path, 500.0)
    assert signals.streams["emg"].channels == ("emg1", "emg2")
    assert [(a.onset, a.duration, a.text) for a in signals.annotations] == [
        (3.0, 3.0, "gesture fist")]
    plain = tmp_path / "plain.csv"
    plain.write_text("emg1,emg2\n" + "".join(f"{a:.5f},{b:.5f}\n" for a, b in x))
    assert events_jsonl(replay(path, fs=500.0).outputs) == \
        events_jsonl(replay(plain, fs=500.0).outputs)


def test_numpy_savetxt_headers_and_comment_lines(tmp_path: Path) -> None:
    """``np.savetxt(..., header=...)`` writes the header as a ``#`` comment, after any
    other comment lines: the last one is the header."""
    rng = np.random.default_rng(20)
    x = rng.normal(0.0, 1.0, 4000)
    x[1500:3000] *= 12.0
    t = np.arange(4000) / 1000.0
    plain = tmp_path / "plain.csv"
    plain.write_text("t,emg1\n" + "".join(f"{float(a)!r},{float(b)!r}\n"
                                         for a, b in zip(t, x, strict=True)))
    for k, header in enumerate(["t,emg1", "recorded 2025\nfs=1000\nt,emg1"]):
        saved = tmp_path / f"savetxt{k}.csv"
        np.savetxt(saved, np.column_stack([t, x]), delimiter=",", header=header,
                   fmt="%.17g")
        signals = load_foreign(saved)
        assert signals.streams["emg"].channels == ("emg1",), header
        assert events_jsonl(replay(saved).outputs) == events_jsonl(replay(plain).outputs)


@pytest.mark.parametrize(("text", "problem"), [
    ("t,emg1,emg1\n0,1,2\n0.001,1,2\n", r"column names repeat \('emg1'\)"),
    ("t,emg1,t\n0,1,0\n0.001,1,0.001\n", r"column names repeat \('t'\)"),
    ("t,emg1,emg2\n0,,\n0.001,NA,\n0.002,,NaN\n", "every emg sample is missing"),
    # a logger's wall-clock stamps in the time column: said as such, with what to do
    ("timestamp,emg1\n2024-03-01 10:00:00.000,1\n2024-03-01 10:00:00.001,2\n",
     r"line 2: the time column 'timestamp' holds a date or clock time "
     r"\('2024-03-01 10:00:00.000'\), not seconds: .* give the sample rate with --fs"),
    ("Time [s],emg1\n10:00:00.000,1\n10:00:00.001,2\n",
     r"line 2: the time column 'Time \[s\]' holds a date or clock time"),
])
def test_more_csv_mistakes_are_one_clear_error(tmp_path: Path, text: str, problem: str
                                               ) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RecordingError, match=problem):
        load_foreign(path)


def test_every_format_refuses_slow_rates_contradicting_fs_and_absurd_values(
        tmp_path: Path) -> None:
    """The CSV's rules hold for the binary formats: an EMG below 100 Hz is not analysed, a
    --fs that contradicts the file's own rate is an error, and values no signal has
    (1e20: the chain's squares overflow meaning) are refused before anything runs."""
    import pyedflib

    def edf(name: str, fs: int, v: np.ndarray) -> Path:
        path = tmp_path / name
        with pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS) as w:
            w.setSignalHeaders([{"label": "EMG1", "dimension": "uV", "sample_frequency": fs,
                                 "physical_min": -1000.0, "physical_max": 1000.0,
                                 "digital_min": -32768, "digital_max": 32767}])
            w.writeSamples([np.ascontiguousarray(v)])
        return path

    rng = np.random.default_rng(21)
    with pytest.raises(RecordingError, match=r"EMG sampled at 50 Hz, too slow for surface "
                       r"EMG \(at least 100 Hz\)"):
        load_foreign(edf("slow.edf", 50, rng.normal(0, 50.0, 500)))
    ok = edf("ok.edf", 500, rng.normal(0, 50.0, 5000))
    assert load_foreign(ok, 500.0).streams["emg"].fs == 500.0
    with pytest.raises(RecordingError, match=r"--fs 1000 contradicts the file's own EMG "
                       r"rate \(500 Hz\)"):
        load_foreign(ok, 1000.0)
    huge = tmp_path / "huge.csv"
    huge.write_text("t,emg1\n" + "".join(f"{i / 1000},{v * 1e20:g}\n"
                                         for i, v in enumerate(rng.normal(0, 1.0, 3000))))
    with pytest.raises(RecordingError, match=r"emg channel 'emg1' reaches .*e\+2\d, beyond "
                       r"any signal's units"):
        load_foreign(huge)


def test_commands_for_recordings_given_foreign_data_say_what_to_do(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "data.csv"
    path.write_text("t,emg1\n" + "".join(f"{i / 1000},{(i * 7919) % 13 - 6}\n"
                                         for i in range(3000)))
    assert main(["export", str(path), "--format", "edf"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "foreign data, not an isofeedback recording: replay it with 'isofeedback " \
        "replay'" in err
    assert main(["replay", str(path), "--verify"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--verify compares a native recording (.isorec) with its recorded outputs; " \
        "foreign data has none" in err


def test_data_shorter_than_the_rest_measurement_says_so(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    x = np.random.default_rng(22).normal(0.0, 1.0, 2500)
    path = tmp_path / "short.csv"
    path.write_text("t,emg\n" + "".join(f"{i / 1000},{v:.5f}\n" for i, v in enumerate(x)))
    assert main(["replay", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "the data ended before the rest level was measured" in out
    long = tmp_path / "long.csv"
    y = np.random.default_rng(22).normal(0.0, 1.0, 6000)
    long.write_text("t,emg\n" + "".join(f"{i / 1000},{v:.5f}\n" for i, v in enumerate(y)))
    assert main(["replay", str(long)]) == 0
    assert "rest level was measured" not in capsys.readouterr().out


def test_a_time_column_that_does_not_start_at_zero_is_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Event times count from the first row; a file whose clock starts elsewhere (an
    acquisition's own time, a cut from a longer file) is told so, not left to guess."""
    x = np.random.default_rng(23).normal(0.0, 1.0, 5000)
    path = tmp_path / "cut.csv"
    path.write_text("t,emg\n" + "".join(f"{100 + i / 1000:.3f},{v:.5f}\n"
                                        for i, v in enumerate(x)))
    assert load_foreign(path).meta["time_origin_s"] == 100.0
    assert main(["replay", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "times are seconds from the first row (the file's time column starts at 100 s)" \
        in out


def _lab_emg(fs: int, seconds: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    t = np.arange(int(fs * seconds)) / fs
    x = rng.normal(0.0, 0.01, t.size) * (1 + 20 * ((t > 5) & (t < 9)))
    return t, x


@pytest.mark.parametrize(("fs", "name", "write"), [
    (2000, "time", lambda t: f"{t:.3f}"),           # seconds to the ms, at 2 kHz
    (4000, "time", lambda t: f"{t:.4f}"),           # 4 decimals at 4 kHz (0.00025 s apart)
    (4000, "time_ms", lambda t: f"{t * 1e3:.0f}"),  # whole milliseconds at 4 kHz
    (2000, "timestamp", lambda t: f"{1.7e9 + t:.3f}"),  # a Unix clock to the ms
    # significant digits, not decimals: MATLAB's csvwrite writes 5 (9.9995, 10, 10.001 …)
    (2000, "time", lambda t: f"{t:.5g}"),
    (1000, "time", lambda t: f"{t:.4g}"),           # 10 rows share a time after 10 s
    (1926, "time", lambda t: f"{t:.7g}"),           # Delsys' rate, 7 digits (%g's float32)
], ids=["s-3-decimals-2k", "s-4-decimals-4k", "whole-ms-4k", "unix-ms-2k",
        "5-digits-2k", "4-digits-1k", "7-digits-1926"])
def test_a_time_column_rounded_coarser_than_the_sampling(
        tmp_path: Path, fs: int, name: str, write: Any) -> None:
    """Loggers write times with a fixed number of decimals whatever the rate: at 2 kHz in
    ms two rows share each time (0.000, 0.001, 0.001, 0.002 …). That is an even rate, read
    as such with the same samples and events as exact times; it was refused as "not
    increasing" or "irregular sampling", and --fs could not help ("contradicts"). Times
    written to significant digits (their decimals shrink as they grow) too."""
    t, x = _lab_emg(fs)
    exact, rounded = tmp_path / "exact.csv", tmp_path / "rounded.csv"
    exact.write_text("t,emg\n" + "".join(f"{float(a)!r},{float(b)!r}\n"
                                         for a, b in zip(t, x, strict=True)))
    rounded.write_text(f"{name},emg\n" + "".join(f"{write(a)},{float(b)!r}\n"
                                                  for a, b in zip(t, x, strict=True)))
    signals = load_foreign(rounded)
    assert signals.streams["emg"].fs == fs
    assert np.array_equal(signals.streams["emg"].data, load_foreign(exact).streams["emg"].data)
    assert events_jsonl(replay(rounded).outputs) == events_jsonl(replay(exact).outputs)
    assert load_foreign(rounded, fs=fs).streams["emg"].fs == fs


def test_a_repeated_row_is_still_an_error_at_any_resolution(tmp_path: Path) -> None:
    """A row written twice is not rounding: 1 kHz in whole ms never repeats a time, and
    exact times never do (nor times to 7 significant digits at 1 kHz before 10 s)."""
    for fs, fmt in ((1000, "{:.3f}"), (2000, "{:.5f}"), (1000, "{:.7g}")):
        t, x = _lab_emg(fs)
        rows = [f"{fmt.format(a)},{float(b)!r}\n" for a, b in zip(t, x, strict=True)]
        rows.insert(3000, rows[2999])
        path = tmp_path / f"dup{fs}.csv"
        path.write_text("t,emg\n" + "".join(rows))
        with pytest.raises(RecordingError, match=r"repeats the time of the line before "
                           r"\(line 3002\)"):
            load_foreign(path)


@pytest.mark.parametrize(("fs", "fmt"), [(1926, "{:.7g}"), (2000, "{:.6g}")])
def test_a_missing_row_is_a_gap_with_significant_digits(
        tmp_path: Path, fs: int, fmt: str) -> None:
    """Rounding to significant digits explains only steps within one last digit: a row
    missing where the times resolve every sample is a gap, at the file's even rate."""
    t, x = _lab_emg(fs)
    rows = [f"{fmt.format(a)},{float(b)!r}\n" for a, b in zip(t, x, strict=True)]
    del rows[21000]
    path = tmp_path / "gap.csv"
    path.write_text("t,emg\n" + "".join(rows))
    signals = load_foreign(path)
    emg = signals.streams["emg"]
    assert emg.fs == fs and emg.gaps == ((21000, 1),) and emg.n == len(t)
    assert signals.meta["missing_rows"] == {"emg": 1}


def test_a_time_axis_per_sensor_named_alike(tmp_path: Path) -> None:
    """Delsys EMGworks exports ``X[s]`` before each sensor's column, all named alike: the
    first is the time, the others are second clocks (left out, docs/recordings.md), not
    "column names repeat"."""
    t, x = _lab_emg(2000)
    path = tmp_path / "trigno.csv"
    path.write_text("X[s],R BICEPS: EMG 1 [V],X[s],R TRICEPS: EMG 2 [V]\n" + "".join(
        f"{a:.6f},{float(b) * 1e-3!r},{a:.6f},{float(b) * 2e-3!r}\n"
        for a, b in zip(t, x, strict=True)))
    signals = load_foreign(path)
    emg = signals.streams["emg"]
    assert emg.fs == 2000 and emg.channels == ("R BICEPS: EMG 1 [V]", "R TRICEPS: EMG 2 [V]")
    assert signals.meta["not_emg"] == ["X[s]"]
    bad = tmp_path / "bad.csv"
    bad.write_text("X[s],EMG [V],EMG [V]\n0,1,2\n0.001,1,2\n")
    with pytest.raises(RecordingError, match=r"column names repeat \('EMG \[V\]'\)"):
        load_foreign(bad)


def test_names_with_brackets_are_printed_as_they_are(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """File and column names are the user's text, never console markup: ``data[red].csv``
    was printed as "data.csv: session data" and ``X[s]`` as "X" (``[s]`` read as a style).
    (A wide console: a long temporary path wrapped at 80 columns splits inside a name.)"""
    monkeypatch.setenv("COLUMNS", "1000")
    t, x = _lab_emg(1000)
    path = tmp_path / "data[red].csv"
    path.write_text("t,emg [mV],Time [s]\n" + "".join(
        f"{a!r},{float(b)!r},{a!r}\n" for a, b in zip(t.tolist(), x, strict=True)))
    assert main(["replay", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("data[red].csv: session data[red],"), out
    assert "not EMG: Time [s] (left out" in out, out
    folder = tmp_path / "runs"
    folder.mkdir()
    (folder / "run[1].csv").write_text("t,emg\n0,1\n")
    assert main(["replay", str(folder), "--summary", str(tmp_path / "s[b].csv"),
                 "--jobs", "1"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "summary in " + str(tmp_path / "s[b].csv") in out and "run[1].csv:" in out, out


@pytest.mark.parametrize(("fs", "decimals"), [(1926, 6), (1111, 5), (500, 3), (2048, 4)])
def test_a_whole_rate_is_not_bent_by_the_rounding_of_the_times(
        tmp_path: Path, fs: int, decimals: int) -> None:
    """Times written to the µs at 1926 Hz (Delsys) end a fraction of a µs off, so the rate
    from the first and last time was 1925.999966 Hz; within that rounding it is 1926."""
    t, x = _lab_emg(fs)
    path = tmp_path / "lab.csv"
    path.write_text("t,emg\n" + "".join(f"{a:.{decimals}f},{float(b)!r}\n"
                                        for a, b in zip(t, x, strict=True)))
    assert load_foreign(path).streams["emg"].fs == fs
    # a rate that is not whole stays as measured
    odd = tmp_path / "odd.csv"
    odd.write_text("t,emg\n" + "".join(f"{k / 1000.5!r},1\n" for k in range(5000)))
    assert load_foreign(odd).streams["emg"].fs == 1000.5


@pytest.mark.parametrize("fmt", ["csv", "bdf"])
def test_a_recordings_lost_packets_stay_gaps_through_export(tmp_path: Path, fmt: str) -> None:
    """A BLE drop in a native recording is exported zero-filled and marked ``gap:<stream>``;
    read back it is a gap again (a ``gap`` event, the lost seconds counted), not a flat
    signal fed to the detectors."""
    from isofeedback.coach.protocol import find_protocol
    from isofeedback.pipeline import Pipeline
    from isofeedback.profiles.schema import find_profile
    from isofeedback.recording.writer import Recorder
    from tests.coach.sessions import simulated

    _, packets = simulated("clean")
    kept = [p for p in packets if not 20.0 <= p.t_arrival < 22.0]  # out of range for 2 s
    profiles, protocol = {"sim": find_profile("myo")}, find_protocol("pir")
    rec = Recorder.open_in(tmp_path, "drop", profiles=profiles, protocol=protocol,
                           config=Pipeline(profiles, protocol).config, patient="sim",
                           source="simulated", simulated=True)
    for p in kept:
        rec.on_packet(p)
    rec.close({"packets": len(kept)})
    native = replay(rec.path)
    assert native.stats.gaps == 1 and 1.9 < native.stats.lost_s < 2.1
    out = rec.path.with_suffix(f".{fmt}")
    with RecordingReader(rec.path) as r:
        export_recording(r, out, fmt)
    back = load_foreign(out)
    first, rows = back.streams["emg"].gaps[0]
    assert abs(rows / 200.0 - native.stats.lost_s) < 0.011
    assert len(back.streams["emg"].gaps) == 1 and abs(first / 200.0 - 20.0) < 0.05
    foreign = replay(out)
    assert foreign.stats.gaps == 1
    assert foreign.stats.lost_s == pytest.approx(native.stats.lost_s, abs=0.011)
    assert any(e.type == "gap" for e in foreign.events)


def test_matlab_files_as_datasets_ship_them(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """MATLAB files: Ninapro's layout (emg, restimulus, repetition …, the rate in its
    paper, not the file: --fs), emgGO's struct (EMG.channelData, EMG.fs), channels along
    rows; a damaged file and a 7.3 header without HDF5 are one clear error each."""
    from scipy.io import savemat

    rng = np.random.default_rng(4)
    n = 3000
    emg = rng.normal(0.0, 1.0, (n, 10))
    restimulus = np.zeros((n, 1))
    restimulus[1000:1500] = 3
    ninapro = tmp_path / "S1_A1_E1.mat"
    savemat(ninapro, {"emg": emg, "restimulus": restimulus, "stimulus": restimulus,
                      "repetition": (restimulus > 0).astype(float), "subject": 1.0,
                      "glove": rng.normal(size=(n, 22))})
    with pytest.raises(RecordingError, match=r"no sample rate in the file.*give it with --fs"):
        load_foreign(ninapro)
    got = load_foreign(ninapro, fs=100.0)
    assert got.streams["emg"].channels == tuple(f"emg{k}" for k in range(1, 11))
    assert np.array_equal(got.streams["emg"].data, emg)
    assert ("restimulus 3", 10.0, 5.0) in [(a.text, a.onset, a.duration)
                                           for a in got.annotations]
    assert set(got.meta["not_emg"]) == {"restimulus", "stimulus", "repetition", "glove"}
    struct_file = tmp_path / "Sample Data.mat"
    savemat(struct_file, {"EMG": {"channelData": emg[:, :1], "fs": 250.0}})
    got = load_foreign(struct_file)
    assert got.streams["emg"].fs == 250.0 and got.streams["emg"].channels == ("channelData1",)
    with pytest.raises(RecordingError, match=r"--fs 1000 contradicts the file's own rate "
                       r"\(EMG.fs = 250\)"):
        load_foreign(struct_file, fs=1000.0)
    rows = tmp_path / "rows.mat"
    savemat(rows, {"data": emg[:, :4].T, "Fs": 1000})
    got = load_foreign(rows)
    assert got.streams["emg"].data.shape == (n, 4) and got.streams["emg"].fs == 1000.0
    assert main(["replay", str(rows)]) == 0
    hdf5 = tmp_path / "v73.mat"
    hdf5.write_bytes(b"MATLAB 7.3 MAT-file".ljust(116) + bytes(8) + b"\x00\x02IM" + bytes(512))
    with pytest.raises(RecordingError, match=r"v73\.mat: not a readable MATLAB 7\.3 file"):
        load_foreign(hdf5)  # the header of one, no HDF5 after it
    damaged = tmp_path / "damaged.mat"
    damaged.write_bytes(ninapro.read_bytes()[:300])
    with pytest.raises(RecordingError, match=r"damaged\.mat: not a readable MATLAB file"):
        load_foreign(damaged)
    two = tmp_path / "two.mat"
    savemat(two, {"emg": emg, "fs": 1000.0, "glove": {"fs": 25.0}})
    with pytest.raises(RecordingError, match=r"rates that disagree \(fs = 1000, glove.fs = "
                       r"25\); give the EMG's with --fs"):
        load_foreign(two)
    assert load_foreign(two, fs=1000.0).streams["emg"].fs == 1000.0
    missing = tmp_path / "missing.mat"
    savemat(missing, {"emg": np.where(emg > 2.5, np.nan, emg), "fs": 1000.0})
    got = load_foreign(missing)  # NaN: samples missing, gaps
    lost = np.isnan(np.where(emg > 2.5, np.nan, emg)).any(axis=1)
    assert got.meta["missing_rows"] == {"emg": int(lost.sum())}
    assert sum(n for _, n in got.streams["emg"].gaps) == int(lost.sum())
    slow = tmp_path / "slow.mat"
    savemat(slow, {"emg": emg, "fs": 50.0})
    with pytest.raises(RecordingError, match="EMG sampled at 50 Hz, too slow"):
        load_foreign(slow)


@pytest.mark.parametrize(("name", "per_s", "origin"), [
    ("time_us", 1e6, 0), ("timestamp_ns", 1e9, 1733580000e9), ("t [µs]", 1e6, 5e6)])
def test_time_columns_in_micro_and_nanoseconds(tmp_path: Path, name: str, per_s: float,
                                               origin: float) -> None:
    """Phone and embedded loggers stamp samples in µs or ns (Android's ``timestamp_ns``,
    from the epoch): a time column, not an EMG channel, and the rate it gives."""
    t, x = _lab_emg(1000)
    path = tmp_path / "logger.csv"
    path.write_text(f"{name},emg\n" + "".join(f"{int(origin + a * per_s)},{float(b)!r}\n"
                                              for a, b in zip(t, x, strict=True)))
    signals = load_foreign(path)
    emg = signals.streams["emg"]
    assert emg.fs == 1000 and emg.channels == ("emg",) and emg.n == t.size


@pytest.mark.parametrize("preamble", [
    "Application: EMGworks 4.7\nDate: 12/06/2026 10:15\nSubject: P07\n\n",
    "sampling_rate,1000\nunits,uV\n",
    "Noraxon MR3 export\n\"Rate: 1000 Hz\"\n",
])
def test_an_acquisition_software_s_preamble_before_the_header(tmp_path: Path,
                                                              preamble: str) -> None:
    """Exports start with the software's own lines (application, date, subject, rate)
    before the column names: the header is the line before the first row of numbers that
    names as many columns. They were refused ("line 2: non-numeric value")."""
    t, x = _lab_emg(1000)
    body = "t,emg\n" + "".join(f"{a:.3f},{float(b)!r}\n" for a, b in zip(t, x, strict=True))
    plain = tmp_path / "plain.csv"
    plain.write_text(body)
    exported = tmp_path / "export.csv"
    exported.write_text(preamble + body)
    signals = load_foreign(exported)
    assert signals.streams["emg"].channels == ("emg",) and signals.streams["emg"].fs == 1000
    assert np.array_equal(signals.streams["emg"].data, load_foreign(plain).streams["emg"].data)
    assert signals.meta["preamble"] == [line.strip() for line in preamble.splitlines()
                                        if line.strip()]


def test_a_preamble_s_sample_rate_is_the_rate_of_a_file_without_time(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, x = _lab_emg(2000)
    rows = "".join(f"{float(b)!r}\n" for b in x)
    path = tmp_path / "trial.csv"
    path.write_text("Application: EMGworks\nSampling rate: 2 kHz\n\nemg\n" + rows)
    assert load_foreign(path).streams["emg"].fs == 2000
    assert main(["replay", str(path)]) == 0
    assert ("the sample rate, 2000 Hz, from the file's line 'Sampling rate: 2 kHz'"
            in " ".join(capsys.readouterr().out.split()))
    assert load_foreign(path, 1000.0).streams["emg"].fs == 1000  # --fs says otherwise: it
    two = tmp_path / "two.csv"
    two.write_text("fs=1000\nrate: 2000\nemg\n" + rows)  # two rates: none is trusted
    with pytest.raises(RecordingError, match="give the sample rate with --fs"):
        load_foreign(two)


def test_a_folder_replay_keeps_a_txt_table_with_a_preamble(tmp_path: Path) -> None:
    """A lab's ``.txt`` export with its program's lines before the header is a table (a
    folder replay takes it), a notes file still is not."""
    t, x = _lab_emg(1000)
    (tmp_path / "trial.txt").write_text(
        "Application: EMGworks\nDate: 12/06/2026\n\nt,emg\n"
        + "".join(f"{a:.3f},{float(b)!r}\n" for a, b in zip(t, x, strict=True)))
    (tmp_path / "notes.txt").write_text("Subject P07\nGood session, electrodes fine.\n")
    assert is_table_text(tmp_path / "trial.txt") and not is_table_text(tmp_path / "notes.txt")
    assert [p.name for p in find_recordings(tmp_path)] == ["trial.txt"]


def _discontinuous_edf(path: Path, x: np.ndarray, fs: int, pause_before: int,
                       pause_s: float, note_at: float) -> None:
    """An EDF+D file of 1 s records whose records from ``pause_before`` on start
    ``pause_s`` later (a recorder paused), with an annotation at ``note_at`` (on the
    paused time line): written continuous by pyedflib (which writes no +D), then its
    reserved field and time-keeping annotations set as a pausing recorder writes them."""
    import pyedflib

    w = pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS)
    w.setSignalHeaders([{"label": "EMG 1", "dimension": "uV", "sample_frequency": fs,
                         "physical_max": 3000.0, "physical_min": -3000.0,
                         "digital_max": 32767, "digital_min": -32768}])
    w.writeSamples([x])
    w.writeAnnotation(note_at - pause_s, -1, "cue")  # rewritten below onto the paused line
    w.close()
    data = bytearray(path.read_bytes())
    assert data[192:197] == b"EDF+C"
    data[192:197] = b"EDF+D"
    header, records = int(data[184:192]), int(data[236:244])
    at = 256 + 2 * 216  # the two signals' "samples in a data record" fields
    counts = [int(data[at + 8 * i:at + 8 + 8 * i]) for i in range(2)]
    for r in range(records):
        at = header + r * sum(counts) * 2 + counts[0] * 2
        tal = bytes(data[at:at + counts[1] * 2])
        stamp, sep, rest = tal.partition(b"\x14")
        shift = pause_s if r >= pause_before else 0.0
        rest = rest.replace(f"+{note_at - pause_s:g}".encode(), f"+{note_at:g}".encode())
        new = f"+{float(stamp) + shift:g}".encode() + sep + rest
        data[at:at + counts[1] * 2] = new[:counts[1] * 2].ljust(counts[1] * 2, b"\x00")
    path.write_bytes(bytes(data))


def test_a_discontinuous_edf_places_each_record_at_its_time(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """EDF+D: a recorder that paused writes each data record's own start. The EDF reader
    refused such a file ("discontinuous and cannot be read"); read back to back, every
    sample after a pause would sit early by the pause. Each record is now at its time, the
    pause a gap; annotations keep theirs."""
    fs = 1000
    rng = np.random.default_rng(1)
    x = np.round(rng.normal(0, 50, 12 * fs), 1)
    x[8000:10000] *= 10  # a contraction in records 8-9: at 10 s once the pause is in
    path = tmp_path / "paused.edf"
    _discontinuous_edf(path, x, fs, pause_before=6, pause_s=2.0, note_at=10.5)
    signals = load_foreign(path)
    emg = signals.streams["emg"]
    assert emg.gaps == ((6000, 2000),) and emg.n == 14000
    assert np.allclose(emg.data[8000:, 0], x[6000:], atol=0.1)  # after the pause, 2 s on
    assert [(a.onset, a.text) for a in signals.annotations] == [(10.5, "cue")]
    assert main(["replay", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "EDF+D file (the recording paused)" in out and "1 gap in the EMG (2.000 s" in out
    onsets = [e.t for e in replay(path).events if e.type.value == "onset"]
    assert [round(t) for t in onsets] == [10]


def test_a_binary_file_named_csv_is_said_to_be_no_text(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"t,emg\n" + bytes(range(128, 256)) * 4)
    with pytest.raises(RecordingError, match=r"not a text file: it holds a byte \(0x81\) "
                       r"that is no character in UTF-8 nor in Windows-1252"):
        load_foreign(path)


def test_quoted_cells_with_decimal_commas_between_commas(tmp_path: Path) -> None:
    """A spreadsheet in a comma-decimal locale that quotes every cell writes
    ``"0,001","-1,25"``: the comma inside the quotes is the cell's decimal mark (it was
    refused, decimal commas being read only between semicolons or tabs)."""
    t, x = _lab_emg(1000)
    plain = tmp_path / "plain.csv"
    plain.write_text("t,emg\n" + "".join(f"{a:.3f},{b:.6f}\n"
                                          for a, b in zip(t, x, strict=True)))
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('"t","emg"\n' + "".join(f'"{a:.3f}","{b:.6f}"\n'.replace(".", ",")
                                              for a, b in zip(t, x, strict=True)))
    got, want = load_foreign(quoted).streams["emg"], load_foreign(plain).streams["emg"]
    assert got.fs == want.fs == 1000 and np.array_equal(got.data, want.data)


def test_a_dynamometer_s_force_and_an_ecg_beside_the_emg_are_left_out(tmp_path: Path) -> None:
    """An isometric study records the dynamometer's force (or torque) beside the EMG, a
    kit its ECG: they were analysed as EMG channels of the fusion. Named as such, they are
    left out and named; the events are the EMG's alone."""
    t, x = _lab_emg(1000)
    force = 150.0 * ((t > 5) & (t < 9))
    rows = zip(t, x, force, strict=True)
    both = tmp_path / "study.csv"
    both.write_text("t,EMG biceps,Force [N],ECG\n" + "".join(
        f"{a:.3f},{float(b)!r},{f:.1f},{np.sin(7 * a):.4f}\n" for a, b, f in rows))
    alone = tmp_path / "emg.csv"
    alone.write_text("t,EMG biceps\n" + "".join(f"{a:.3f},{float(b)!r}\n"
                                                 for a, b in zip(t, x, strict=True)))
    signals = load_foreign(both)
    assert signals.streams["emg"].channels == ("EMG biceps",)
    assert signals.meta["not_emg"] == ["Force [N]", "ECG"]
    assert events_jsonl(replay(both).outputs) == events_jsonl(replay(alone).outputs)


def _matlab_73(path: Path, variables: dict[str, Any]) -> None:
    """A MATLAB 7.3 MAT-file as MATLAB writes one: HDF5 after a 512-byte header block
    (text, then version 0x0200 and "IM"), each variable a dataset with its class in
    ``MATLAB_class`` and its dimensions reversed (MATLAB is column-major), a struct a group
    of its fields, text as UTF-16 codes, a cell as references into ``#refs#``."""
    import h5py

    def put(group: Any, name: str, value: Any) -> None:
        if isinstance(value, dict):
            sub = group.create_group(name)
            sub.attrs["MATLAB_class"] = np.bytes_("struct")
            for key, v in value.items():
                put(sub, key, v)
        elif isinstance(value, str):
            ds = group.create_dataset(name, data=np.array([[ord(c) for c in value]],
                                                          dtype=np.uint16).T)
            ds.attrs["MATLAB_class"] = np.bytes_("char")
            ds.attrs["MATLAB_int_decode"] = np.int32(2)
        elif isinstance(value, list):  # a cell of arrays
            refs = group.file.require_group("#refs#")
            handles = []
            for i, v in enumerate(value):
                ds = refs.create_dataset(f"{name}{i}", data=np.atleast_2d(v).T)
                ds.attrs["MATLAB_class"] = np.bytes_("double")
                handles.append(ds.ref)
            cell = group.create_dataset(name, data=np.array([handles], dtype=h5py.ref_dtype))
            cell.attrs["MATLAB_class"] = np.bytes_("cell")
        else:
            a = np.atleast_2d(np.asarray(value))
            ds = group.create_dataset(name, data=a.T)
            ds.attrs["MATLAB_class"] = np.bytes_({"f": "double", "i": "int16", "b": "logical"}[
                a.dtype.kind] if a.dtype != np.float32 else "single")

    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in variables.items():
            put(f, key, value)
    header = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Dec  7 12:00:00 2026 "
              b"HDF5 schema 1.00 .").ljust(116) + bytes(8) + b"\x00\x02IM"
    with path.open("r+b") as f:
        f.write(header)


def test_matlab_73_files_are_read_with_h5py(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A 7.3 file (HDF5; MATLAB's format for large variables, and some labs' default):
    the same variables as a v7 file gives (a struct's fields, the rate, labels as
    annotations, a glove left out), samples in MATLAB's orientation, text and cells left
    out; without h5py one clear error that says how to get it."""
    rng = np.random.default_rng(7)
    n = 4000
    emg = rng.normal(0.0, 1.0, (n, 4))
    emg[1500, 2] = np.nan
    restimulus = np.zeros((n, 1))
    restimulus[1000:2000] = 2
    path = tmp_path / "S2_E1_A1 v73.mat"
    _matlab_73(path, {"emg": emg, "restimulus": restimulus, "glove": rng.normal(size=(n, 3)),
                      "info": {"fs": 2000.0, "subject": "S2", "age": 31.0},
                      "notes": "offline annotation", "trials": [np.ones(3), np.zeros(2)]})
    from scipy.io import loadmat
    with pytest.raises(NotImplementedError):  # what scipy says of such a file
        loadmat(str(path))
    got = load_foreign(path)
    stream = got.streams["emg"]
    assert stream.fs == 2000.0 and stream.channels == ("emg1", "emg2", "emg3", "emg4")
    assert np.array_equal(stream.data[:1500], emg[:1500])  # the NaN row is a gap
    assert got.meta["missing_rows"] == {"emg": 1}
    assert ("restimulus 2", 0.5, 0.5) in [(a.text, a.onset, a.duration)
                                          for a in got.annotations]
    assert set(got.meta["not_emg"]) == {"restimulus", "glove"}  # (scalars are no signal)
    assert main(["replay", str(path)]) == 0
    rows = tmp_path / "rows.mat"
    _matlab_73(rows, {"data": emg[:, :2].T.astype(np.float32), "srate": 1000})
    got = load_foreign(rows)
    assert got.streams["emg"].data.shape == (n, 2) and got.streams["emg"].fs == 1000.0
    monkeypatch.setitem(sys.modules, "h5py", None)  # an install without it
    with pytest.raises(RecordingError, match=r"reading a MATLAB 7\.3 \(HDF5\) file needs the "
                       r"h5py package: pip install 'isofeedback\[matlab\]'; or save it"):
        load_foreign(path)


def _brainflow_raw(path: Path, emg: np.ndarray, fs: float, *, step: int = 1,
                   others: int = 10, marker: np.ndarray | None = None) -> None:
    """A file as BrainFlow's ``DataFilter.write_file`` writes one (the OpenBCI GUI's
    ``BrainFlow-RAW_….csv``): no header, tab-separated, the board's columns — sample
    counter, EXG, accelerometer (zeros between readings), the board's others, the
    computer's clock at each packet's arrival (bursts of ~6 samples), the marker."""
    n = emg.shape[0]
    marker = np.zeros(n) if marker is None else marker
    accel = np.zeros((n, 3))
    accel[::10] = (0.02, -0.01, 1.0)
    clock = 1765100000.0 + (np.arange(n) // 6) * 6 / fs + 0.003
    rows = np.column_stack([(np.arange(n) * step) % 256, emg, accel, np.zeros((n, others)),
                            clock, marker])
    np.savetxt(path, rows, delimiter="\t", fmt="%.6f")


def test_a_brainflow_file_of_the_openbci_gui(tmp_path: Path) -> None:
    """BrainFlow's rows (the OpenBCI GUI's default format since GUI 5): a Cyton's,
    a Daisy's and a Ganglion's known by their columns; EXG is the EMG at the board's rate
    its bursty clock gives; markers become annotations; samples lost on the radio are a
    gap; a clock that fits none of the board's rates is one clear error; a headerless
    table of as many columns without such a clock is no BrainFlow file."""
    rng = np.random.default_rng(9)
    fs = 250.0
    emg = rng.normal(0.0, 20.0, (15000, 8))
    emg[5000:7500, 3] *= 10.0  # a contraction under channel 3
    emg = emg.round(6)
    marker = np.zeros(15000)
    marker[5000:5001] = 1.0
    path = tmp_path / "BrainFlow-RAW_2026-12-07_11-00-00_0.csv"
    _brainflow_raw(path, emg, fs, marker=marker)
    got = load_foreign(path)
    stream = got.streams["emg"]
    assert stream.fs == fs and stream.unit == "uV" and stream.n == 15000
    assert stream.channels == tuple(f"EXG Channel {k}" for k in range(8))
    assert np.array_equal(stream.data, emg)
    assert got.meta["device"] == "OpenBCI Cyton" and "250 Hz (Cyton)" in got.meta["rate_from"]
    assert [(a.onset, a.text) for a in got.annotations] == [(20.0, "marker 1")]
    assert "Timestamp" in got.meta["not_emg"]
    result = replay(path)
    assert result.metrics()["onsets"] >= 1 and result.file_s == 60.0
    lost = tmp_path / "lost.csv"  # renamed, and two samples lost on the radio
    _brainflow_raw(lost, emg, fs)
    lines = lost.read_text().splitlines()
    lost.write_text("\n".join(lines[:300] + lines[302:]) + "\n")
    got = load_foreign(lost)
    assert got.streams["emg"].gaps == ((300, 2),) and got.streams["emg"].n == 15000
    daisy = tmp_path / "BrainFlow-RAW_daisy.csv"
    _brainflow_raw(daisy, rng.normal(0.0, 20.0, (3000, 16)), 125.0, step=2)
    got = load_foreign(daisy)
    assert got.streams["emg"].fs == 125.0 and len(got.streams["emg"].channels) == 16
    assert got.meta["device"] == "OpenBCI Cyton + Daisy"
    ganglion = tmp_path / "BrainFlow-RAW_ganglion.csv"
    _brainflow_raw(ganglion, rng.normal(0.0, 20.0, (4000, 4)), 200.0, others=5)
    got = load_foreign(ganglion)
    assert got.streams["emg"].fs == 200.0 and len(got.streams["emg"].channels) == 4
    odd = tmp_path / "BrainFlow-RAW_odd.csv"
    _brainflow_raw(odd, emg[:4000], 400.0)
    with pytest.raises(RecordingError, match=r"a BrainFlow file of a Cyton, whose timestamps "
                       r"say 400\.\d samples a second, none of the board's rates"):
        load_foreign(odd)
    plain = tmp_path / "plain.tsv"  # 24 columns, a counter, but no clock: not BrainFlow
    np.savetxt(plain, np.column_stack([np.arange(2000) % 256, rng.normal(size=(2000, 23))]),
               delimiter="\t", fmt="%.6f")
    got = load_foreign(plain, fs=250.0)  # a table of numbers as any other
    assert "device" not in got.meta and got.streams["emg"].fs == 250.0


def _shimmer_export(path: Path, emg: np.ndarray, fs: float, *, sep: str = "\t",
                    lost: tuple[int, int] | None = None) -> None:
    """A file as Shimmer's Consensys exports one: a ``"sep=…"`` line for spreadsheets, the
    columns ``Shimmer_<id>_<signal>_CAL``, a row of ``CAL``, a row of units, then rows
    (with a separator after the last cell): the device clock as Unix ms, the
    accelerometer in m/s², the gyroscope in deg/s, the EXG chip's status byte and two
    channels in mV, the battery, the clock formatted as text."""
    n = emg.shape[0]
    names = ["Timestamp_Unix", "Accel_LN_X", "Accel_LN_Y", "Accel_LN_Z", "Gyro_X", "Gyro_Y",
             "Gyro_Z", "EXG1_Status", "EXG1_CH1_24BIT", "EXG1_CH2_24BIT", "Battery",
             "Timestamp_FormattedUnix"]
    units = ["ms", "m/(s^2)", "m/(s^2)", "m/(s^2)", "deg/s", "deg/s", "deg/s", "no units",
             "mV", "mV", "mV", "no units"]
    rows = np.arange(n)
    if lost is not None:  # samples the radio lost: the clock skips them
        rows = np.concatenate([rows[: lost[0]], rows[lost[0] + lost[1]:]])
    lines = [f'"sep={sep}"', sep.join(f"Shimmer_8E3A_{c}_CAL" for c in names) + sep,
             sep.join("CAL" for _ in names) + sep, sep.join(units) + sep]
    for i in rows:
        t = 1765100000000.0 + i * 1000.0 / fs
        cells = [f"{t:.3f}", "0.196133", "-0.098067", "9.80665", "1.5", "-0.5", "0.25", "0",
                 f"{emg[i, 0]:.6f}", f"{emg[i, 1]:.6f}", "3712.0", "2026/12/07 11:00:00.000"]
        lines.append(sep.join(cells) + sep)
    path.write_text("\n".join(lines) + "\n")


def test_a_shimmer_export(tmp_path: Path) -> None:
    """A Shimmer3 EXG's export (Consensys): the EXG channels are the EMG in mV at the rate
    of the device's own clock; lost samples are gaps; the accelerometer (m/s² → g) and
    the gyroscope are the motion sensor; the status byte, the battery and the formatted
    time are named as left out; tab- or comma-separated, .csv or .txt."""
    fs = 1024.0
    rng = np.random.default_rng(12)
    emg = rng.normal(0.0, 0.01, (30720, 2))
    emg[10240:15360, 0] *= 10.0  # a contraction under channel 1
    emg = emg.round(6)
    path = tmp_path / "2026-12-07_11.00.00_EMG_Session1_Shimmer_8E3A_Calibrated_SD.csv"
    _shimmer_export(path, emg, fs)
    got = load_foreign(path)
    stream = got.streams["emg"]
    assert stream.fs == fs and stream.unit == "mV"
    assert stream.channels == ("EXG1_CH1_24BIT", "EXG1_CH2_24BIT")
    assert np.array_equal(stream.data, emg)
    assert np.allclose(got.streams["accel"].data[0], [0.02, -0.01, 1.0])
    assert np.array_equal(got.streams["gyro"].data[0], [1.5, -0.5, 0.25])
    assert got.meta["device"] == "Shimmer 8E3A"
    assert got.meta["not_emg"] == ["EXG1_Status", "Battery",
                                   "Shimmer_8E3A_Timestamp_FormattedUnix_CAL"]
    result = replay(path)
    assert result.metrics()["onsets"] == 1 and result.file_s == 30.0
    onset = next(e for e in result.events if e.type == "onset")
    assert 9.9 < onset.t < 10.1  # (the contraction starts at 10 s)
    gapped = tmp_path / "gapped.txt"
    _shimmer_export(gapped, emg, fs, sep=",", lost=(5000, 3))
    got = load_foreign(gapped)
    assert got.streams["emg"].gaps == ((5000, 3),) and got.streams["emg"].n == 30720
    assert np.array_equal(got.streams["emg"].data[5003:], emg[5003:])
    with pytest.raises(RecordingError, match=r"--fs 500 contradicts the file's own EMG rate "
                       r"\(1024 Hz\)"):
        load_foreign(path, fs=500.0)
    empty = tmp_path / "empty.csv"  # an export stopped before its first row
    empty.write_text("\n".join(path.read_text().splitlines()[:4]) + "\n")
    with pytest.raises(RecordingError, match=r"empty\.csv: a Shimmer export without data rows"):
        load_foreign(empty)


@pytest.mark.parametrize(("name", "origin", "per_s", "decimals"), [
    ("millis", 81234.0, 1000.0, 3),  # an Arduino sketch's clock since its reset
    ("timestamp", 1765100000000.0, 1000.0, 3),  # a phone's log: Unix time in ms
    ("timestamp", 1765100000000000.0, 1e6, 0),  # Unix time in whole µs
    ("timestamp", 1765100000.0, 1.0, 6),  # Unix time in s, to the µs
])
def test_a_loggers_clock_is_a_time_column(tmp_path: Path, name: str, origin: float,
                                          per_s: float, decimals: int) -> None:
    """A logger's clock: Arduino's ``millis``, Unix time in ms or µs under a plain
    ``timestamp`` (read by its size: seconds since 1970 that large would be after the
    year 33 000), written to the µs, with 3 samples lost at 1024 Hz: the rate
    and the gap come out whole (with the clock's 16 significant digits read as they are,
    the loss passed for rounding and every later sample was ~3 ms early)."""
    fs = 1024.0
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, 10240).round(6)
    rows = np.concatenate([np.arange(4000), np.arange(4003, 10240)])
    path = tmp_path / "log.csv"
    lines = [f"{name},emg"] + [f"{origin + i * per_s / fs:.{decimals}f},{x[i]}" for i in rows]
    path.write_text("\n".join(lines) + "\n")
    got = load_foreign(path)
    stream = got.streams["emg"]
    assert stream.fs == fs and stream.gaps == ((4000, 3),) and stream.n == 10240
    assert np.array_equal(stream.data[4003:, 0], x[4003:])
    assert got.meta["time_origin_s"] == pytest.approx(origin / per_s)
    assert ("time_unit" in got.meta) == (name == "timestamp" and per_s > 1.0)


def _brainvision(folder: Path, stem: str, data: np.ndarray, fs: float, names: list[str],
                 *, fmt: str = "INT_16", resolution: float = 0.1, vectorized: bool = False,
                 markers: tuple[tuple[str, str, int], ...] = ()) -> Path:
    """A BrainVision recording as Brain Products' Recorder writes one: the ``.vhdr``
    header (Latin-1, µ as one byte), the binary ``.eeg`` in ``fmt`` (values over their
    ``resolution``), the ``.vmrk`` with a ``New Segment`` and ``markers``."""
    header = folder / f"{stem}.vhdr"
    kind = {"INT_16": "<i2", "IEEE_FLOAT_32": "<f4"}[fmt]
    raw = data / resolution if fmt == "INT_16" else data
    raw = np.rint(raw).astype(kind) if fmt == "INT_16" else raw.astype(kind)
    (raw.T if vectorized else raw).tofile(folder / f"{stem}.eeg")
    lines = ["Brain Vision Data Exchange Header File Version 1.0",
             "; Data created by the Vision Recorder", "", "[Common Infos]",
             f"DataFile={stem}.eeg",
             f"MarkerFile={stem}.vmrk", "DataFormat=BINARY",
             f"DataOrientation={'VECTORIZED' if vectorized else 'MULTIPLEXED'}",
             f"NumberOfChannels={len(names)}", f"SamplingInterval={1e6 / fs:g}", "",
             "[Binary Infos]", f"BinaryFormat={fmt}", "", "[Channel Infos]",
             "; Each entry: Ch<Channel number>=<Name>,<Reference channel name>,",
             "; <Resolution in \"Unit\">,<Unit>, Future extensions.."]
    lines += [f"Ch{k + 1}={n},,{resolution if fmt == 'INT_16' else 1},\xb5V"
              for k, n in enumerate(names)]
    lines += ["", "[Comment]", "", "A m p l i f i e r  S e t u p", "Ch1=odd=text"]
    header.write_bytes("\r\n".join(lines).encode("latin-1"))
    mk = ["Brain Vision Data Exchange Marker File, Version 1.0", "", "[Marker Infos]",
          "Mk1=New Segment,,1,1,0,20261207110000000000"]
    mk += [f"Mk{k + 2}={t},{d},{p},1,0" for k, (t, d, p) in enumerate(markers)]
    (folder / f"{stem}.vmrk").write_bytes("\r\n".join(mk).encode("latin-1"))
    return header


def test_a_brainvision_recording(tmp_path: Path) -> None:
    """BrainVision (a BrainAmp ExG's, a BIDS dataset's): the EMG channels by name, the rest
    (ECG, an EEG cap's) named as left out; int16 times its resolution, µV; markers as
    annotations at their samples; a vectorised float file alike; a BIDS channels.tsv's
    types decide; a data file cut short, a text (ASCII) one and a header without the sample
    type are clear errors."""
    fs = 1000.0
    rng = np.random.default_rng(21)
    data = rng.normal(0.0, 20.0, (30000, 4)).round(1)
    data[10000:15000, 1] *= 8.0
    data = data.round(1)
    names = ["Fp1", "EMG_TA", "ECG", "EMG_GM"]
    header = _brainvision(tmp_path, "sub-01_task-pir_emg", data, fs, names,
                          markers=(("Stimulus", "S  1", 10001), ("Comment", "hold", 15001)))
    got = load_foreign(header)
    stream = got.streams["emg"]
    assert stream.fs == fs and stream.unit == "uV" and stream.channels == ("EMG_TA", "EMG_GM")
    assert np.allclose(stream.data, data[:, [1, 3]], atol=1e-9)
    assert [(a.onset, a.text) for a in got.annotations] == [(10.0, "S  1"), (15.0, "hold")]
    assert got.meta["not_emg"] == ["Fp1", "ECG"]
    result = replay(header)
    onsets = [e.t for e in result.events if e.type == "onset"]
    assert len(onsets) == 1 and 9.9 < onsets[0] < 10.1
    vec = _brainvision(tmp_path, "vec", data, fs, ["TA", "GM", "ECG", "GL"],
                       fmt="IEEE_FLOAT_32", vectorized=True)
    got = load_foreign(vec)  # no channel says EMG: all but the ECG
    assert got.streams["emg"].channels == ("TA", "GM", "GL")
    assert np.allclose(got.streams["emg"].data, data[:, [0, 1, 3]], atol=1e-3)
    (tmp_path / "sub-01_task-pir_channels.tsv").write_text(
        "name\ttype\tunits\nFp1\tMISC\tuV\nEMG_TA\tEMG\tuV\nECG\tECG\tuV\nEMG_GM\tMISC\tuV\n")
    assert load_foreign(header).streams["emg"].channels == ("EMG_TA",)  # BIDS decides
    eeg = tmp_path / "sub-01_task-pir_emg.eeg"
    eeg.write_bytes(eeg.read_bytes()[:1])
    with pytest.raises(RecordingError, match=r"no samples"):
        load_foreign(header)
    text = tmp_path / "vec.vhdr"
    text.write_bytes(text.read_bytes().replace(b"DataFormat=BINARY", b"DataFormat=ASCII"))
    with pytest.raises(RecordingError, match=r"its data as ASCII text; export it as binary"):
        load_foreign(text)
    bare = tmp_path / "bare.vhdr"
    bare.write_bytes(b"\n".join(line for line in text.read_bytes().split(b"\n")
                                if not line.startswith(b"BinaryFormat="))
                     .replace(b"DataFormat=ASCII", b"DataFormat=BINARY"))
    with pytest.raises(RecordingError, match=r"no BinaryFormat line in \[Binary Infos\]"):
        load_foreign(bare)


def _c3d_trial(path: Path, analog: np.ndarray, fs: float, labels: list[str],
               units: list[str], events: list[tuple[str, str, float]], start: int = 1) -> None:
    """A motion-capture trial as a C3D file (written with the c3d package, as Vicon's and
    Qualisys' exports lay one out): two markers at 100 Hz, the analog channels at ``fs``
    (force plate and EMG), their units, the trial's events as (context, label, seconds
    from the capture's start), the first frame ``start``."""
    import c3d

    per = int(fs / 100.0)
    writer = c3d.Writer(point_rate=100.0, analog_rate=fs)
    writer.set_start_frame(start)
    writer.add_frames([(np.zeros((2, 5), dtype=np.float32),
                        analog[f * per:(f + 1) * per].T.astype(np.float32))
                       for f in range(analog.shape[0] // per)])
    writer.set_point_labels(["LANK", "RANK"])
    writer.set_analog_labels(labels)
    width = max(len(u) for u in units)
    writer.analog_group.add_str("UNITS", "units", "".join(u.ljust(width) for u in units),
                                width, len(units))
    if events:
        group = writer.add_group(30, "EVENT", "events")
        group.add("USED", "events", 2, "<h", len(events))
        width = max(len(e[1]) for e in events)
        group.add_str("LABELS", "", "".join(e[1].ljust(width) for e in events), width,
                      len(events))
        group.add_str("CONTEXTS", "", "".join(e[0].ljust(5) for e in events), 5, len(events))
        group.add_array("TIMES", "", np.array([[t // 60.0, t % 60.0] for *_, t in events],
                                              dtype=np.float32))
    with path.open("wb") as handle:
        writer.write(handle)


def test_a_c3d_trial(tmp_path: Path) -> None:
    """A C3D file: the analog channels that say EMG are the EMG at the analog rate in their
    units, the force plate's left out and named; the trial's events are annotations from
    its first frame; without a channel named EMG every analog channel but the force
    plate's; a damaged file is one clear error."""
    fs = 1000.0
    rng = np.random.default_rng(31)
    emg = rng.normal(0.0, 1e-5, (20000, 2))
    emg[8000:12000, 0] *= 10.0
    force = np.column_stack([np.zeros(20000), np.zeros(20000), np.full(20000, 700.0)])
    analog = np.column_stack([force, emg])
    path = tmp_path / "Trial01.c3d"
    _c3d_trial(path, analog, fs, ["Fx1", "Fy1", "Fz1", "EMG TA", "EMG GM"],
               ["N", "N", "N", "V", "V"], [("Left", "Foot Strike", 9.0)], start=101)
    got = load_foreign(path)
    stream = got.streams["emg"]
    assert stream.fs == fs and stream.unit == "V" and stream.channels == ("EMG TA", "EMG GM")
    assert np.allclose(stream.data, emg.astype(np.float32), rtol=0, atol=1e-12)
    assert got.meta["not_emg"] == ["Fx1", "Fy1", "Fz1"]
    assert [(round(a.onset, 3), a.text) for a in got.annotations] == [(8.0, "Left Foot Strike")]
    onsets = [e.t for e in replay(path).events if e.type == "onset"]
    assert len(onsets) == 1 and 7.9 < onsets[0] < 8.1
    plain = tmp_path / "plain.c3d"
    _c3d_trial(plain, analog, fs, ["Fx1", "Fy1", "Fz1", "TA", "GM"], ["N", "N", "N", "V", "V"],
               [])
    assert load_foreign(plain).streams["emg"].channels == ("TA", "GM")
    damaged = tmp_path / "damaged.c3d"
    damaged.write_bytes(path.read_bytes()[:700])
    with pytest.raises(RecordingError, match=r"damaged\.c3d: not a readable C3D file|no analog"):
        load_foreign(damaged)
