"""A rest whose level rises within seconds (detector version 10, docs/detection.md):
the rest power is followed with a 3 s time constant and a release returns to the rest the
onset left, so a twitch on the raised rest is retracted and the next contraction is found
where it starts; version 9 (30 s, release to the old baseline) is the control."""

from __future__ import annotations

import numpy as np
import pytest

from isofeedback.config import versioned_config
from isofeedback.research.eval import EmgRecord, confirmed, detect_emg
from isofeedback.types import EventType

FS = 1000.0


def _record(seed: int) -> EmgRecord:
    """White rest noise whose power rises 1.8× at 8 s, a 100 ms twitch at 12 s, a 5 s
    contraction at 15 s."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(30 * FS)) / FS
    noise = np.where(t < 8.0, 1.0, np.sqrt(1.8)) * rng.standard_normal(t.size)
    a = np.where((t >= 12.0) & (t < 12.1), 2.0, 0.0) + np.where((t >= 15) & (t < 20), 4.0, 0.0)
    x = noise + a * rng.standard_normal(t.size)
    return EmgRecord(x[:, None], FS, (15.0,), (20.0,), (0.0, 2.0), f"rise{seed}")


def _onsets_after_the_rise(version: str, seed: int) -> list[tuple[float, float]]:
    """Confirmed activations starting between 9 s (the rise is at 8 s) and 27 s."""
    events, _ = detect_emg(_record(seed), config=versioned_config(
        {"detector_version": version}, "test"))
    kept = confirmed(events)
    on = [e.t for e in kept if e.type == EventType.ONSET]
    off = [e.t for e in kept if e.type == EventType.RELEASE] + [30.0]
    return [(a, b) for a, b in zip(on, off, strict=False) if 9.0 < a < 27.0]


@pytest.mark.parametrize("seed", range(4))
def test_a_raised_rest_gives_one_contraction_where_it_starts(seed: int) -> None:
    (onset, release), *more = _onsets_after_the_rise("10", seed)
    assert abs(onset - 15.0) < 0.5 and abs(release - 20.0) < 0.1  # eval's ±0.5 s
    assert not more


def test_with_the_old_rest_model_the_raised_rest_gives_false_onsets() -> None:
    """The control: version 9 reports activations on the raised rest (at least one per
    record besides the contraction), so the test above is not vacuous."""
    for seed in range(4):
        assert len(_onsets_after_the_rise("9", seed)) > 1
