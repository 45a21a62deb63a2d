"""The IMU side's few-rows paths (a live packet's rows in Python floats) give the array
paths' results to the bit: the IMU chain through its bias calibration, block ends and a
NaN; the movement detector disarmed, armed on a still hold, through a movement and its
end; the tilt tracker's gravity and the tilt between two gravity directions."""

from __future__ import annotations

import numpy as np
import pytest

from isofeedback.detectors.movement import MovementDetector
from isofeedback.dsp.exact import dot, norm
from isofeedback.dsp.imu_chain import ImuChain
from isofeedback.dsp.tilt import TiltTracker, tilt_between, tilts_between
from isofeedback.types import Chunk

FS = 50.0


def _gyro() -> np.ndarray:
    rng = np.random.default_rng(3)
    g = rng.normal(0.0, 0.4, (3000, 3)) + np.array([0.8, -0.5, 0.3])
    g[900:960, 0] += 25.0  # a 12-degree turn during the second hold
    g[1500:1530, 1] -= 40.0  # and one between holds
    g[2200, 2] = np.nan  # a broken sample
    return g


def _joint(sizes: tuple[int, ...], few: bool,
           monkeypatch: pytest.MonkeyPatch) -> tuple[list[Chunk], list[bytes]]:
    chain = ImuChain(FS, 2.0)
    if not few:
        monkeypatch.setattr(chain, "_process_few", lambda chunk: None)
    g, out, a, k = _gyro(), [], 0, 0
    while a < g.shape[0]:
        b = min(a + sizes[k % len(sizes)], g.shape[0])
        out.append(chain.process(Chunk("gyro", FS, a, 1.5 + a / FS, g[a:b], ("x", "y", "z"))))
        a, k = b, k + 1
    assert chain.bias is not None
    return out, [c.data.tobytes() for c in out] + [chain.bias.tobytes()]


@pytest.mark.parametrize("sizes", [(1,), (2, 1, 3), (1, 11)])
def test_imu_chain_few_rows_are_the_array_path(sizes: tuple[int, ...],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _, fast = _joint(sizes, True, monkeypatch)
    _, slow = _joint(sizes, False, monkeypatch)
    assert fast == slow


@pytest.mark.parametrize("sizes", [(1,), (2, 1, 3), (1, 11)])
def test_movement_few_rows_are_the_array_path(sizes: tuple[int, ...],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    joint, _ = _joint(sizes, False, monkeypatch)
    arms = [(16.0, True), (24.0, False), (30.0, True), (40.0, False), (44.0, True)]

    def run(few: bool) -> list[str]:
        d = MovementDetector(FS, 5.0)
        if not few:
            monkeypatch.setattr(d, "_process_few", lambda chunk: False)
        todo, seen = list(arms), []
        for c in joint:
            while todo and todo[0][0] <= c.t_first:  # the EMG side's decisions, in time
                t, arm = todo.pop(0)
                d.arm(t) if arm else d.disarm(t)
            seen += [repr(e) for e in d.process(c)]
            ref = d._ref.tobytes() if d._ref is not None else b""
            seen.append(repr((float(d.last_angle).hex(), d.moving, d.armed, d._n, ref)))
        return seen

    fast = run(True)
    assert fast == run(False)
    assert any("'movement'" in s for s in fast) and any("movement_end" in s for s in fast)


def test_tilt_in_floats_is_numpys() -> None:
    rng = np.random.default_rng(8)
    t = TiltTracker(FS)
    neutral = np.array([0.1, -0.2, 0.97])
    for k in range(300):
        rows = rng.normal([0.0, 0.3, 0.9], 0.05, (1 + k % 3, 3))
        t.process(Chunk("accel", FS, 0, 0.0, rows, ("x", "y", "z")))
        g = t.gravity
        mean = t._tail.mean(axis=0)  # the array formulas: what the floats must give
        assert g is not None and g.tobytes() == (mean / norm(mean)).tobytes()
        cos = dot(neutral, g) / max(norm(neutral) * norm(g), 1e-12)
        want = float(np.degrees(np.arccos(min(max(cos, -1.0), 1.0))))
        assert tilt_between(neutral, g) == want
        assert tilt_between(tuple(neutral.tolist()), g) == want
        assert float(tilts_between(neutral, g[None, :])[0]) == want
