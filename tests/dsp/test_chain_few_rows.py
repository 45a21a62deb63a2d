"""The EMG chain's few-rows path (a live packet's rows built in Python floats) gives the
array path's output to the bit: through the rest calibration, the weight learning, spikes,
saturation and the steady state, in a live Myo's 2-row chunks and in odd sizes."""

from __future__ import annotations

import numpy as np
import pytest

from isofeedback.dsp.emg_chain import EmgChain
from isofeedback.dsp.filters import MovingRms
from isofeedback.types import Chunk


def _signal() -> np.ndarray:
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 2.0, (3000, 8))
    x[900:1500, 2:5] *= 12.0  # a contraction under three electrodes: weights are learnt
    x[1700, 1] = 120.0  # a contact spike
    x[2100:2104, 6] = 127.0  # saturation
    x[2500:2700, :3] *= 8.0
    return np.rint(x)


def _run(sizes: tuple[int, ...], few: bool, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    chain = EmgChain(200.0, 8, full_scale=127.0)
    if not few:
        monkeypatch.setattr(chain, "_few", lambda n, channels: False)
    x, names = _signal(), tuple(f"emg{k}" for k in range(8))
    out, a, k = [], 0, 0
    while a < x.shape[0]:
        b = min(a + sizes[k % len(sizes)], x.shape[0])
        out.append(chain.process(Chunk("emg", 200.0, a, a / 200.0, x[a:b], names)).data.tobytes())
        a, k = b, k + 1
    # the learnt activity's sums as well: the weights round away a last-bit difference in
    # a block's mean (which sums its rows in an order that follows their memory layout)
    out.append(chain.weights.tobytes() + np.float64(chain.dof).tobytes()
               + chain._act_sum.tobytes())
    return out


@pytest.mark.parametrize("sizes", [(2,), (1, 3, 2), (7, 9, 2)])
def test_few_rows_are_the_array_path(sizes: tuple[int, ...],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _run(sizes, True, monkeypatch)
    assert fast == _run(sizes, False, monkeypatch)
    assert not fast[-1].startswith(np.ones(8).tobytes())  # weights learnt


def test_moving_rms_few_rows_are_the_array_path() -> None:
    """:meth:`MovingRms.mean_square_few` (a live packet's rows in Python floats, its
    running sums kept as floats between packets) gives the array path's bits, packet after
    packet and across a switch to the array path and back; a NaN or an infinity in the
    squares is carried the same way."""
    rng = np.random.default_rng(3)
    few, arr = MovingRms(10, 8), MovingRms(10, 8)
    start = rng.random((12, 8))
    assert few.mean_square(start).tobytes() == arr.mean_square(start).tobytes()
    for k in range(600):
        n = int(rng.integers(1, 9))
        x = rng.random((n, 8)) ** 2 * 10.0 ** int(rng.integers(-6, 6))
        if k == 400:
            x[0, 3] = np.nan
        if k == 450:
            x[-1, 5] = np.inf
        with np.errstate(invalid="ignore"):
            want = arr.mean_square(x)
            if k % 50 == 49:  # now and then the array path, which reads the floats
                got = few.mean_square(x)
            else:
                got = np.array(few.mean_square_few(x.tolist()), dtype=np.float64)
        assert got.tobytes() == want.tobytes(), k
