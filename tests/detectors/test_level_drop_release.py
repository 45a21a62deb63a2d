"""A muscle that lets go to a level above the calibrated rest (seen on real Myo data: the
rest after a contraction at ~3× the calibration's amplitude) still ends the activation,
and the next contraction is found."""

from __future__ import annotations

import numpy as np
from scipy import signal

from isofeedback.detectors.onset_release import OnsetReleaseDetector
from isofeedback.detectors.params import DetectorParams, RestModel
from isofeedback.dsp.emg_chain import EmgChain
from isofeedback.research.eval import chunk_stream
from isofeedback.types import EventType

FS = 1000.0
# (start s, amplitude): calibration rest, hold, a raised rest, hold, raised rest
SEGMENTS = [(0.0, 1.0), (3.0, 10.0), (6.0, 3.0), (10.0, 10.0), (13.0, 3.0)]
END_S = 17.0


def _signal() -> np.ndarray:
    rng = np.random.default_rng(3)
    n = int(END_S * FS)
    amp = np.zeros(n)
    for (t, a), nxt in zip(SEGMENTS, [*SEGMENTS[1:], (END_S, 0.0)], strict=True):
        amp[int(t * FS):int(nxt[0] * FS)] = a
    sos = signal.butter(4, [20, 450], btype="bandpass", fs=FS, output="sos")
    return np.asarray(signal.sosfilt(sos, rng.standard_normal(n)) * amp)


def test_release_to_a_raised_rest_ends_the_activation_and_the_next_onset_is_found() -> None:
    x = _signal()[:, None]
    chain = EmgChain(FS, 1, 50.0, calibration_s=2.0)
    params = DetectorParams(rest=RestModel(calibration_s=2.0)).at_rate(FS)
    det = OnsetReleaseDetector(FS, params, delay_s=chain.power_delay_s,
                               chain_filters=chain.filters)
    events = [e for c in chunk_stream(x, FS, "emg", 0.05)
              for e in det.process(chain.process(c))
              if e.type in (EventType.ONSET, EventType.RELEASE)]
    assert [e.type.value for e in events] == ["onset", "release", "onset", "release"]
    onsets = [e.t for e in events if e.type == EventType.ONSET]
    releases = [e for e in events if e.type == EventType.RELEASE]
    assert abs(onsets[0] - 3.0) < 0.05 and abs(onsets[1] - 10.0) < 0.05
    # the first release ends by the level drop (the rest test alone never fires: the new
    # rest is ~9× the calibration's power), and the rest baseline moves to the new level ...
    first, second = releases
    assert first.detail["by"] == "level_drop" and 5.0 < first.detail["rest_rise"] < 15.0
    assert abs(first.t - 6.0) < 0.3 and first.t_decided - 6.0 < 1.0
    # ... so the second release, to the same raised rest, is the ordinary quick decision
    assert "by" not in second.detail
    assert abs(second.t - 13.0) < 0.05 and second.t_decided - 13.0 < 0.2
