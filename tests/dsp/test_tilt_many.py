"""The tilt tracker and the tilt angle computed for many chunks at once give the bits of
one chunk at a time (a bulk replay must reproduce the live session's numbers)."""

from __future__ import annotations

import numpy as np

from isofeedback.dsp.tilt import TiltTracker, tilt_between, tilts_between
from isofeedback.types import Chunk


def _chunks(rng: np.random.Generator, count: int) -> list[Chunk]:
    out, start = [], 0
    for k in range(count):
        n = int(rng.integers(1, 4))
        data = np.array([0.1, -0.3, 0.95]) + 0.05 * rng.standard_normal((n, 3))
        if 200 <= k < 240:
            data *= 0.1  # free fall: no gravity to speak of
        out.append(Chunk("accel", 50.0, start, start / 50.0, data, ("x", "y", "z")))
        start += n
    return out


def test_process_many_is_process_then_gravity_each_time() -> None:
    rng = np.random.default_rng(7)
    chunks = _chunks(rng, 400)
    one, many = TiltTracker(50.0), TiltTracker(50.0)
    expected = []
    for c in chunks:
        one.process(c)
        expected.append(one.gravity)
    got = many.process_many(chunks[:5]) + many.process_many(chunks[5:300])
    got += many.process_many(chunks[300:])
    assert sum(g is None for g in expected) > 0 and sum(g is not None for g in expected) > 300
    for e, g in zip(expected, got, strict=True):
        assert (e is None and g is None) or (e is not None and g is not None
                                             and e.tobytes() == g.tobytes())
    assert one.gravity is not None and many.gravity is not None
    assert one.gravity.tobytes() == many.gravity.tobytes()


def test_tilts_between_is_tilt_between_row_by_row() -> None:
    rng = np.random.default_rng(8)
    rows = rng.standard_normal((5000, 3))
    rows[:10] = rows[10]  # identical directions: arccos at its edge
    a = rng.standard_normal(3)
    many = tilts_between(a, rows)
    one = np.array([tilt_between(a, r) for r in rows])
    assert many.tobytes() == one.tobytes()
