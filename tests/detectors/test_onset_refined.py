"""The onset back-dated again (detector version 14, ``onset_refined``): the same events
whatever the chunking (a live packet's rows, odd sizes, whole seconds), a better time on
average than the decision's, none for an activation released first or an onset whose rest
is no longer kept, and off before version 14 (docs/detection.md, *Detector version 14*)."""

from __future__ import annotations

import numpy as np
import pytest

from isofeedback.config import PipelineConfig, versioned_config
from isofeedback.detectors.factory import build_emg_detection
from isofeedback.detectors.retraction import confirmed_refined
from isofeedback.research.eval import EmgRecord, detect_emg
from isofeedback.types import Chunk, Event, EventType


def _record(seed: int, fs: float = 1000.0, ramp_s: float = 0.12) -> EmgRecord:
    """Rest; contractions at 4, 10 and 16 s (linear force ramps, 3 s holds) at ~10 dB."""
    rng = np.random.default_rng(seed)
    n = int(22 * fs)
    a = np.zeros(n)
    onsets = (4.0, 10.0, 16.0)
    for t in onsets:
        i, r = int(t * fs), int(ramp_s * fs)
        a[i : i + r] = np.linspace(0.0, 1.0, r)
        a[i + r : i + int(3 * fs)] = 1.0
    x = 0.3 * rng.standard_normal(n) + a * rng.standard_normal(n)
    return EmgRecord(x[:, None], fs, onsets, tuple(t + 3.0 for t in onsets))


def _events(rec: EmgRecord, sizes: tuple[int, ...]) -> list[Event]:
    """The live factory's chain and detector over ``rec`` in chunks of ``sizes`` (cycled)."""
    chain, det = build_emg_detection(rec.fs, 1, PipelineConfig().updated(
        {"chain.mains_hz": 50.0, "detector.rest.calibration_s": 2.0}))
    out: list[Event] = []
    a, k = 0, 0
    while a < rec.emg.shape[0]:
        b = min(a + sizes[k % len(sizes)], rec.emg.shape[0])
        out += det.process(chain.process(Chunk("emg", rec.fs, a, a / rec.fs, rec.emg[a:b],
                                               ("c0",))))
        a, k = b, k + 1
    return out


@pytest.mark.parametrize("fs", [1000.0, 200.0])
def test_refinements_do_not_depend_on_the_chunking(fs: float) -> None:
    rec = _record(3, fs)
    runs = [_events(rec, sizes) for sizes in ((2,), (7, 1, 13), (int(fs),), (333,))]
    refined = [e for e in runs[0] if e.type == EventType.ONSET_REFINED]
    assert len(refined) == 3
    for other in runs[1:]:
        assert repr(other) == repr(runs[0])


def test_a_refinement_names_its_onset_and_is_never_after_its_decision() -> None:
    events, _ = detect_emg(_record(1))
    onsets = [e for e in events if e.type == EventType.ONSET]
    better = [e for e in events if e.type == EventType.ONSET_REFINED]
    assert len(onsets) == len(better) == 3
    for on, ref in zip(onsets, better, strict=True):
        assert (ref.detail["onset_t"], ref.detail["onset_decided"]) == (on.t, on.t_decided)
        assert ref.t <= on.t_decided
        assert ref.t_decided == pytest.approx(on.t_decided + 0.1, abs=1.5e-3)
    # the scored view: each onset at its refined time, its decision kept
    scored = [e for e in confirmed_refined(events) if e.type == EventType.ONSET]
    assert [(e.t, e.t_decided) for e in scored] == [(r.t, o.t_decided)
                                                   for o, r in zip(onsets, better, strict=True)]


def test_refined_onsets_are_closer_to_the_truth_on_average() -> None:
    before, after = [], []
    for seed in range(6):
        rec = _record(seed)
        events, _ = detect_emg(rec)
        for on in (e for e in events if e.type == EventType.ONSET):
            truth = min(rec.onsets, key=lambda t, on=on: abs(t - on.t))
            before.append(abs(on.t - truth))
        for ref in (e for e in events if e.type == EventType.ONSET_REFINED):
            truth = min(rec.onsets, key=lambda t, ref=ref: abs(t - ref.t))
            after.append(abs(ref.t - truth))
    assert len(after) == len(before) == 18
    assert np.mean(after) < 0.8 * np.mean(before), (np.mean(before), np.mean(after))


def test_a_twitch_s_refinement_goes_with_its_retraction_and_none_before_version_14(
        ) -> None:
    rng = np.random.default_rng(0)
    fs = 1000.0
    a = np.zeros(int(10 * fs))
    a[5000:5060] = 3.0 * np.hanning(60)  # a 60 ms twitch (no release within 0.2 s of onset)
    x = 0.2 * rng.standard_normal(a.size) + a * rng.standard_normal(a.size)
    events, _ = detect_emg(EmgRecord(x[:, None], fs, (), ()))
    assert [e.type.value for e in events] == ["onset", "onset_refined", "release",
                                              "retracted"]
    assert confirmed_refined(events) == []
    old, _ = detect_emg(_record(1), config=versioned_config({}, "test", "13"))
    assert [e for e in old if e.type == EventType.ONSET_REFINED] == []
