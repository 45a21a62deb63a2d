"""A gated "spike" whose raw signal stays up is a contraction that started at once
(``EmgChain(spike_level=True)``, detector version 20): its gate ends a few ms after it
began, while contact spikes keep their whole ringing hold — the same to the bit however
the stream is chunked."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isofeedback.config import versioned_config
from isofeedback.dsp.emg_chain import EmgChain
from isofeedback.research.eval import confirmed, detect_emg, instant_bursts, match_events
from isofeedback.types import Chunk, EventType

FS = 1000.0
STEPS = (4.0, 9.0)  # contractions that start at once, 30 dB above the rest
PULSES = (3.0, 7.0, 12.0)  # biphasic contact spikes, 3 ms a phase, 60 dB


def _record() -> np.ndarray:
    rng = np.random.default_rng(11)
    n = int(14 * FS)
    x = rng.standard_normal((n, 2))
    for t in STEPS:
        i = int(t * FS)
        x[i:i + 2000, :] += np.sqrt(1000.0) * rng.standard_normal((2000, 2)) * [1.0, 0.5]
    for t in PULSES:
        i = int(t * FS)
        x[i:i + 3, :] += 1000.0
        x[i + 3:i + 6, :] -= 600.0
    return x


X = _record()


def _gate(x: np.ndarray, cuts: list[int], level: bool) -> np.ndarray:
    chain = EmgChain(FS, 2, 50.0, calibration_s=2.0, chunk_invariant=True, spike_level=level)
    edges = [0, *sorted(c for c in set(cuts) if 0 < c < x.shape[0]), x.shape[0]]
    out = [chain.process(Chunk("emg", FS, a, a / FS, x[a:b], ("a", "b"))).data
           for a, b in itertools.pairwise(edges)]
    return np.vstack(out)


def _runs(gate: np.ndarray, t: float) -> int:
    """Gated samples from the first one within 5 ms of ``t``, until the first ungated
    one (the band-pass's output reaches the spike test's level a sample or two after a
    step)."""
    i = int(t * FS)
    i += int(np.argmax(gate[i:i + 5] > 0))
    return int(np.argmin(gate[i:] > 0))


def test_a_step_is_let_through_and_a_spike_is_held() -> None:
    old, new = _gate(X, [], False)[:, 2], _gate(X, [], True)[:, 2]
    for t in STEPS:
        assert _runs(old, t) >= 40 and 10 <= _runs(new, t) <= 17, (t, _runs(old, t),
                                                                   _runs(new, t))
    for t in PULSES:  # the spike and its ringing: gated as before, sample for sample
        i = int(t * FS)
        assert _runs(new, t) == _runs(old, t) >= 20
        assert np.array_equal(new[i - 50:i + 200], old[i - 50:i + 200])


@settings(max_examples=20, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=X.shape[0] - 1), min_size=1,
                     max_size=60))
def test_the_level_test_does_not_depend_on_the_chunking(cuts: list[int]) -> None:
    whole = _gate(X, [], True)
    assert np.array_equal(_gate(X, cuts, True), whole)


def test_live_packets_of_two_rows_give_the_same_gate() -> None:
    """Live packets take the chain's few-rows path, which knows only an earlier spike's
    hold: a level test due inside a packet sends it through the full gate."""
    whole = _gate(X, [], True)
    assert np.array_equal(_gate(X, list(range(2, X.shape[0], 2)), True), whole)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_contraction_that_starts_at_once_is_decided_at_once(seed: int) -> None:
    """Version 19 gated such onsets' first ~70 ms (decisions 50-90 ms late); version 20
    decides them within ~15 ms, and finds the same contractions."""
    rec = instant_bursts(seed, 30.0)
    late = {}
    for version in ("19", "20"):
        events, _ = detect_emg(rec, config=versioned_config({"detector_version": version},
                                                             "t"))
        onsets = [e for e in confirmed(events) if e.type == EventType.ONSET]
        m = match_events(rec.onsets, [e.t for e in onsets], 0.1)
        assert len(m.pairs) == 6 and not m.false
        late[version] = float(np.median([onsets[j].t_decided - rec.onsets[i]
                                         for i, j in m.pairs]))
    assert late["19"] > 0.04 and late["20"] < 0.02, late
