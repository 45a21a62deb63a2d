"""``weighted_columns`` on a few rows (a live 2-sample chunk, summed in Python floats) and
on a live chunk's rows (products in one call, ``add.accumulate`` along the row) gives the
bits of the numpy column-by-column sum it stands for."""

from __future__ import annotations

import numpy as np

from isofeedback.dsp.exact import weighted_columns


def _numpy_columns(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    out = x[:, 0] * w[0]
    for k in range(1, x.shape[1]):
        out += x[:, k] * w[k]
    return out


def test_few_rows_are_the_numpy_column_sum() -> None:
    rng = np.random.default_rng(0)
    for t in range(3000):
        n, c = int(rng.integers(0, 9)), int(rng.integers(1, 9))
        x = rng.standard_normal((n, c)) * 10.0 ** rng.integers(-8, 8, (n, c))
        w = rng.standard_normal(c) * 10.0 ** rng.integers(-8, 8, c)
        if t % 5 == 0 and n:
            x[0, 0] = -0.0  # the sign of a zero product survives too
        got, want = weighted_columns(x, w), _numpy_columns(x, w)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert got.tobytes() == want.tobytes()


def test_a_live_chunk_is_the_numpy_column_sum() -> None:
    """Up to ``ACCUMULATE_ROWS`` rows (a 10 ms chunk of 8 channels at 2 kHz is 20): the
    accumulated row sums are the column loop's, bit for bit, NaN, infinities and signed
    zeros included."""
    from isofeedback.dsp.exact import ACCUMULATE_ROWS

    rng = np.random.default_rng(1)
    for t in range(1500):
        n, c = int(rng.integers(9, ACCUMULATE_ROWS + 2)), int(rng.integers(1, 17))
        x = rng.standard_normal((n, c)) * 10.0 ** rng.integers(-150, 150, (n, c))
        w = rng.standard_normal(c) * 10.0 ** rng.integers(-150, 150, c)
        if t % 7 == 0:
            x[0, 0], x[1, -1], x[2, 0] = -0.0, np.inf, np.nan
        got, want = weighted_columns(x, w), _numpy_columns(x, w)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert got.tobytes() == want.tobytes(), (n, c)
