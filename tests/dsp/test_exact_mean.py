"""``exact.mean`` (numpy's mean without its Python wrapper, for the block ends of the
detectors and the IMU chain) gives the bits of ``ndarray.mean`` on every shape and scale
they see: whole arrays, columns, long pairwise-summed blocks, huge and tiny values."""

from __future__ import annotations

import numpy as np

from isofeedback.dsp.exact import mean


def test_mean_is_numpys_mean_to_the_bit() -> None:
    rng = np.random.default_rng(1)
    for t in range(2000):
        n = int(rng.choice([1, 2, 7, 8, 9, 50, 127, 128, 129, 500, 4000]))
        c = int(rng.integers(1, 9))
        x = rng.standard_normal((n, c)) * 10.0 ** rng.integers(-12, 12, (n, c))
        if t % 7 == 0:
            x = np.asfortranarray(x)  # a column-major block: numpy sums it in its own order
        flat = x[:, 0].copy()
        for got, want in ((mean(flat), flat.mean()), (mean(x), x.mean()),
                          (mean(x, axis=0), x.mean(axis=0))):
            assert np.asarray(got).tobytes() == np.asarray(want).tobytes()


def test_norm3_is_norm_to_the_bit() -> None:
    """The movement detector measures each sample's turn with norm3 on Python floats
    while the joint moves, and its still-hold check with norm on arrays: the same bits."""
    from isofeedback.dsp.exact import norm, norm3

    rng = np.random.default_rng(2)
    v = rng.standard_normal((20000, 3)) * 10.0 ** rng.integers(-150, 150, (20000, 3))
    v[::97] = -0.0
    for x, y, z in v.tolist():
        assert norm3(x, y, z) == norm(np.array([x, y, z]))
