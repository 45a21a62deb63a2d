"""The rise of a raised rest split between the sensor (common to every electrode) and the
muscle (in its hold's pattern), and the chain's per-channel power it is read from."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isofeedback.config import PipelineConfig
from isofeedback.detectors.factory import build_emg_detection, chain_sensor_rise
from isofeedback.detectors.params import DetectorParams
from isofeedback.detectors.sensor_rise import sensor_part, sensor_share
from isofeedback.errors import ConfigError
from isofeedback.research.eval import chunk_stream


@settings(max_examples=200, deadline=None)
@given(
    g=st.floats(0.0, 5.0),
    a=st.floats(0.0, 0.5),
    hold=st.lists(st.floats(0.0, 200.0), min_size=2, max_size=8),
)
def test_the_common_part_is_recovered_from_exact_rises(g: float, a: float,
                                                       hold: list[float]) -> None:
    h = np.asarray(hold)
    rest = np.linspace(1.0, 3.0, h.size)  # each channel its own rest power
    split = sensor_share(rest * (1.0 + g + a * h), rest, h)
    spread = h - h.mean()
    if h.max() <= 0 or h.min() > 0.25 * h.max() or not spread @ spread > 0:
        assert split is None  # a hold seen alike everywhere cannot tell them apart
    else:
        assert split is not None
        tol = 1e-9 * (1 + a * h.max())
        assert split.common == pytest.approx(g, abs=tol)
        assert split.muscle == pytest.approx(a, abs=tol / max(float(h.max()), 1e-12))
        # the sensor's part of a mix of the channels: all of a rise common to them, none
        # of a rise in the hold's pattern only (the mix the envelope's weights make)
        mixed = g + a * float(h.mean())
        part = sensor_part(split, mixed)
        if g >= 0.8 * (1 + mixed) - 1:
            assert part == mixed
        else:
            assert part == pytest.approx(min(g, mixed), abs=tol)


def test_one_channel_or_mismatched_shapes_cannot_tell() -> None:
    one = np.ones(1)
    assert sensor_share(one * 2, one, one * 5) is None
    assert sensor_share(np.ones(3), np.ones(2), np.ones(3)) is None
    assert sensor_share(np.array([np.nan, 1.0]), np.ones(2), np.array([5.0, 0.0])) is None


def test_the_setting_is_a_boolean() -> None:
    with pytest.raises(ConfigError, match="spatial_rest"):
        DetectorParams(spatial_rest="yes")  # type: ignore[arg-type]


def _armband(fs: float, seconds: float) -> np.ndarray:
    """8 channels of white rest noise with one 3 s contraction under channels 2–3 (the
    others see a little of it), then the noise on every channel 2.5× in power."""
    rng = np.random.default_rng(4)
    n = int(seconds * fs)
    x = rng.standard_normal((n, 8))
    t = np.arange(n) / fs
    pattern = np.array([0.05, 0.3, 1.0, 0.5, 0.05, 0.0, 0.0, 0.0])
    hold = (t >= 3.0) & (t < 6.0)
    x[hold] += 6.0 * rng.standard_normal((int(hold.sum()), 8)) * pattern
    x[t >= 6.0] *= np.sqrt(2.5)
    return x


@pytest.mark.parametrize("chunk_s", [0.01, 0.05, 0.37])
def test_the_chain_keeps_each_channels_power_as_it_gave_it(chunk_s: float) -> None:
    fs = 200.0
    x = _armband(fs, 8.0)
    cfg = PipelineConfig().updated({"detector.rest.calibration_s": 2.0})
    chain, _ = build_emg_detection(fs, 8, cfg)
    out = []
    last = 0
    for c in chunk_stream(x, fs, "emg", chunk_s):
        chain.process(c)
        last = c.data.shape[0]
        if chain._chan_power is not None:  # the rows the chain kept, as it kept them
            out.append(chain._chan_power.last(last).copy())
    kept = np.vstack(out)
    n = x.shape[0]
    # the last 0.75 s, read back as the detector reads them: the mean of the rows given
    a, b = n - 150, n
    got = chain.channel_power(a, b)
    assert got is not None
    assert np.array_equal(got, kept[a:b].mean(axis=0))
    # older than what is kept (the longer of level_drop.s and rest.train_s, + 2 blocks:
    # 2.5 s, before the last chunk): not given
    assert chain.channel_power(n - 500 - last, n) is not None
    assert chain.channel_power(n - 501 - last, n) is None
    assert chain.channel_power(b, b + 1) is None


def test_the_chain_reads_a_rise_on_every_electrode_as_the_sensors() -> None:
    fs = 200.0
    x = _armband(fs, 8.0)
    cfg = PipelineConfig().updated({"detector.rest.calibration_s": 2.0})
    chain, _ = build_emg_detection(fs, 8, cfg)
    for c in chunk_stream(x, fs, "emg", 0.05):
        chain.process(c)
    n = x.shape[0]
    got = chain_sensor_rise(chain, n - 150, n)
    assert got is not None and 1.2 < got < 1.8  # 2.5× the rest power: +1.5, all the sensor's
    # without the setting the chain keeps nothing and cannot tell
    off = PipelineConfig().updated({"detector.rest.calibration_s": 2.0,
                                    "detector.spatial_rest": False})
    chain, _ = build_emg_detection(fs, 8, off)
    for c in chunk_stream(x, fs, "emg", 0.05):
        chain.process(c)
    assert chain_sensor_rise(chain, n - 150, n) is None


def test_the_coachs_baseline_is_told_again_after_a_rise_then_follows_as_before() -> None:
    """After a rise whose sensor's part the electrodes told, until ``follow_until`` the
    envelope's baseline is set from its level before the rise by what they tell (each
    time over more of the rest since), not moved by the slow follow; an onset ends it."""
    from isofeedback.detectors.params import RestModel, SampleCounts
    from isofeedback.detectors.rest_model import RestTracker

    model = RestModel(block_s=0.25, adapt_s=30.0)
    rest = RestTracker(model, SampleCounts.at(200.0, model))
    rest.calibrate(np.full(400, 2.0), np.full(400, 1.0), np.zeros(400), 0)
    assert rest.baseline == 2.0
    rest.rise(3.0, envelope_by=2.0, follow_until=1000)
    assert rest.baseline == pytest.approx(2.0 * np.sqrt(2.0))  # the first telling
    rest.sensor_level(1.25)  # told again over a longer rest: +1.25, not +1
    assert rest.baseline == pytest.approx(2.0 * 1.5)
    # a rest block before ``follow_until`` does not move it; one after does, slowly
    for end in (950, 1050):
        rest.add(np.ones(50), np.full(50, 4.0), None)
        rest.end_block(False, end)
    assert rest.following(1000) is False
    assert rest.baseline == pytest.approx(3.0 + rest.alpha * (4.0 - 3.0))
    # an onset ends a telling still under way
    rest.rise(1.0, envelope_by=1.0, follow_until=5000)
    rest.onset()
    before = rest.baseline
    rest.sensor_level(3.0)
    assert rest.baseline == before


def test_the_split_does_not_depend_on_how_the_samples_come() -> None:
    """A Myo-like armband (8 channels, 200 Hz, int8) whose noise rises 2.5× in a hold:
    its level drop's sensor part, the part told again after it and the ``noisy`` quality
    event are the same, to the bit, for a live packet's 2 rows, odd sizes and one chunk
    of the whole record (a replay's chunks run far ahead of the detector's block ends)."""
    from isofeedback.coach.protocol import find_protocol
    from isofeedback.research.eval import quantize_int8
    from isofeedback.sim.scenarios import noise_rise_script
    from isofeedback.sim.signals import synthesize
    from isofeedback.types import Chunk

    fs = 200.0
    ses = synthesize(noise_rise_script(find_protocol("pir"), seed=0), emg_fs=fs, channels=8,
                     mvc_rms=60.0)
    x = quantize_int8(ses.emg)[: int(40 * fs)]
    names = tuple(f"c{k}" for k in range(8))
    runs = []
    for step in (x.shape[0], 2, 7, 333):
        cfg = PipelineConfig().updated({"detector.rest.calibration_s": 2.0,
                                        "chain.full_scale": 127.0})
        chain, det = build_emg_detection(fs, 8, cfg)
        events = []
        for a in range(0, x.shape[0], step):
            events += det.process(chain.process(Chunk("emg", fs, a, a / fs, x[a:a + step],
                                                      names)))
        runs.append([(e.type.value, e.t.hex(), sorted(e.detail.items())) for e in events])
        runs[-1].append(("baseline", float(det.rest.baseline or 0.0).hex(), []))
    said = [e for e in runs[0] if e[0] == "signal_quality"]
    drops = [e for e in runs[0] if e[0] == "release" and ("by", "level_drop") in e[2]]
    assert said and any(k == "sensor_rise" for d in drops for k, _ in d[2]), runs[0]
    assert all(r == runs[0] for r in runs[1:])
