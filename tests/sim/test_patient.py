"""The simulated patient: deterministic, labelled, and encoded exactly as a device would."""

from __future__ import annotations

import numpy as np
import pytest

from isofeedback.profiles.decoder import Decoder
from isofeedback.profiles.schema import find_profile
from isofeedback.sim import Artifacts, Faults, benchmark_script, packetize, protocol_script
from isofeedback.sources.simulated import simulate_for_profile


def test_same_seed_same_samples_and_packets() -> None:
    prof = find_profile("myo")
    a = simulate_for_profile(protocol_script(seed=4), prof)
    b = simulate_for_profile(protocol_script(seed=4), prof)
    c = simulate_for_profile(protocol_script(seed=5), prof)
    assert np.array_equal(a.emg, b.emg) and np.array_equal(a.gyro, b.gyro)
    assert not np.array_equal(a.emg, c.emg)
    assert [p.data for p in packetize(a, prof)] == [p.data for p in packetize(b, prof)]


def test_labels_follow_the_script() -> None:
    script = protocol_script(
        reps=2, hold=6.0, seed=2, faults=Faults(move_in_rep=0, move_degrees=9.0)
    )
    s = simulate_for_profile(script, find_profile("openemg"))
    t = np.arange(s.activation.size) / s.emg_fs
    for c in script.contractions:
        assert s.activation[(t >= c.onset - 0.01) & (t < c.onset)].max() == 0.0
        assert s.activation[
            (t > c.hold_start + 0.1) & (t < c.hold_start + 1)
        ].min() == pytest.approx(c.level)
        assert s.activation[(t > c.release + 0.01) & (t < c.release + 0.5)].max() == 0.0
    (crossing,) = s.movement_crossings(5.0)
    move = next(m for m in script.movements if not m.passive)
    assert move.start < crossing < move.end
    phases = [p for _, p in s.phases()]
    assert phases[:5] == ["rest", "contracting", "holding", "releasing", "relaxing"]


def test_emg_amplitude_matches_level_and_snr() -> None:
    script = protocol_script(
        reps=1, level=0.2, seed=1, artifacts=Artifacts(snr_db=20.0), mvc_capture=False
    )
    s = simulate_for_profile(script, find_profile("openemg"))
    c = script.contractions[0]
    t = np.arange(s.emg.shape[0]) / s.emg_fs
    hold = s.emg[(t > c.hold_start + 0.5) & (t < c.hold_start + 3.0), script.target_channel]
    rest = s.emg[t < c.onset - 0.5, script.target_channel]
    assert np.sqrt(np.mean(hold**2)) == pytest.approx(0.2 * s.mvc_rms, rel=0.1)
    snr = 20 * np.log10(np.sqrt(np.mean(hold**2)) / np.sqrt(np.mean(rest**2)))
    assert snr == pytest.approx(20.0, abs=1.0)


@pytest.mark.parametrize("profile", ["myo", "openemg"])
def test_packets_decode_back_to_the_signals(profile: str) -> None:
    prof = find_profile(profile)
    s = simulate_for_profile(protocol_script(reps=1, seed=3), prof)
    dec = Decoder(prof, "sim")
    chunks = [c for p in packetize(s, prof) for c in dec.decode(p)]
    spec = prof.stream("emg")
    emg = np.concatenate([c.data for c in chunks if c.stream == "emg"])
    lo, hi = (-128, 127) if profile == "myo" else (-32768, 32767)
    expect = np.clip(np.rint(s.emg[: emg.shape[0]] / spec.scale), lo, hi) * spec.scale
    assert emg.shape[0] >= s.emg.shape[0] - 10
    assert np.array_equal(emg, expect)
    gyro = np.concatenate([c.data for c in chunks if c.stream == "gyro"])
    assert np.abs(gyro - s.gyro[: gyro.shape[0]]).max() <= prof.stream("gyro").scale / 2 + 1e-9
    assert dec.stats.lost_packets == 0 and dec.stats.malformed == 0
    # session times follow the true sample times within the link latency
    first = next(c for c in chunks if c.stream == "emg" and c.start_index > 1000)
    assert abs(first.t_first - first.start_index / spec.fs) < 0.02


def test_disconnect_window_loses_packets_and_decoder_marks_gap() -> None:
    prof = find_profile("openemg")
    script = protocol_script(reps=1, seed=1)
    script = type(script)(
        **{
            **{f: getattr(script, f) for f in script.__dataclass_fields__},
            "disconnects": ((8.0, 9.5),),
        }
    )
    s = simulate_for_profile(script, prof)
    dec = Decoder(prof, "sim")
    chunks = [c for p in packetize(s, prof) for c in dec.decode(p)]
    gaps = [c for c in chunks if c.stream == "emg" and c.gap_before]
    assert len(gaps) == 1
    assert gaps[0].gap_before / prof.stream("emg").fs == pytest.approx(1.5, abs=0.01)
    assert abs(gaps[0].t_first - 9.5) < 0.03


def test_benchmark_script_matches_issue_description() -> None:
    for seed in range(5):
        sc = benchmark_script(seed, duration=60.0, snr_db=10.0, with_artifacts=seed % 2 == 0)
        assert sc.contractions[0].onset >= 2.0
        for c in sc.contractions:
            assert 3.0 <= c.release - c.onset <= 10.0 + 1e-9
            assert 0.1 <= c.level <= 0.4 and 0.02 <= c.ramp_up <= 0.2
        for a, b in zip(sc.contractions, sc.contractions[1:], strict=False):
            assert 3.0 <= b.onset - a.release <= 8.0
