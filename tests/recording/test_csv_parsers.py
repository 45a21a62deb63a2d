"""A CSV's numbers do not depend on which compiled reader parsed them.

Large files go through pandas' reader (much faster than numpy's), small ones through
numpy's; a researcher's results must be the same bits either way, and a file that one
reader refuses must be refused (and named) the same way by the other."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from isofeedback.errors import RecordingError
from isofeedback.recording import importers
from isofeedback.recording.importers import _pandas_reader, _parse_numbers, load_csv
from isofeedback.recording.plain_numbers import parse_plain

read_csv = _pandas_reader()
needs_pandas = pytest.mark.skipif(read_csv is None, reason="pandas 3.1+ not installed")

#: numbers whose correctly rounded double a careless parser misses (halfway cases,
#: subnormals, long mantissas, leading zeros, the largest double)
TRICKY = ["0.00000000000001953", "2.2250738585072011e-308", "9007199254740993",
          "1e23", "8.98846567431158e307", "4.9406564584124654e-324",
          "2.4703282292062328e-324", "0.30000000000000004", "7.038531e-26",
          "1.00000000000000011102230246251565404236316680908203125",
          "1.00000000000000011102230246251565404236316680908203126",
          "00000000000000000000.5", "-0.0", "1.7976931348623157e308", "+5", ".5", "5.",
          "123456789012345678901234567890", " 2.5", "3.25 "]


def parse(text: str, reader: object | None) -> np.ndarray:
    return _parse_numbers(io.StringIO(text), ",", reader)


@needs_pandas
def test_both_readers_give_float_bits_on_tricky_numbers() -> None:
    text = "".join(f"{t},1\n" for t in TRICKY)
    expected = np.array([[float(t), 1.0] for t in TRICKY])
    for reader in (None, read_csv):
        got = parse(text, reader)
        assert got.tobytes() == expected.tobytes(), reader


@needs_pandas
def test_both_readers_agree_on_random_doubles_to_the_bit() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((20_000, 4)) * 10.0 ** rng.integers(-300, 300, (20_000, 4))
    for fmt in ("%.17g", "%.6g", "%.3f"):
        buf = io.StringIO()
        np.savetxt(buf, x, delimiter=",", fmt=fmt)
        text = buf.getvalue()
        expected = np.array([[float(c) for c in line.split(",")]
                             for line in text.splitlines()])
        assert parse(text, None).tobytes() == expected.tobytes()
        assert parse(text, read_csv).tobytes() == expected.tobytes()


@needs_pandas
@pytest.mark.parametrize("bad", ["1,\n3,4\n", "1,2,5\n3,4\n", "1,2\n3\n", "1,abc\n",
                                 "1,2e\n", "1,0x10\n", "1;5,2\n", ""])
def test_both_readers_refuse_the_same_rows(bad: str) -> None:
    for reader in (None, read_csv):
        with pytest.raises(ValueError):
            got = parse(bad, reader)
            if got.size == 0 or got.shape[1] != 2:  # the caller's shape check
                raise ValueError("shape")


@needs_pandas
@pytest.mark.parametrize("sep", [",", ";"])
def test_a_large_file_read_with_pandas_gives_the_small_path_s_signals(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sep: str) -> None:
    """Both readers, decimal points (``,`` between cells) and decimal commas (``;``)."""
    rng = np.random.default_rng(9)
    t = np.arange(4000) / 1000.0
    x = rng.standard_normal((4000, 3)) * 123.456
    path = tmp_path / "emg.csv"
    np.savetxt(path, np.column_stack([t, x]), delimiter=sep, fmt="%.17g",
               header=sep.join(["t", "emg1", "emg2", "emg3"]), comments="")
    if sep == ";":
        path.write_text(path.read_text().replace(".", ","))
    used: list[bool] = []

    def spy(f: object, sep: str, reader: object | None, comma: bool = False,
            blank_rows: bool = False) -> np.ndarray:
        used.append(reader is not None)
        return _parse_numbers(f, sep, reader, comma, blank_rows)

    monkeypatch.setattr(importers, "_parse_numbers", spy)
    monkeypatch.setattr(importers, "PANDAS_FROM_BYTES", 10**12)
    monkeypatch.delitem(__import__("sys").modules, "pandas", raising=False)
    small = load_csv(path)
    monkeypatch.setattr(importers, "PANDAS_FROM_BYTES", 1)
    large = load_csv(path)
    assert used == [False, True]
    assert small.streams["emg"].data.tobytes() == large.streams["emg"].data.tobytes()
    assert large.streams["emg"].data.tobytes() == np.ascontiguousarray(x).tobytes()


@needs_pandas
def test_a_missing_cell_in_a_large_file_is_read_as_in_a_small_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty or NaN EMG cell is a missing sample (a gap) by either reader; a missing
    time is named by its line."""
    path = tmp_path / "emg.csv"
    for cell in ("", "nan", "NA"):
        path.write_text(f"t,emg1\n0,1\n0.001,{cell}\n0.002,3\n")
        for large in (10**12, 1):
            monkeypatch.setattr(importers, "PANDAS_FROM_BYTES", large)
            emg = load_csv(path).streams["emg"]
            assert emg.gaps == ((1, 1),) and emg.data[[0, 2], 0].tolist() == [1.0, 3.0]
    monkeypatch.setattr(importers, "PANDAS_FROM_BYTES", 1)
    path.write_text("t,emg1\n0,1\n,2\n0.002,3\n")
    with pytest.raises(RecordingError, match=r"line 3, column 't': the time is missing \(''\)"):
        load_csv(path)
    path.write_text("t,emg1\n0,1\n0.001,x\n0.002,3\n")
    with pytest.raises(RecordingError, match="line 3: non-numeric value"):
        load_csv(path)


@needs_pandas
@pytest.mark.parametrize(("version", "used"), [("3.1.1", True), ("4.0rc0", True),
                                               ("2.2.3", False), ("unknown", False)])
def test_pandas_is_used_from_3_1_whatever_its_version_string(
        version: str, used: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Older pandas rounds some numbers differently; a pre-release name is no error."""
    import pandas

    monkeypatch.setattr(pandas, "__version__", version)
    assert (_pandas_reader() is not None) is used


# -- plain decimals in bulk (parse_plain): the bits of float(), or declined ---------------

def plain_cells(rng: np.random.Generator, n: int, max_digits: int,
                exponents: bool = False) -> list[str]:
    """Decimals of every shape parse_plain reads: signs, leading zeros, a point first,
    last or absent, up to ``max_digits`` digits, with ``exponents`` an exponent in some
    (e or E, a sign or none, 1-3 digits)."""
    cells = []
    for _ in range(n):
        digits = "".join(map(str, rng.integers(0, 10, rng.integers(1, max_digits + 1))))
        point = int(rng.integers(0, len(digits) + 1))
        text = digits if rng.random() < 0.2 else f"{digits[:point]}.{digits[point:]}"
        if exponents and rng.random() < 0.5:
            power = int(rng.integers(0, 10 if rng.random() < 0.8 else 400))
            text += f"{rng.choice(['e', 'E'])}{rng.choice(['', '-', '+'])}{power}"
        cells.append(str(rng.choice(["", "-", "+"], p=[0.45, 0.45, 0.1])) + text)
    return cells


def float_rows(cells: list[str], columns: int) -> tuple[str, np.ndarray]:
    rows = [cells[i : i + columns] for i in range(0, len(cells), columns)]
    text = "".join(",".join(r) + "\n" for r in rows)
    return text, np.array([[float(c) for c in r] for r in rows])


@pytest.mark.parametrize("columns", [1, 3, 19])
def test_plain_decimals_in_bulk_are_float_s_bits(columns: int) -> None:
    """~200 kB (several of parse_plain's blocks), every cell with at most 15 digits (so
    below 2**53: none may be declined)."""
    cells = plain_cells(np.random.default_rng(columns), 20_000 // columns * columns, 15)
    cells += [f"{c}e-{k % 7}" for c, k in zip(cells[:columns], range(columns), strict=True)]
    text, expected = float_rows(cells, columns)
    for ending in ("\n", "\r\n"):
        got = parse_plain(text.replace("\n", ending), ",")
        assert got is not None
        assert got.tobytes() == expected.tobytes()
        assert got.shape == expected.shape
    # the last row without its line end; a semicolon between cells
    assert parse_plain(text[:-1], ",").tobytes() == expected.tobytes()  # type: ignore[union-attr]
    assert parse_plain(text.replace(",", ";"), ";").tobytes() == expected.tobytes()  # type: ignore[union-attr]


def test_long_plain_decimals_are_float_s_bits_or_declined() -> None:
    """16-22 digits: exact below 2**53, declined from it on, never a different double."""
    rng = np.random.default_rng(11)
    accepted = 0
    edges = ["9007199254740991", "9007199254740992", "9007199254740993",
             "0.9007199254740993", "1234567890123456789012"]
    for cell in [*plain_cells(rng, 3000, 22), *plain_cells(rng, 3000, 18, True), *edges,
                 "1e22", "1e23", "1e-22", "1e-23", "1.5e-21", "12e21", "0e-30"]:
        got = parse_plain(f"{cell},1\n", ",")
        if got is not None:
            accepted += 1
            assert got.tobytes() == np.array([[float(cell), 1.0]]).tobytes(), cell
    assert accepted > 3000
    assert parse_plain("9007199254740991\n", ",") is not None
    assert parse_plain("9007199254740992\n", ",") is None


@pytest.mark.parametrize("text", [
    "1e,1\n", "1e-,1\n", "e5,1\n", "1e5e5,1\n", "1e5.0,1\n", "1e1.5,1\n", "1e-5-,1\n", "1e1000,1\n",
    "1-e5,1\n", "1e--5,1\n", "+-1,2\n", " 1,2\n", "1 ,2\n", "1+,2\n", "1,,2\n", "1,2,\n",
    ",1,2\n",
    "1,2\n\n3,4\n", "1.2.3,4\n", "1-2,3\n", "-,3\n", ".,3\n", "--1,3\n", "1,2\n3\n",
    "1,2\n3,4,5\n", "1\r2,3\n", "1\r,2\r\n", "1,2\r\n3,4\n", "1,2\n3,4\r\n", "nan,1\n",
    "inf,1\n", "0x10,1\n", "1,\"2\"\n", "1,µ\n",
    "1.00000000000000000000000,1\n", "", "\n"])
def test_anything_but_plain_rows_is_declined(text: str) -> None:
    assert parse_plain(text, ",") is None


def test_a_csv_of_plain_decimals_reads_as_numpy_s_reader_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sample recording's CSV export (what replay_cpu.py measures), the same with a
    quaternion's -1/16384 (printed with an exponent), and with a space in one cell (numpy's
    reader for all of it), through load_csv with and without the bulk path."""
    from isofeedback.recording.export import export_recording
    from isofeedback.recording.reader import RecordingReader

    path = tmp_path / "myo.csv"
    with RecordingReader(Path(__file__).resolve().parents[2] / "recordings"
                         / "myo-pir-sim.isorec") as reader:
        export_recording(reader, path, "csv")
    lines = path.read_text().splitlines(keepends=True)
    assert lines[5].endswith(",0.0,0.0\n")  # quat_y, quat_z
    paths = [path, tmp_path / "tiny.csv", tmp_path / "space.csv"]
    for changed, (old, new) in zip(paths[1:], [(",0.0,0.0\n", ",-6.103515625e-05,0.0\n"),
                                               (",0.0,0.0\n", ", 0.0,0.0\n")], strict=True):
        changed.write_text("".join([*lines[:5], lines[5].replace(old, new), *lines[6:]]))
    used: list[bool] = []

    def spy(text: str, sep: str) -> np.ndarray | None:
        got = parse_plain(text, sep)
        used.append(got is not None)
        return got

    monkeypatch.setattr(importers, "parse_plain", spy)
    monkeypatch.setattr(importers, "PANDAS_FROM_BYTES", 10**12)  # numpy's side, not pandas'
    monkeypatch.delitem(__import__("sys").modules, "pandas", raising=False)
    bulk = [load_csv(p) for p in paths]
    monkeypatch.setattr(importers, "parse_plain", lambda text, sep: None)
    numpy_s = [load_csv(p) for p in paths]
    assert used == [True, True, False]
    assert bulk[1].streams["quat"].data[4, 2] == -1 / 16384
    for a, b in zip(bulk, numpy_s, strict=True):
        assert a.streams.keys() == b.streams.keys()
        for name, stream in a.streams.items():
            assert stream.data.tobytes() == b.streams[name].data.tobytes()
            assert stream.fs == b.streams[name].fs


@pytest.mark.parametrize("large", [10**12, 1])
def test_a_file_cut_mid_line_keeps_its_whole_rows(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   large: int) -> None:
    """A logger that crashed or a full disk cuts the last line short: the whole rows
    before it are read and the cut is said (the file was refused: "line N has 2 values,
    the header 3"), by either reader."""
    monkeypatch.setattr(importers, "PANDAS_FROM_BYTES", large)
    rows = "".join(f"{i / 1000:.3f},{np.sin(i):.4f},{np.cos(i):.4f}\n" for i in range(300))
    path = tmp_path / "cut.csv"
    path.write_text("t,emg1,emg2\n" + rows + "0.300,0.12")
    signals = importers.load_foreign(path)
    assert signals.streams["emg"].n == 300 and signals.streams["emg"].gaps == ()
    assert signals.meta["damage"].startswith("its last line (302) is cut short (2 of 3 values")
