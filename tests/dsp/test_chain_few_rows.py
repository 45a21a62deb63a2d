"""The EMG chain's few-rows path (a live packet's rows built in Python floats) gives the
array path's output to the bit: through the rest calibration, the weight learning, spikes,
saturation and the steady state, in a live Myo's 2-row chunks and in odd sizes."""

from __future__ import annotations

import numpy as np
import pytest

from isofeedback.dsp.emg_chain import EmgChain
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
    out.append(chain.weights.tobytes() + np.float64(chain.dof).tobytes())
    return out


@pytest.mark.parametrize("sizes", [(2,), (1, 3, 2), (7, 9, 2)])
def test_few_rows_are_the_array_path(sizes: tuple[int, ...],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _run(sizes, True, monkeypatch)
    assert fast == _run(sizes, False, monkeypatch)
    assert fast[-1] != np.ones(8).tobytes() + np.float64(8.0).tobytes()  # weights learnt
