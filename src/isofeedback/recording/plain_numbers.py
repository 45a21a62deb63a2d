"""Rows of plain decimal numbers (``-12.5,0.0,3``) as float64, parsed by numpy in bulk.

numpy's ``loadtxt`` spends ~200 ns a cell (most of a Myo CSV replay); this reads the same
rows in about half the time, by array operations over the text's bytes instead of a call
per cell, and gives the same doubles to the bit. Why they are the same: a cell here is an
optional ``-``, then digits with at most one ``.`` (no exponent, no spaces, no ``+``), so
its value is ``±m / 10**k`` with ``m`` its digits as a whole number and ``k`` the digits
after the point. When ``m < 2**53`` and ``k <= 22`` both ``m`` and ``10**k`` are exact
doubles and one IEEE division rounds their exact quotient correctly (Clinger's fast
path, which Python's own ``float()`` takes for such numbers); the sign is exact. Any
other text (an exponent, a longer number, a blank line, a short row, a byte of anything
else) is declined (None), for the caller's general reader. Tested against ``float()``
cell by cell (``tests/recording/test_csv_parsers.py``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from isofeedback.types import FloatArray

__all__ = ["parse_plain"]

_POW10 = np.array([10.0**k for k in range(23)])  # exact doubles: 10**22 is the largest
_EXACT = 2.0**53  # whole numbers below it are exact doubles, sums of them too
_MAX_DIGITS = 22  # digits in a cell; more are declined (and m could not be exact anyway)
# bytes per block: the arrays of one block stay in the CPU's caches (measured: ~1.5x
# faster than the whole file at once for a 1.7 MB file)
_BLOCK = 1 << 16


def parse_plain(text: str, sep: str) -> FloatArray | None:
    """The rows of ``text`` (lines of cells separated by ``sep``, one byte, not a digit,
    ``.`` or ``-``) as a ``(rows, columns)`` array, the same doubles as ``float()`` of each
    cell; None when any cell or row is not plain (see the module's doc) or the rows
    differ in length."""
    if len(sep) != 1 or sep in "0123456789.-\r\n" or not text:
        return None
    try:
        data = text.encode("ascii")
    except UnicodeEncodeError:
        return None
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")  # a lone \r is left, and declined below
    if not data.endswith(b"\n"):
        data += b"\n"
    separator = sep.encode("ascii")
    if data.translate(None, b"0123456789.-\n" + separator):
        return None
    columns = data.count(separator, 0, data.index(b"\n")) + 1  # the first row's
    blocks = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + _BLOCK)
        end = len(data) if end < 0 else end + 1
        block = _block(np.frombuffer(data, np.uint8, end - start, start), separator[0],
                       columns)
        if block is None:
            return None
        blocks.append(block)
        start = end
    return np.concatenate(blocks)


def _block(b: npt.NDArray[np.uint8], sep: int, columns: int) -> FloatArray | None:
    """Whole lines' bytes (each ending with ``\\n``, only digits, ``.``, ``-``, ``sep`` and
    ``\\n`` in them) → their rows, or None."""
    newline = b == 10
    bound = newline | (b == sep)  # each cell's end
    ends = np.flatnonzero(bound)
    cells = ends.size
    rows, extra = divmod(cells, columns)
    if extra or int(np.count_nonzero(newline)) != rows or not bool(
            newline[ends[columns - 1 :: columns]].all()):
        return None  # a row of another length (or a blank line: an empty cell)
    cell = np.cumsum(bound, dtype=np.int32)  # each byte's cell (a cell's end: the next)
    digit = b - np.uint8(48)  # 0-9 for digits; others wrap around above 9
    at = np.flatnonzero(digit < 10)
    of = cell[at]  # each digit's cell
    count = np.bincount(of, minlength=cells)
    if int(count.min()) < 1 or int(count.max()) > _MAX_DIGITS:
        return None
    # each digit's place: how many digits follow it in its cell
    place = (np.cumsum(count) - 1)[of] - np.arange(at.size)
    m = np.bincount(of, weights=digit[at] * _POW10[place], minlength=cells)
    if not bool((m < _EXACT).all()):
        return None  # (a sum past 2**53 rounds to 2**53 or more: declined, never wrong)
    k = np.zeros(cells, np.intp)
    dots = np.flatnonzero(b == 46)
    if dots.size:
        dot_cell = cell[dots]
        if not bool((np.diff(dot_cell) > 0).all()):
            return None  # two points in a cell
        k[dot_cell] = ends[dot_cell] - dots - 1
    x: FloatArray = m / _POW10[k]
    minus = np.flatnonzero(b == 45)
    if minus.size:
        minus_cell = cell[minus]
        first = np.concatenate(([0], ends[:-1] + 1))  # each cell's first byte
        if not np.array_equal(first[minus_cell], minus):
            return None  # a minus inside a number
        x[minus_cell] = -x[minus_cell]
    return x.reshape(rows, columns)
