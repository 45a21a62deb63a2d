"""Every processor gives the same output for one big chunk and for random splits."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isofeedback.detectors.movement import MovementDetector
from isofeedback.detectors.onset_release import OnsetReleaseDetector
from isofeedback.detectors.params import DetectorParams, RestModel
from isofeedback.detectors.signal_quality import SignalQualityDetector
from isofeedback.dsp.emg_chain import EmgChain
from isofeedback.dsp.imu_chain import ImuChain
from isofeedback.sim import benchmark_script, synthesize
from isofeedback.types import Chunk

FS = 500.0
_SES = synthesize(benchmark_script(4, 24.0, 10.0, True), emg_fs=FS, channels=2, imu_fs=100.0)
EMG = _SES.emg.copy()
EMG[9000:9400, 1] = 0.0  # an electrode off: flat line
EMG[10000:10100, 0] = 5.0  # saturated
GYRO = _SES.gyro


def _chunks(x: np.ndarray, fs: float, stream: str, cuts: list[int]) -> list[Chunk]:
    edges = [0, *sorted(c for c in set(cuts) if 0 < c < x.shape[0]), x.shape[0]]
    names = tuple(f"c{i}" for i in range(x.shape[1]))
    return [Chunk(stream, fs, a, a / fs, x[a:b], names) for a, b in itertools.pairwise(edges)]


def _run(make: Callable[[], Any], chunks: list[Chunk]) -> tuple[np.ndarray | None, list[Any]]:
    proc = make()
    arrays, events = [], []
    for c in chunks:
        out = proc(c)
        if isinstance(out, Chunk):
            arrays.append(out.data)
        else:
            events += out
    return (np.vstack(arrays) if arrays else None), events


def _emg_events() -> Callable[[Chunk], list[Any]]:
    chain = EmgChain(FS, 2, 50.0, calibration_s=2.0, full_scale=4.0)
    det = OnsetReleaseDetector(FS, DetectorParams(rest=RestModel(calibration_s=2.0)).at_rate(FS))
    return lambda c: det.process(chain.process(c))


def _movement() -> Callable[[Chunk], list[Any]]:
    chain = ImuChain(100.0, 2.0)
    det = MovementDetector(100.0, 3.0)
    det.arm(3.0)
    return lambda c: det.process(chain.process(c))


PROCESSORS: dict[str, tuple[Callable[[], Callable[[Chunk], Any]], str]] = {
    "emg_chain": (lambda: EmgChain(FS, 2, 50.0, calibration_s=2.0, full_scale=4.0).process, "emg"),
    "onset_release": (_emg_events, "emg"),
    # a rest calibration that does not end on a multiple of the 0.25 s block (1065 samples)
    "emg_chain_2.13s": (lambda: EmgChain(FS, 2, 50.0, calibration_s=2.13,
                                         full_scale=4.0).process, "emg"),
    "signal_quality": (lambda: SignalQualityDetector(FS, full_scale=4.0).process, "emg"),
    "imu_chain": (lambda: ImuChain(100.0, 2.0).process, "gyro"),
    "movement": (_movement, "gyro"),
}


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(sorted(PROCESSORS)),
    cuts=st.lists(st.integers(min_value=1, max_value=12000), min_size=1, max_size=40),
)
def test_chunking_does_not_change_results(name: str, cuts: list[int]) -> None:
    make, stream = PROCESSORS[name]
    x, fs = (EMG, FS) if stream == "emg" else (GYRO, 100.0)
    whole = _run(make, _chunks(x, fs, stream, []))
    split = _run(make, _chunks(x, fs, stream, [c % x.shape[0] for c in cuts]))
    if whole[0] is not None:
        assert split[0] is not None
        np.testing.assert_allclose(split[0], whole[0], rtol=1e-9, atol=1e-12)
    assert len(split[1]) == len(whole[1])
    for a, b in zip(split[1], whole[1], strict=True):
        assert a.type == b.type
        assert abs(a.t - b.t) < 1e-9 and abs(a.t_decided - b.t_decided) < 1e-9


@pytest.mark.parametrize("calibration_s", [2.0, 2.13, 2.138])
def test_weights_are_learnt_in_the_same_blocks_in_any_chunking(calibration_s: float) -> None:
    """The weight-learning blocks are counted from the rest calibration's end in any
    chunking: cut at multiples of the block from sample 0 instead, a calibration ending
    between two such multiples (2.13 s at 500 Hz) made a first block of 1065 − 1000 = 65
    rows in one chunking and of 125 in another, so the learnt weights and every envelope
    after them depended on how the samples came (a live session's packets, a replay's
    bulk windows)."""
    x = np.column_stack([EMG[:, 0], 0.3 * EMG[:, 0] + 0.7 * EMG[:, 1]])
    runs = []
    for step in (None, 2, 3, 7, 125):
        chain = EmgChain(FS, 2, 50.0, calibration_s=calibration_s, full_scale=4.0)
        cuts = [] if step is None else list(range(step, x.shape[0], step))
        out = np.vstack([chain.process(c).data for c in _chunks(x, FS, "emg", cuts)])
        runs.append((out, chain.weights.copy()))
    (whole, weights), *split = runs
    assert not np.all(weights == 1.0)  # learnt, not the equal start
    for out, w in split:
        np.testing.assert_array_equal(w, weights)
        np.testing.assert_allclose(out, whole, rtol=1e-9, atol=1e-12)
