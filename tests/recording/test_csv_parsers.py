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
def test_a_large_file_read_with_pandas_gives_the_small_path_s_signals(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    t = np.arange(4000) / 1000.0
    x = rng.standard_normal((4000, 3)) * 123.456
    path = tmp_path / "emg.csv"
    np.savetxt(path, np.column_stack([t, x]), delimiter=",", fmt="%.17g",
               header="t,emg1,emg2,emg3", comments="")
    used: list[bool] = []

    def spy(f: object, sep: str, reader: object | None) -> np.ndarray:
        used.append(reader is not None)
        return _parse_numbers(f, sep, reader)

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
def test_a_bad_cell_in_a_large_file_is_named_by_its_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importers, "PANDAS_FROM_BYTES", 1)
    path = tmp_path / "emg.csv"
    path.write_text("t,emg1\n0,1\n0.001,\n0.002,3\n")
    with pytest.raises(RecordingError, match="line 3: no value in column 'emg1'"):
        load_csv(path)
    path.write_text("t,emg1\n0,1\n0.001,nan\n0.002,3\n")
    with pytest.raises(RecordingError, match="line 3, column 'emg1': 'nan' is not a finite"):
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
