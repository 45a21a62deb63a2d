"""Detector parameters: nested, frozen, validated by name, resolved for the rate in one
place (docs/detection.md, *The detector's parts and parameters*)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from isofeedback.config import PipelineConfig
from isofeedback.detectors.factory import build_emg_detection
from isofeedback.detectors.onset_release import OnsetReleaseDetector
from isofeedback.detectors.params import DetectorParams, OnsetTest, ReleaseTest
from isofeedback.errors import ConfigError


@pytest.mark.parametrize(("make", "message"), [
    (lambda: OnsetTest(ratio=0.5), "onset.ratio must be greater than 1, got 0.5"),
    (lambda: OnsetTest(h=math.nan), "onset.h must be a finite number"),
    (lambda: ReleaseTest(envelope_blend=1.5), "release.envelope_blend must be at most 1"),
    (lambda: ReleaseTest(ratio=5.0, ratio_max=4.0), "release.ratio_max must be at least 5"),
])
def test_bad_numbers_are_refused_by_name(make: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()  # type: ignore[operator]


def test_parameters_are_frozen_and_resolved_for_the_rate_outside_the_detector() -> None:
    p = PipelineConfig().detector
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.onset.ratio = 2.0  # type: ignore[misc]
    low, high = p.at_rate(200.0), p.at_rate(1000.0)
    assert (low.onset.ratio, low.onset.h, low.onset.sample_max) == (16.0, 11.0, 0.9)
    assert (high.onset.ratio, high.release.envelope_blend) == (4.0, 0.0)
    assert low.release.envelope_blend == 0.5 and low.low_rate is None
    # the detector uses what it is given: unresolved parameters are refused
    with pytest.raises(ConfigError, match="at_rate"):
        OnsetReleaseDetector(200.0, p)
    det = OnsetReleaseDetector(200.0, low)
    assert det.params is low and (det.params.onset.ratio, det.params.onset.h) == (16.0, 11.0)
    # the live factory gives the detector exactly these
    _, built = build_emg_detection(200.0, 1, PipelineConfig())
    assert isinstance(built, OnsetReleaseDetector)
    assert built.params == dataclasses.replace(
        low, rest=dataclasses.replace(low.rest, calibration_s=PipelineConfig().calibration_s))
    assert DetectorParams().at_rate(1000.0) == DetectorParams(low_rate=None)
