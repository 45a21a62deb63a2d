"""``weighted_columns`` on a few rows (a live 2-sample chunk, summed in Python floats)
gives the bits of the numpy column-by-column sum it stands for."""

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
