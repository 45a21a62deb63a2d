"""A recording's packets as columns (``RecordingReader.packet_windows``, ``PacketColumns``)
are the packets of its rows, one by one, and a replay's windows of any size cut from
them are too; an altered row is judged when the replay reaches it, not before."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from isofeedback.errors import RecordingError
from isofeedback.recording.reader import RecordingReader
from isofeedback.research.replay import _Windows
from isofeedback.types import Packet, PacketColumns

SAMPLE = Path(__file__).resolve().parents[2] / "recordings" / "myo-pir-sim.isorec"


def row_packets(path: Path) -> list[Packet]:
    """Each row's packet, read without the reader."""
    with sqlite3.connect(path) as con:
        names = {c: (d, ch) for c, d, ch in con.execute(
            "SELECT id, device, characteristic FROM channels")}
        return [Packet(*names[chan], data, t) for t, chan, data in con.execute(
            "SELECT t, chan, data FROM packets ORDER BY rowid")]


@pytest.mark.parametrize("batch", [1, 7, 2048])
def test_the_windows_hold_the_rows_packets(batch: int) -> None:
    expected = row_packets(SAMPLE)
    with RecordingReader(SAMPLE, batch) as reader:
        windows = list(reader.packet_windows())
        assert [p for w in windows for p in w] == expected
        assert list(reader.packets()) == expected
    assert all(isinstance(w, PacketColumns) and 0 < len(w) <= batch for w in windows)


def test_columns_are_a_sequence_of_their_packets() -> None:
    packets = row_packets(SAMPLE)[:50]
    columns = PacketColumns.of(packets)
    assert PacketColumns.of(columns) is columns
    assert len(columns) == 50 and list(columns) == packets
    assert columns[3] == packets[3] and columns[-1] == packets[-1]
    assert isinstance(columns[5:9], PacketColumns) and list(columns[5:9]) == packets[5:9]
    joined = PacketColumns.joined([columns[:20], columns[20:21], columns[21:]])
    assert list(joined) == packets


def test_windows_of_any_size_are_cut_from_the_reader_s() -> None:
    expected = row_packets(SAMPLE)
    sizes = [1, 5, 20, 3, 700, 6, 1000]
    with RecordingReader(SAMPLE, 7) as reader:
        windows = _Windows(reader.packet_windows())
        got: list[Packet] = []
        k = 0
        while (window := windows.take(sizes[k % len(sizes)])) is not None:
            assert len(window) == sizes[k % len(sizes)] or len(got) + len(window) == len(
                expected)
            got += window
            k += 1
    assert got == expected


def test_an_altered_row_ends_its_window_and_is_judged_when_reached(tmp_path: Path) -> None:
    path = tmp_path / "altered.isorec"
    shutil.copy(SAMPLE, path)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE packets SET data = 'text' WHERE rowid = 100")
    expected = row_packets(SAMPLE)[:99]
    with RecordingReader(path, 2048) as reader:
        windows = reader.packet_windows()
        assert list(next(windows)) == expected  # the rows before it, nothing said yet
        with pytest.raises(RecordingError, match="packets row 100 holds str data"):
            next(windows)
    with RecordingReader(path, 2048) as reader:
        taken = _Windows(reader.packet_windows())
        window = taken.take(99)
        assert window is not None and list(window) == expected
        with pytest.raises(RecordingError, match="packets row 100"):
            taken.take(1)
