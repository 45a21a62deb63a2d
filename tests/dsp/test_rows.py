"""``Rows`` (the rest calibration's samples gathered as they come) gives what joining the
pieces at the end gave, to the bit: values, dtype, C order, and so the median and mean
the calibration takes of them."""

from __future__ import annotations

import numpy as np
import pytest

from isofeedback.dsp.rows import Rows


def test_rows_are_the_joined_pieces_to_the_bit() -> None:
    rng = np.random.default_rng(3)
    for t in range(300):
        c = int(rng.integers(1, 9))
        sizes = rng.integers(0, 7, int(rng.integers(1, 60)))
        pieces = [rng.standard_normal((int(k), c)) ** 2 for k in sizes]
        if t % 3 == 0:  # the EMG chain's y² is column-major
            pieces = [np.asfortranarray(p) for p in pieces]
        rows = Rows(int(sizes.sum()) + int(rng.integers(0, 3)))
        for p in pieces:
            rows.add(p)
        want = np.vstack(pieces)
        got = rows.filled()
        assert got.dtype == want.dtype and got.flags.c_contiguous
        assert got.tobytes() == want.tobytes()
        assert np.median(got, axis=0).tobytes() == np.median(want, axis=0).tobytes()
        flat = [p[:, 0].copy() for p in pieces]
        rows1 = Rows(int(sizes.sum()))
        for f in flat:
            rows1.add(f)
        joined = np.concatenate(flat)
        assert rows1.full and rows1.filled().tobytes() == joined.tobytes()
        assert np.mean(rows1.filled()).tobytes() == np.mean(joined).tobytes()


def test_a_wider_dtype_promotes_as_concatenate_does() -> None:
    rows = Rows(3)
    rows.add(np.array([1.5], dtype=np.float32))
    rows.add(np.array([0.1, 0.2]))
    want = np.concatenate([np.array([1.5], dtype=np.float32), np.array([0.1, 0.2])])
    assert rows.filled().dtype == want.dtype and rows.filled().tobytes() == want.tobytes()


def test_more_rows_than_the_capacity_is_an_error() -> None:
    rows = Rows(2)
    rows.add(np.zeros(2))
    with pytest.raises(ValueError, match="capacity"):
        rows.add(np.zeros(1))
