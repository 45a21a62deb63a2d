"""The EMG chain filters the mains notches once per chunk when it can: the spike gate's
notch copy and the main notch hold the same state whenever no zeroed spike separates
them, and then the gate's output *is* the main output. That shortcut must change nothing:
the chain's output is compared, to the bit, with a chain that always filters twice, on
records with hum, motion artifacts, contact spikes and (int8) saturation."""

from __future__ import annotations

import numpy as np
import pytest

from isofeedback.dsp.emg_chain import EmgChain
from isofeedback.research.eval import chunk_stream, simulated_records


def _run(rec_emg: np.ndarray, fs: float, full_scale: float | None, share: bool) -> np.ndarray:
    chain = EmgChain(fs, rec_emg.shape[1], 50.0, calibration_s=2.0, full_scale=full_scale)
    chain.share_notch = share
    return np.vstack([chain.process(c).data for c in chunk_stream(rec_emg, fs, "emg", 0.02)])


@pytest.mark.parametrize("fs", [200.0, 2000.0])
def test_sharing_the_notch_pass_gives_the_same_output_to_the_bit(fs: float) -> None:
    for rec in simulated_records(2, 10.0, fs, 3, "all", fs <= 250, duration=20.0):
        fast = _run(rec.emg, fs, rec.full_scale, True)
        slow = _run(rec.emg, fs, rec.full_scale, False)
        assert fast.tobytes() == slow.tobytes()
        # the records do have spikes or saturation (gated samples after calibration):
        # otherwise the two paths would never differ and this would prove nothing
        assert fast[int(2 * fs):, 2].any()


def test_the_shortcut_is_taken_on_most_chunks_and_not_right_after_a_spike() -> None:
    rec = simulated_records(1, 10.0, 1000.0, 1, "all", duration=30.0)[0]
    chain = EmgChain(1000.0, 1, 50.0, calibration_s=2.0)
    shared = []
    for c in chunk_stream(rec.emg, 1000.0, "emg", 0.05):
        before = chain._notch_shared
        out = chain.process(c)
        shared.append(before and not out.data[:, 2].any())
    frac = float(np.mean(shared))
    assert 0.5 < frac < 1.0  # spikes (4/min) interrupt it for a few seconds each


def test_the_cascade_is_the_two_filters_to_the_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A live packet goes through the band-pass and the gate's notch as one cascade of
    sections (:meth:`EmgChain._filter`): on 8-channel records with contact spikes and
    saturation, in 2-row packets, the output and the learnt weights are those of the two
    filters called one after the other; the packets with a spike (whose band-pass output
    is recomputed from the state before them) are among them."""
    again = []
    real = EmgChain._bandpass_again

    def counted(chain: EmgChain, raw: np.ndarray) -> np.ndarray:
        again.append(raw.shape[0])
        return real(chain, raw)

    monkeypatch.setattr(EmgChain, "_bandpass_again", counted)
    for fs in (200.0, 2000.0):
        for rec in simulated_records(2, 10.0, fs, 11, "all", fs <= 250, duration=30.0,
                                     channels=8):
            outs = []
            for cascade in (True, False):
                chain = EmgChain(fs, 8, 50.0, calibration_s=2.0, full_scale=rec.full_scale)
                chain.cascade = cascade
                data = [chain.process(c).data for c in chunk_stream(rec.emg, fs, "emg", 2 / fs)]
                outs.append(np.vstack(data).tobytes() + chain.weights.tobytes())
            assert outs[0] == outs[1]
    assert again  # spikes met inside the cascade: the band-pass output recomputed
