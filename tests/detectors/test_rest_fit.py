"""Onset back-dating against the rest level before the change (detector version 11,
docs/detection.md): when the rest runs above the baseline just before a contraction, a
model that takes the rest to be the baseline explains the excess as the start of a slow
ramp and back-dates the onset too early; with the rest level fitted per candidate start
it does not. Version 10 (the baseline as the rest) is the control."""

from __future__ import annotations

import numpy as np

from isofeedback.config import PipelineConfig, versioned_config
from isofeedback.detectors.changepoint import ramp_change_point

FS = 1000.0


def _errors(rest_free: bool) -> list[float]:
    """Back-dating errors (ms) of a 50 ms ramp to 13× the rest at sample 400, on a rest
    1.4× the baseline, 20 seeds."""
    out = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        v = np.full(500, 1.4)
        v[400:] += 12.0 * np.clip((np.arange(100) + 1) / 50, 0, 1) ** 2
        z = v * rng.standard_normal(500) ** 2
        t = ramp_change_point(z, np.ones(500, bool), FS, 300, rest_free=rest_free)
        out.append(t - 400.0)
    return out


def test_a_raised_rest_does_not_move_the_onset_early() -> None:
    fitted, fixed = _errors(True), _errors(False)
    assert np.median(np.abs(fitted)) < 10.0
    # the control: against the baseline the onset comes early
    assert np.median(fixed) < -10.0 and np.median(np.abs(fixed)) > 15.0


def test_at_the_baseline_the_fitted_rest_changes_little() -> None:
    """A rest at the baseline: both models agree within a few ms (median)."""
    diffs = []
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        v = np.ones(500)
        v[400:] += 12.0 * np.clip((np.arange(100) + 1) / 50, 0, 1) ** 2
        z = v * rng.standard_normal(500) ** 2
        a = ramp_change_point(z, np.ones(500, bool), FS, 300, rest_free=True)
        b = ramp_change_point(z, np.ones(500, bool), FS, 300, rest_free=False)
        diffs.append(a - b)
    assert abs(float(np.median(diffs))) < 5.0


def test_version_11_fits_the_rest_from_500_hz_only() -> None:
    cur = PipelineConfig().detector
    assert cur.at_rate(1000.0).onset.rest_fit and cur.at_rate(1000.0).onset.rest_anchor_s == 0.3
    assert not cur.at_rate(200.0).onset.rest_fit  # too few samples in 0.3 s at wearable rates
    old = versioned_config({"detector_version": "10"}, "test").detector
    assert not old.at_rate(1000.0).onset.rest_fit and old.onset.rest_anchor_s == 0.1
