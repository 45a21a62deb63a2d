"""The onset/release detector's few-rows path (a live packet's samples in Python floats)
leaves the detector exactly where the array path leaves it, chunk after chunk: the same
events, CUSUM, rest baselines, fused evidence and recent samples, to the bit. Through
the rest calibration, onsets, releases (by the test and by a level drop), the refractory
time, gated samples (a spike, saturation), a NaN power and block boundaries, in a live
Myo's 2-row chunks and in odd sizes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from isofeedback.config import PipelineConfig
from isofeedback.detectors.factory import build_emg_detection
from isofeedback.detectors.onset_release import OnsetReleaseDetector
from isofeedback.types import Chunk

FS = 200.0


def _envelope(sizes: tuple[int, ...]) -> list[Chunk]:
    """A Myo-like session through the EMG chain, in chunks of ``sizes`` (cycled)."""
    rng = np.random.default_rng(11)
    x = rng.normal(0.0, 2.0, (9000, 8))
    for a, b, gain in ((900, 1900, 10.0), (2600, 3800, 6.0), (4400, 4450, 8.0),
                       (5200, 6400, 12.0), (7600, 8600, 9.0)):
        x[a:b, 2:5] *= gain  # contractions under three electrodes: the weights are learnt
    x[6400:7200, 2:5] *= 2.5  # let go to a raised rest: a release by level drop
    x[3000, 1] = 120.0  # a contact spike during a hold
    x[4900, 3] = 150.0  # and one at rest
    x[8000:8004, 6] = 127.0  # saturation
    x = np.rint(np.clip(x, -128.0, 127.0))
    cfg = PipelineConfig()
    chain, _ = build_emg_detection(FS, 8, dataclasses.replace(
        cfg, chain=dataclasses.replace(cfg.chain, full_scale=127.0)))
    names = tuple(f"emg{k}" for k in range(8))
    out, a, k = [], 0, 0
    while a < x.shape[0]:
        b = min(a + sizes[k % len(sizes)], x.shape[0])
        env = chain.process(Chunk("emg", FS, a, a / FS, x[a:b], names))
        if a == 8200:  # a NaN power (a broken sample upstream): the array path's business
            env = dataclasses.replace(env, data=env.data.copy())
            env.data[0, 1] = np.nan
        out.append(env)
        a, k = b, k + 1
    return out


def _state(d: OnsetReleaseDetector) -> bytes:
    """Everything the detector's next decisions depend on, bit for bit (a float's bits,
    whether numpy's scalar or Python's)."""
    h = d._history
    floats = (d._test.s, d.rest.pow_baseline, d.rest.baseline or 0.0, d._fusion.evidence,
              d._release.a, d._release.b, d._t0 or 0.0)
    return repr((d._test.zero, d.active, d._n, d._refine,
                 [float(v).hex() for v in floats])).encode() + (
        h.z.tobytes() + h.env.tobytes() + h.valid.tobytes())


def _run(chunks: list[Chunk], few: bool, min_contraction_s: float,
         monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[bytes], int]:
    cfg = PipelineConfig()
    cfg = dataclasses.replace(cfg, detector=dataclasses.replace(
        cfg.detector, confirmation=dataclasses.replace(
            cfg.detector.confirmation, min_contraction_s=min_contraction_s)))
    _, det = build_emg_detection(FS, 8, cfg)
    assert isinstance(det, OnsetReleaseDetector)
    taken = 0
    if not few:
        monkeypatch.setattr(det, "_process_few", lambda chunk: None)
    else:
        inner = det._process_few

        def counted(chunk: Chunk) -> object:
            nonlocal taken
            done = inner(chunk)
            taken += done is not None
            return done

        monkeypatch.setattr(det, "_process_few", counted)
    events, states = [], []
    for c in chunks:
        events += [repr(e) for e in det.process(c)]
        states.append(_state(det))
    return events, states, taken


@pytest.mark.parametrize("sizes", [(2,), (1, 3, 2), (7, 9, 2), (1,)])
@pytest.mark.parametrize("min_contraction_s", [0.0, 0.5])
def test_few_rows_are_the_array_path(sizes: tuple[int, ...], min_contraction_s: float,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = _envelope(sizes)
    fast_events, fast_states, taken = _run(chunks, True, min_contraction_s, monkeypatch)
    events, states, _ = _run(chunks, False, min_contraction_s, monkeypatch)
    assert fast_events == events
    assert fast_states == states
    kinds = [e.split("'")[1] for e in events]
    # everything the fast path must leave to the array path happened, and it took most
    assert kinds.count("onset") >= 4 and kinds.count("release") >= 4
    assert any("level_drop" in e for e in events)
    assert taken > 0.5 * len(chunks)
