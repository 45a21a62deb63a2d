"""A rest that rose during a hold, seen in a train of brief activations (detector version
18, docs/detection.md, *Brief activations after a hold*): version 17 is the control."""

from __future__ import annotations

import numpy as np
import pytest

from isofeedback.config import versioned_config
from isofeedback.detectors.rest_rise import RestRiseWatch
from isofeedback.research.eval import EmgRecord, confirmed, detect_emg
from isofeedback.types import EventType

FS = 1000.0


def _record(seed: int) -> EmgRecord:
    """White rest noise; a 6 s contraction at 4 s during which the rest's power rises
    2.5× (at 7 s) and stays; a second contraction at 22 s."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(30 * FS)) / FS
    noise = np.where(t < 7.0, 1.0, np.sqrt(2.5)) * rng.standard_normal(t.size)
    a = np.where((t >= 4) & (t < 10), 4.0, 0.0) + np.where((t >= 22) & (t < 26), 5.0, 0.0)
    x = noise + a * rng.standard_normal(t.size)
    return EmgRecord(x[:, None], FS, (4.0, 22.0), (10.0, 26.0), (0.0, 2.0), f"rise{seed}")


def _run(version: str, seed: int) -> tuple[int, list[tuple[str, float]]]:
    """Retracted activations, and the confirmed onsets and releases."""
    events, _ = detect_emg(_record(seed), config=versioned_config(
        {"detector_version": version}, "test"))
    retracted = sum(e.type == EventType.RETRACTED for e in events)
    kept = [(e.type.value, e.t) for e in confirmed(events)
            if e.type in (EventType.ONSET, EventType.RELEASE)]
    return retracted, kept


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_rest_risen_during_a_hold_stops_the_train_of_blips(seed: int) -> None:
    before, kept_before = _run("17", seed)
    after, kept = _run("18", seed)
    # version 17: an onset every ~0.55 s for the 12 s between the contractions, each
    # retracted; version 18: the train stops after its first few
    assert before >= 20 and after <= 4, (before, after)
    # both contractions kept, where they are, and nothing else confirmed
    assert [k for k, _ in kept] == ["onset", "release", "onset", "release"], kept
    assert all(abs(t - truth) < 0.6 for (_, t), truth in zip(kept, (4.0, 10.0, 22.0, 26.0),
                                                             strict=True))
    assert len(kept_before) >= 4


def _watch() -> RestRiseWatch:
    w = RestRiseWatch(window=2000, count=3, block=250, quantile=0.2, duty=0.4)
    for end in range(250, 4001, 250):
        w.block(end, 2.0)  # every block at twice the rest
    return w


def test_a_train_of_blips_raises_the_rest_to_its_blocks() -> None:
    w = _watch()
    assert w.brief(2500, 2600, 1.0) is None and w.brief(3000, 3100, 1.0) is None
    # the rest doubled, all of it taken for the sensor's (the coach's baseline follows)
    assert w.brief(3500, 3600, 1.0) == (pytest.approx(2.0), pytest.approx(2.0), False)
    # the train was used: the next blip starts a new one
    assert w.brief(3900, 4000, 1.0) is None


def test_a_weak_contraction_in_pieces_is_not_a_train() -> None:
    """Pieces of 0.4 s, 0.15 s apart: active most of the time."""
    w = _watch()
    assert [w.brief(a, a + 400, 1.0) for a in (2300, 2850, 3400)] == [None, None, None]


def test_the_electrodes_tell_blips_that_fill_the_time_from_a_contraction() -> None:
    """At wearable rates blips last ~0.3 s and fill the duty: with several channels the
    rise's spread decides (detector version 22). Spread over every electrode alike (a
    common part of at least 0.8 of the rise): the sensor's, the rest rises; in the
    hold's pattern (no common part): a weak contraction in pieces, it does not."""
    spans: list[tuple[int, int]] = []

    def spread(common: float):  # type: ignore[no-untyped-def]
        def sensor(a: int, b: int) -> float:
            spans.append((a, b))
            return common
        return sensor

    w = _watch()
    got = [w.brief(a, a + 400, 1.0, spread(1.1)) for a in (2300, 2850, 3400)]
    assert got[:2] == [None, None] and got[2] == (pytest.approx(2.0), pytest.approx(2.1),
                                                  True)
    assert spans[-1] == (2300, 3800)  # asked over the train, first onset to last release
    w = _watch()
    assert [w.brief(a, a + 400, 1.0, spread(0.3)) for a in (2300, 2850, 3400)] == [
        None, None, None]
    # a train of short blips whose rise the electrodes show in the muscle's pattern
    # still raises the rest, but the coach's baseline moves by the common part only
    w = _watch()
    w.brief(2500, 2600, 1.0, spread(0.1))
    w.brief(3000, 3100, 1.0, spread(0.1))
    assert w.brief(3500, 3600, 1.0, spread(0.1)) == (pytest.approx(2.0), pytest.approx(1.1),
                                                     True)


def test_a_contraction_starts_the_window_afresh() -> None:
    w = _watch()
    w.brief(2500, 2600, 1.0)
    w.brief(3000, 3100, 1.0)
    w.contraction(3300)  # released at 3050 + settle: the blips before it do not count
    assert w.brief(3500, 3600, 1.0) is None


def test_no_rise_when_the_blocks_are_at_the_rest() -> None:
    w = _watch()
    w.brief(2500, 2600, 2.0)
    w.brief(3000, 3100, 2.0)
    assert w.brief(3500, 3600, 2.0) is None


def test_the_rise_does_not_depend_on_how_the_samples_come() -> None:
    """The rise is taken at a block end, from blocks and releases at fixed samples: a
    live packet's 2 rows (the few-rows path), odd sizes and one big chunk give the same
    events, to the bit."""
    from isofeedback.config import PipelineConfig
    from isofeedback.detectors.factory import build_emg_detection
    from isofeedback.types import Chunk

    x = _record(2).emg
    runs = []
    for step in (x.shape[0], 2, 7, 333):
        chain, det = build_emg_detection(FS, 1, PipelineConfig().updated(
            {"detector.rest.calibration_s": 2.0}))
        events = []
        for a in range(0, x.shape[0], step):
            events += det.process(chain.process(Chunk("emg", FS, a, a / FS, x[a:a + step],
                                                      ("a",))))
        runs.append([(e.type.value, e.t.hex(), e.t_decided.hex()) for e in events])
    assert sum(k == "retracted" for k, _, _ in runs[0]) <= 4  # the train was stopped
    assert all(r == runs[0] for r in runs[1:])
