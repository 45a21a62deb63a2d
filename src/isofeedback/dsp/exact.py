"""Sums of products in a fixed order, without BLAS: the same last bit on every CPU.

numpy hands ``@``, ``np.dot`` and ``np.linalg.norm`` of a vector to its BLAS library,
which picks a kernel for the processor it runs on (AVX-512, AVX2, SSE, …). Each kernel
adds the products in its own order, so the last bits of a result depend on the machine.
Replay promises the same events as the live run on any machine: a sample recording made
on one CPU failed ``replay --verify`` on another by 4 ulp in a calibration baseline (an
8-channel fusion done with ``@``). The data path therefore uses these helpers: element-wise
ufuncs (each one IEEE rounding) accumulated in channel order, and numpy's own pairwise
``add.reduce``, whose order is fixed in numpy itself rather than chosen per CPU.

>>> import numpy as np
>>> x = np.array([[1.0, 2.0], [3.0, 4.0]])
>>> weighted_columns(x, np.array([0.5, 0.25])).tolist()
[1.0, 2.5]
>>> dot(np.array([3.0, 4.0]), np.array([3.0, 4.0])), norm(np.array([3.0, 4.0]))
(25.0, 5.0)
>>> row_norms(np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0]])).tolist()
[5.0, 2.0]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from isofeedback.types import FloatArray

__all__ = ["FEW_ROWS", "dot", "mean", "norm", "norm3", "row_norms", "weighted_columns",
           "weighted_rows"]


#: up to this many rows, :func:`weighted_columns` sums in Python floats (the same IEEE
#: products and sums, in the same order) instead of paying 2·c numpy calls per chunk; the
#: live stages take chunks this small the same way (a Myo packet is 2 rows)
FEW_ROWS = 8


def mean(x: FloatArray, axis: int | None = None) -> Any:
    """``x.mean(axis)`` of a non-empty float64 array by numpy's own arithmetic (its
    pairwise ``add.reduce``, then one division by the count: the same doubles) without
    the Python wrapper around it, which costs more than the sum on a block of samples
    (the detectors' and the IMU chain's block ends take hundreds a second of replay).

    >>> x = np.array([[0.1, 0.2], [0.7, 0.4], [0.3, 0.3]])
    >>> bool(mean(x) == x.mean()), bool((mean(x, 0) == x.mean(axis=0)).all())
    (True, True)
    """
    return np.add.reduce(x, axis=axis) / (x.size if axis is None else x.shape[axis])


#: up to this many rows (and from 3 columns), :func:`weighted_columns` takes the products
#: in one call and sums them with ``add.accumulate`` along the row (strictly left to
#: right: each partial sum is an output, so no kernel can reorder it) — 2 numpy calls
#: instead of 2·c; above it the column loop is faster (measured on 8 columns: 20 rows
#: 13–18 → 5 µs, 100 rows 19 → 10 µs, 400 rows 21 → 26 µs)
ACCUMULATE_ROWS = 200


def weighted_columns(x: FloatArray, w: FloatArray) -> FloatArray:
    """``Σ_k x[:, k] · w[k]`` for an ``(n, c)`` array, summed in column order.

    >>> x = np.random.default_rng(1).standard_normal((300, 8))
    >>> w = np.linspace(0.1, 2.0, 8)
    >>> bool((weighted_columns(x[:150], w) == weighted_columns(x, w)[:150]).all())
    True
    """
    n, c = x.shape
    if n <= FEW_ROWS and x.dtype == np.float64 and w.dtype == np.float64:
        return np.array(weighted_rows(x.tolist(), w.tolist()), dtype=np.float64)
    if c >= 3 and n <= ACCUMULATE_ROWS:
        acc: FloatArray = np.add.accumulate(np.multiply(x, w), axis=1)
        return acc[:, -1]
    out: FloatArray = x[:, 0] * w[0]
    for k in range(1, x.shape[1]):
        out += x[:, k] * w[k]
    return out


def weighted_rows(rows: list[list[float]], ws: list[float]) -> list[float]:
    """:func:`weighted_columns` of a few rows given as Python floats (the same IEEE
    products and sums, in the same order), for callers that already hold them as lists.

    >>> weighted_rows([[1.0, 2.0], [3.0, 4.0]], [0.5, 0.25])
    [1.0, 2.5]
    """
    sums = []
    for row in rows:
        acc = row[0] * ws[0]
        for k in range(1, len(ws)):
            acc += row[k] * ws[k]
        sums.append(acc)
    return sums


def dot(a: FloatArray, b: FloatArray) -> float:
    """Inner product of two vectors (numpy's pairwise sum of the element products)."""
    return float(np.add.reduce(np.multiply(a, b), axis=None))


def norm(v: FloatArray) -> float:
    """Euclidean length of a vector."""
    return math.sqrt(dot(v, v))


def norm3(x: float, y: float, z: float) -> float:
    """:func:`norm` of a 3-vector given as Python floats, to the bit: the same squares,
    added left to right as numpy's pairwise sum adds three values (and as
    :func:`row_norms` adds columns), then IEEE's correctly rounded square root. For the
    live path's one-row IMU packets, where numpy's calls cost more than the arithmetic.

    >>> norm3(3.0, 4.0, 12.0) == norm(np.array([3.0, 4.0, 12.0])) == 13.0
    True
    """
    return math.sqrt(x * x + y * y + z * z)


def row_norms(x: FloatArray) -> FloatArray:
    """Euclidean length of each row of an ``(n, c)`` array, summed in column order."""
    out: FloatArray = x[:, 0] * x[:, 0]
    for k in range(1, x.shape[1]):
        out += x[:, k] * x[:, k]
    return np.sqrt(out)
