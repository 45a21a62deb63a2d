"""Rows of plain decimal numbers (``-12.5,0.0,3e-05``) as float64, parsed by numpy in bulk.

numpy's ``loadtxt`` spends ~200 ns a cell (most of a Myo CSV replay); this reads the same
rows in about two thirds of the time, by array operations over the text's bytes instead
of a call per cell, and gives the same doubles to the bit. Why they are the same: a cell here
is an optional sign, digits with at most one ``.``, and optionally ``e`` or ``E``, a sign
and 1-3 digits (no spaces, nothing else), so its value is ``±m · 10**q`` with ``m`` its
digits as a whole number and ``q`` the exponent less the digits after the point. When
``m < 2**53`` and ``|q| <= 22``, both ``m`` and ``10**|q|`` are exact doubles, and one
IEEE division (or product) rounds their exact quotient correctly: Clinger's fast path,
which Python's own ``float()`` takes for such numbers; the sign is exact. Any other text
(a longer number, a larger power, a blank line, a short row, a space, a byte of anything
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
    """The rows of ``text`` (lines of cells separated by ``sep``, one ASCII character that
    cannot be part of a number) as a ``(rows, columns)`` array, the same doubles as
    ``float()`` of each cell; None when any cell or row is not plain (see the module's
    doc) or the rows differ in length."""
    if len(sep) != 1 or sep in "0123456789.-+eE\r\n" or not text:
        return None
    try:
        data = text.encode("ascii")
    except UnicodeEncodeError:
        return None
    crlf = b"\r" in data  # then every line must end with \r\n (else: declined)
    if not data.endswith(b"\n"):
        data += b"\r\n" if crlf else b"\n"
    separator = sep.encode("ascii")
    if data.translate(None, b"0123456789.-+eE\r\n" + separator):
        return None
    columns = data.count(separator, 0, data.index(b"\n")) + 1  # the first row's
    blocks = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + _BLOCK)
        end = len(data) if end < 0 else end + 1
        block = _block(data[start:end], separator[0], columns, crlf)
        if block is None:
            return None
        blocks.append(block)
        start = end
    return np.concatenate(blocks)


def _block(text: bytes, sep: int, columns: int, crlf: bool) -> FloatArray | None:
    """Whole lines (each ending with ``\\n``, or ``\\r\\n`` if ``crlf``, nothing in them but
    what :func:`parse_plain` lets through) → their rows, or None."""
    b = np.frombuffer(text, np.uint8)
    newline = b == 10
    bound = newline | (b == sep)  # each cell's end
    ends = np.flatnonzero(bound)
    cells = ends.size
    rows, extra = divmod(cells, columns)
    if extra or int(np.count_nonzero(newline)) != rows or not bool(
            newline[ends[columns - 1 :: columns]].all()):
        return None  # a row of another length (or a blank line: an empty cell)
    stop = ends  # where each cell's mantissa stops
    if crlf:  # a line's last cell stops at its \r (and there is no other \r)
        stop = ends.copy()
        stop[columns - 1 :: columns] -= 1
        if text.count(b"\r") != rows or not bool((b[stop[columns - 1 :: columns]] == 13
                                                   ).all()):
            return None
    cell = np.cumsum(bound, dtype=np.int32)  # each byte's cell (a cell's end: the next)
    digit = b - np.uint8(48)  # 0-9 for digits; others wrap around above 9
    at = np.flatnonzero(digit < 10)
    power = np.zeros(cells, np.intp)  # of ten, by which each cell's digits are scaled
    # an exponent (at most one e a cell, digits after it): the mantissa stops there
    if b"e" in text or b"E" in text:
        marks = np.flatnonzero((b == 101) | (b == 69))
        mark_cell = cell[marks]
        if not bool((np.diff(mark_cell) > 0).all()):
            return None
        stop = stop.copy()
        stop[mark_cell] = marks
        in_exponent = at > stop[cell[at]]
        exponent = _whole(digit, at[in_exponent], cell[at[in_exponent]], cells, 3)
        if exponent is None or not bool((exponent[1][mark_cell] > 0).all()):
            return None  # an e without digits after it, or more than 3
        power[:] = exponent[0]
        at = at[~in_exponent]
    # signs: a cell's first byte (``-`` negates), or right after its e
    negative = np.zeros(cells, bool)
    if b"-" in text or b"+" in text:
        signs = np.flatnonzero((b == 45) | (b == 43))
        sign_cell = cell[signs]
        leading = signs == np.concatenate(([0], ends[:-1] + 1))[sign_cell]
        if not bool((leading | (signs == stop[sign_cell] + 1)).all()):
            return None  # a sign inside a number
        minus = b[signs] == 45
        negative[sign_cell[leading & minus]] = True
        power[sign_cell[~leading & minus]] *= -1
    dots = np.flatnonzero(b == 46)
    if dots.size:
        dot_cell = cell[dots]
        if not bool((np.diff(dot_cell) > 0).all()) or bool((dots > stop[dot_cell]).any()):
            return None  # two points in a cell, or one in its exponent
        power[dot_cell] -= stop[dot_cell] - dots - 1  # the digits after the point
    mantissa = _whole(digit, at, cell[at], cells, _MAX_DIGITS)
    if (mantissa is None or int(mantissa[1].min()) < 1
            or not bool((mantissa[0] < _EXACT).all())
            or not bool((np.abs(power) <= 22).all())):
        return None  # (a sum past 2**53 rounds to 2**53 or more: declined, never wrong)
    x: FloatArray = mantissa[0] / _POW10[np.maximum(-power, 0)]
    up = np.flatnonzero(power > 0)
    x[up] = mantissa[0][up] * _POW10[power[up]]
    np.negative(x, out=x, where=negative)
    return x.reshape(rows, columns)


def _whole(digit: npt.NDArray[np.uint8], at: npt.NDArray[np.intp],
           of: npt.NDArray[np.int32], cells: int, most: int,
           ) -> tuple[FloatArray, npt.NDArray[np.intp]] | None:
    """Each cell's digits (``digit[at]``, in order, ``of``: their cells) as a whole
    number, and how many digits it has; None when a cell has more than ``most``. Each
    digit times its place is an exact double, and so is each partial sum below 2**53."""
    count = np.bincount(of, minlength=cells)
    if count.size and int(count.max()) > most:
        return None
    place = (np.cumsum(count) - 1)[of] - np.arange(at.size)  # digits after each in its cell
    whole = np.asarray(np.bincount(of, weights=digit[at] * _POW10[place], minlength=cells),
                       dtype=np.float64)  # (float64 already: weights)
    return whole, count
