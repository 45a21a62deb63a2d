"""Wearable-rate releases: the back-dated change and the envelope's fall below a threshold
err independently, so the release is their mean below 500 Hz (docs/detection.md)."""

from __future__ import annotations

import numpy as np

from isofeedback.config import PipelineConfig
from isofeedback.detectors.onset_release import OnsetReleaseDetector
from isofeedback.detectors.params import DetectorParams, RestModel
from isofeedback.research.eval import detect_emg, match_events, simulated_records
from isofeedback.types import Chunk, EventType

FS = 200.0


def test_the_blend_is_used_at_wearable_rates_only() -> None:
    assert OnsetReleaseDetector(200.0, _params(200.0)).release_blend == 0.5
    assert OnsetReleaseDetector(1000.0, _params(1000.0)).release_blend == 0.0
    off = PipelineConfig.from_dict({"detector.low_rate.release_blend": 0.0}).detector.at_rate(200.0)
    assert OnsetReleaseDetector(200.0, off).release_blend == 0.0


def _params(fs: float, calibration_s: float = 2.0) -> DetectorParams:
    """The detector's default parameters at ``fs`` (resolved for the rate)."""
    return DetectorParams(rest=RestModel(calibration_s=calibration_s)).at_rate(fs)


def _envelope_detector(env: np.ndarray) -> OnsetReleaseDetector:
    """A detector calibrated on 1 s of a flat rest envelope, then fed ``env``."""
    det = OnsetReleaseDetector(FS, _params(FS, 1.0))
    rng = np.random.default_rng(0)
    rest = 1.0 + 0.01 * rng.standard_normal(int(FS))
    x = np.concatenate([rest, env])
    det.process(Chunk("emg_env", FS, 0, 0.0, x[:, None], ("env",)))
    return det


def test_envelope_fall_is_the_first_sample_below_the_threshold() -> None:
    # a hold at 10x the rest envelope that falls linearly to rest over 100 ms
    hold = np.full(int(0.8 * FS), 10.0)
    fall = np.linspace(10.0, 1.0, int(0.1 * FS))
    after = np.ones(int(0.15 * FS))
    det = _envelope_detector(np.concatenate([hold, fall, after]))
    k = det._n - 1
    t = det.envelope_fall(k, 0.0)
    assert t is not None
    # the threshold is a quarter of the way up (3.25): crossed 75 % into the fall
    start = 1.0 + hold.size / FS
    assert abs(t - (start + 0.075)) <= 1.5 / FS


def test_no_fall_while_the_envelope_is_still_above_the_threshold() -> None:
    det = _envelope_detector(np.full(int(0.5 * FS), 10.0))
    assert det.envelope_fall(det._n - 1, 0.0) is None


def test_blended_releases_are_closer_to_the_truth_at_200_hz() -> None:
    """Six records at 10 dB, int8: the blend against the back-dated change alone."""
    errors: dict[float, list[float]] = {0.0: [], 0.5: []}
    for rec in simulated_records(6, 10.0, FS, 0, "half", True):
        for blend in errors:
            cfg = PipelineConfig().updated({"detector.low_rate.release_blend": blend})
            events, _ = detect_emg(rec, config=cfg)
            rel = [e.t for e in events if e.type == EventType.RELEASE]
            m = match_events(rec.releases, rel, 0.5)
            errors[blend] += [abs(rel[j] - rec.releases[i]) for i, j in m.pairs]
    assert len(errors[0.5]) == len(errors[0.0]) >= 25
    assert np.median(errors[0.5]) < 0.85 * np.median(errors[0.0])
