"""Provisional onsets: a twitch is retracted, a contraction is not (docs/detection.md,
*False onsets*)."""

from __future__ import annotations

import numpy as np

from isofeedback.config import PipelineConfig
from isofeedback.research.eval import EmgRecord, confirmed, detect_emg
from isofeedback.types import EventType

FS = 1000.0


def _record(seed: int) -> EmgRecord:
    """Rest noise; a 100 ms twitch at 4 s; a 3 s contraction at 8 s."""
    rng = np.random.default_rng(seed)
    a = np.zeros(int(14 * FS))
    a[4000:4100] = 2.0 * np.hanning(100)
    a[8000:8100] = np.linspace(0.0, 1.0, 100)
    a[8100:11000] = 1.0
    x = 0.2 * rng.standard_normal(a.size) + a * rng.standard_normal(a.size)
    return EmgRecord(x[:, None], FS, (8.0,), (11.0,))


def test_a_twitch_is_retracted_and_the_contraction_is_kept() -> None:
    for seed in range(3):
        events, _ = detect_emg(_record(seed))
        refinements = [e for e in events if e.type == EventType.ONSET_REFINED]
        events = [e for e in events if e.type != EventType.ONSET_REFINED]
        kinds = [e.type.value for e in events]
        # provisional onset and release of the twitch, then the retraction
        assert kinds == ["onset", "release", "retracted", "onset", "release"], (seed, kinds)
        # the contraction's onset is re-timed (the twitch's may be: it lasted 0.1 s)
        assert refinements and refinements[-1].detail["onset_t"] == events[3].t
        onset, release, back = events[:3]
        assert abs(onset.t - 4.0) < 0.1
        assert back.t == onset.t and back.detail["onset_decided"] == onset.t_decided
        assert back.t_decided == release.t_decided
        assert 0 < back.detail["duration_s"] < 0.5
        kept = confirmed(events)
        assert [(e.type, round(e.t)) for e in kept] == [(EventType.ONSET, 8),
                                                       (EventType.RELEASE, 11)]


def test_retraction_off_reports_the_twitch_as_a_contraction() -> None:
    events, _ = detect_emg(_record(0), config=PipelineConfig().updated(
        {"detector.confirmation.min_contraction_s": 0.0}))
    assert [e.type.value for e in events if e.type != EventType.ONSET_REFINED] == [
        "onset", "release", "onset", "release"]
