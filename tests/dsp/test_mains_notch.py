"""Mains hum: the notches follow the configured mains frequency (50 Hz in Europe, 60 Hz in
the Americas) and its harmonics, so a hum several times the rest noise leaves the envelope
as it was without hum."""

from __future__ import annotations

import numpy as np
import pytest

from isofeedback.dsp.emg_chain import EmgChain
from isofeedback.types import Chunk

FS = 1000.0


def _rest_envelope(hum_hz: float | None, mains_hz: float) -> float:
    rng = np.random.default_rng(1)
    n = int(10 * FS)
    t = np.arange(n) / FS
    x = rng.standard_normal(n)
    if hum_hz is not None:  # a hum 5× the noise RMS with two harmonics
        x += sum(a * np.sqrt(2) * 5.0 * np.sin(2 * np.pi * k * hum_hz * t + k)
                 for k, a in ((1, 1.0), (2, 0.3), (3, 0.2)))
    chain = EmgChain(FS, 1, mains_hz=mains_hz, calibration_s=2.0)
    out = chain.process(Chunk("emg", FS, 0, 0.0, x[:, None], ("a",)))
    return float(np.mean(out.data[int(3 * FS):, 0]))  # envelope after the notches settled


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_hum_at_the_configured_mains_frequency_is_removed(mains: float) -> None:
    clean = _rest_envelope(None, mains)
    assert _rest_envelope(mains, mains) == pytest.approx(clean, rel=0.1)


def test_the_wrong_mains_setting_leaves_the_hum() -> None:
    clean = _rest_envelope(None, 50.0)
    assert _rest_envelope(60.0, 50.0) > 3 * clean  # 60 Hz hum, notches at 50/100/150 Hz
