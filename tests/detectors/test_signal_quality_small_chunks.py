"""The signal-quality check on a live Myo's 2-sample chunks (which mostly take its cheap
path for quiet chunks), and on chunks of a bulk pass (its array path, a flat or saturated
spell crossing their boundaries), gives exactly the events of one pass over the whole
recording."""

from __future__ import annotations

import numpy as np
import pytest

from isofeedback.detectors.signal_quality import SignalQualityDetector
from isofeedback.types import Chunk


def _signal() -> np.ndarray:
    rng = np.random.default_rng(3)
    x = np.rint(rng.normal(0.0, 1.2, (6000, 8)))  # a Myo at rest: small integers, repeats
    x[1000:1200, 2] = 0.0  # electrode off
    x[1180:1185, 2] = 1.0  # … a blip, then off again
    x[1185:1400, 2] = 1.0
    x[2500:2510, 5] = 127.0  # saturation
    x[2600:2602, 5] = -128.0
    x[4000:4060, :] = 3.0  # all channels stuck
    return x


@pytest.mark.parametrize("sizes", [(2,), (1, 2, 3), (7, 1), (50,), (333,), (1000, 13)])
def test_small_chunks_give_the_whole_pass_events(sizes: tuple[int, ...]) -> None:
    x = _signal()
    names = tuple(f"emg{k}" for k in range(8))
    whole = SignalQualityDetector(200.0, full_scale=127.0).process(
        Chunk("emg", 200.0, 0, 0.0, x, names))
    det = SignalQualityDetector(200.0, full_scale=127.0)
    got, a, k = [], 0, 0
    while a < x.shape[0]:
        b = min(a + sizes[k % len(sizes)], x.shape[0])
        got += det.process(Chunk("emg", 200.0, a, a / 200.0, x[a:b], names))
        a, k = b, k + 1
    assert len(whole) >= 8
    assert [(e.t, e.t_decided, e.value, dict(e.detail)) for e in got] == \
        [(e.t, e.t_decided, e.value, dict(e.detail)) for e in whole]
