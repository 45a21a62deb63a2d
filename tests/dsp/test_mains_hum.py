"""Which mains frequency hums: found on hummed records of both mains, never on EMG,
artifacts or rest without a hum, and acted on by a foreign replay (a file recorded under
60 Hz mains read with the 50 Hz default lost every contraction to its hum)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from isofeedback.cli import main
from isofeedback.detectors.signal_quality import HUM_S, HUM_SHARE, SignalQualityDetector
from isofeedback.dsp.mains_hum import MainsHum, measure_hum
from isofeedback.research.batch import BatchJob, run_one
from isofeedback.research.replay import replay
from isofeedback.sim.script import benchmark_script
from isofeedback.sim.signals import synthesize
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.quality import QualityReporter
from isofeedback.types import Chunk, Event, EventType


def _record(mains_hz: float, level: float, seed: int = 3, fs: float = 1000.0,
            ) -> tuple[np.ndarray, int]:
    """A benchmark record (motion, spikes, drift) with a hum ``level`` times the weakest
    contraction's RMS at ``mains_hz`` (0: none), and how many contractions it holds."""
    script = benchmark_script(seed, 60.0, 10.0, with_artifacts=True, mains_hz=mains_hz or 50.0)
    script = dataclasses.replace(script, artifacts=dataclasses.replace(
        script.artifacts, mains_level=level if mains_hz else 0.0))
    return synthesize(script, emg_fs=fs, channels=2).emg, len(script.contractions)


@pytest.mark.parametrize("fs", [200.0, 1000.0, 2000.0])
@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_a_hum_is_found_at_its_frequency(mains: float, fs: float) -> None:
    x, _ = _record(mains, 3.0, fs=fs)  # three times the weakest contraction's RMS
    hum = measure_hum(x, fs)
    assert hum.hz == mains, hum.ratios
    assert hum.ratios[mains] > 10 * hum.ratios[110.0 - mains]


@pytest.mark.parametrize("seed", range(4))
def test_no_hum_is_found_in_emg_and_artifacts_without_one(seed: int) -> None:
    for fs in (200.0, 1000.0):
        x, _ = _record(0.0, 0.0, seed=seed, fs=fs)
        hum = measure_hum(x, fs)
        assert hum.hz is None, hum.ratios
        assert max(hum.ratios.values()) < 3.0


def test_too_short_or_too_slow_says_nothing() -> None:
    t = np.arange(500) / 1000.0
    assert measure_hum(np.sin(2 * np.pi * 60 * t), 1000.0).ratios == {50.0: 0.0, 60.0: 0.0}
    t = np.arange(1200) / 120.0  # 60 Hz at the Nyquist frequency: not measurable
    assert measure_hum(np.sin(2 * np.pi * 50 * t), 120.0).ratios[60.0] == 0.0


def test_both_humming_is_no_choice() -> None:
    shares = {50.0: 0.5, 60.0: 0.5}
    assert MainsHum({50.0: 40.0, 60.0: 30.0}, shares).hz is None
    assert MainsHum({50.0: 40.0, 60.0: 12.0}, shares).hz == 50.0
    assert MainsHum({50.0: 9.0, 60.0: 1.0}, shares).hz is None


def _csv(path: Path, x: np.ndarray, fs: float) -> Path:
    t = np.arange(x.shape[0]) / fs
    np.savetxt(path, np.column_stack([t, x]), delimiter=",", fmt="%.6f",
               header="t,emg1,emg2", comments="")
    return path


def test_a_replay_notches_the_mains_the_file_hums_at(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      ) -> None:
    x, contractions = _record(60.0, 30.0)
    path = _csv(tmp_path / "usa.csv", x, 1000.0)
    auto = replay(path)
    assert "a 60 Hz mains hum" in auto.meta["mains"]
    assert "notched at 60 Hz instead of 50" in auto.meta["mains"]
    assert auto.metrics()["onsets"] == contractions
    kept = replay(path, mains=50.0)  # as asked: the hum stays, and the replay says so
    assert "left in (notched at 50 Hz as asked)" in kept.meta["mains"]
    assert kept.metrics()["onsets"] < contractions // 2
    assert replay(path, mains=60.0).meta.get("mains") is None
    assert main(["replay", str(path)]) == 0
    assert "notched at 60 Hz instead of 50" in " ".join(capsys.readouterr().out.split())
    row = run_one(str(path), BatchJob(mains=50.0))
    assert row["onsets"] == kept.metrics()["onsets"]


def test_a_file_without_hum_replays_as_before(tmp_path: Path) -> None:
    x, contractions = _record(50.0, 1.0)
    path = _csv(tmp_path / "eu.csv", x, 1000.0)
    got = replay(path)
    assert "mains" not in got.meta
    assert got.metrics()["onsets"] == contractions


def test_mains_is_for_foreign_data(capsys: pytest.CaptureFixture[str]) -> None:
    native = Path(__file__).parents[2] / "recordings" / "myo-pir-sim.isorec"
    assert main(["replay", str(native), "--mains", "60"]) == 2
    assert "--mains applies to foreign data" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["replay", str(native), "--mains", "55"])


def _chunks(x: np.ndarray, fs: float, size: int) -> list[Chunk]:
    return [Chunk("emg", fs, i, i / fs, x[i:i + size], ("a", "b"))
            for i in range(0, x.shape[0], size)]


@pytest.mark.parametrize("size", [2, 37, 5000])
def test_a_live_session_says_when_the_rest_hums_at_a_mains_not_notched(size: int) -> None:
    """Live data has no replay to ask: the signal-quality watch measures the first
    seconds (the rest) once, and says ``mains`` (with the frequency) when an unnotched
    hum is at least half the rest's power, at the same sample whatever the chunking."""
    fs = 1000.0
    x, _ = _record(60.0, 30.0)

    def hums(mains: float | None) -> list[Event]:
        det = SignalQualityDetector(fs, mains_hz=mains)
        return [e for c in _chunks(x, fs, size) for e in det.process(c)
                if e.detail["issue"] == "mains"]

    (ev,) = hums(50.0)
    assert ev.type == EventType.SIGNAL_QUALITY and ev.t == ev.t_decided == (HUM_S * fs - 1) / fs
    assert ev.detail == {"issue": "mains", "state": "start", "channel": None, "hz": 60.0,
                         "notched": 50.0}
    assert ev.value is not None and HUM_SHARE <= ev.value <= 1.0
    assert hums(60.0) == [] and hums(None) == []
    assert len(hums(0.0)) == 1  # notches off: a hum is still said


def test_a_small_hum_or_none_is_not_a_quality_issue() -> None:
    fs = 1000.0
    # none, and a fifth of the weakest contraction's RMS (all 5 found unnotched; at the
    # weakest's RMS, 4 of 5 are: that one is said)
    for level in (0.0, 0.2):
        x, _ = _record(60.0, level)
        det = SignalQualityDetector(fs, mains_hz=50.0)
        assert not [e for c in _chunks(x, fs, 100) for e in det.process(c)
                    if e.detail["issue"] == "mains"]


def test_the_hum_reaches_the_quality_topic_and_the_replay(tmp_path: Path) -> None:
    x, _ = _record(60.0, 30.0)
    path = _csv(tmp_path / "usa.csv", x, 1000.0)
    kept = replay(path, mains=50.0)
    (ev,) = [e for e in kept.events if e.type == EventType.SIGNAL_QUALITY]
    assert ev.detail["issue"] == "mains" and ev.detail["hz"] == 60.0
    sent: list[Any] = []
    reporter = QualityReporter(Serializer("p1", "s1", 0.0), "file", sent.append)
    for o in kept.outputs:
        reporter.submit(o)
    assert json.loads(sent[0].payload)["issues"] == ["mains"]
    assert not [e for e in replay(path).events if e.type == EventType.SIGNAL_QUALITY]


# -- the chain chooses its notch (detector version 16) ------------------------------------

def _detect(x: np.ndarray, fs: float, version: str | None, size: int,
            mains: float = 50.0) -> tuple[list[Event], Any]:
    from isofeedback.config import versioned_config
    from isofeedback.detectors.factory import build_emg_detection

    cfg = versioned_config({"chain": {"mains_hz": mains}}, "test", version)
    chain, det = build_emg_detection(fs, x.shape[1], cfg, chunk_invariant=True)
    events = [e for c in _chunks(x, fs, size) for e in det.process(chain.process(c))]
    return events, chain


def _found(events: list[Event]) -> int:
    from isofeedback.detectors.retraction import confirmed

    return sum(e.type == EventType.ONSET for e in confirmed(events))


@pytest.mark.parametrize("size", [2, 37, 5000])
def test_a_live_chain_notches_the_mains_its_rest_hums_at(size: int) -> None:
    """A sensor used under 60 Hz mains with the 50 Hz default: version 15 kept the hum
    and found 2 of 5 contractions (the quality light said "mains"); version 16's chain
    measures the hum over its rest calibration and notches 60 Hz, at the same sample
    however the stream is chunked, and finds all of them."""
    fs = 1000.0
    x, count = _record(60.0, 3.0)
    before, _ = _detect(x, fs, "15", size)
    after, chain = _detect(x, fs, None, size)
    assert _found(before) < count and _found(after) == count
    assert chain.mains_hz == 60.0 and chain.mains_switched_from == 50.0
    reference, _ = _detect(x, fs, None, 5000)
    assert after == reference


def test_after_its_choice_the_chain_is_the_one_built_for_that_mains() -> None:
    """The calibration is run again through the chosen notch: from the calibration's end
    on, the output is a chain set to 60 Hz from the start, to the bit."""
    from isofeedback.dsp.emg_chain import EmgChain

    fs = 1000.0
    x, _ = _record(60.0, 3.0)
    chosen = EmgChain(fs, 2, 50.0, calibration_s=3.0, chunk_invariant=True, mains_auto=True)
    set_60 = EmgChain(fs, 2, 60.0, calibration_s=3.0, chunk_invariant=True)
    a = np.concatenate([chosen.process(c).data for c in _chunks(x, fs, 37)])
    b = np.concatenate([set_60.process(c).data for c in _chunks(x, fs, 37)])
    assert np.array_equal(a[3000:], b[3000:]) and not np.array_equal(a[:3000], b[:3000])


@pytest.mark.parametrize("hum_at", [0.0, 50.0])
def test_without_a_hum_at_the_other_mains_nothing_changes(hum_at: float) -> None:
    """No hum, or one at the notched frequency: the chain keeps its notch and the events
    of version 16 (which lets the hum choose it) are version 15's."""
    fs = 1000.0
    x, _ = _record(hum_at, 3.0)
    before, _ = _detect(x, fs, "15", 100)
    after, chain = _detect(x, fs, "16", 100)
    assert chain.mains_switched_from is None and chain.mains_hz == 50.0
    assert after == before


def test_the_notched_hum_is_said_once_but_is_no_quality_issue() -> None:
    """The quality watch says the chain's choice (it measures nothing itself): the hum it
    notched is said at the sample the chain chose (``state = "notched"``, for the
    clinician to set the country's mains), and the quality topic, which the patient's
    page shows, stays clear."""
    from isofeedback.dsp.emg_chain import EmgChain

    fs = 1000.0
    x, _ = _record(60.0, 30.0)
    chain = EmgChain(fs, 2, 50.0, calibration_s=3.0, mains_auto=True)
    det = SignalQualityDetector(fs, mains_hz=50.0, chain_hum=lambda: chain.hum)
    said = []
    for c in _chunks(x, fs, 37):
        chain.process(c)  # the chain first, as the pipeline feeds them
        said += [e for e in det.process(c) if e.detail["issue"] == "mains"]
    (ev,) = said
    assert ev.detail == {"issue": "mains", "state": "notched", "channel": None, "hz": 60.0,
                         "notched": 60.0, "configured": 50.0}
    assert ev.t == (3.0 * fs - 1) / fs
    sent: list[Any] = []
    reporter = QualityReporter(Serializer("p1", "s1", 0.0), "file", sent.append)
    reporter.submit(ev)
    assert all(json.loads(m.payload)["issues"] == [] for m in sent)


def test_the_double_threshold_detector_also_calibrates_through_the_chosen_notch() -> None:
    """The comparison detector takes the chain's rerun calibration too: its rest baseline
    is the notched rest's, not the hum's."""
    from isofeedback.config import versioned_config
    from isofeedback.detectors.factory import build_emg_detection

    fs = 1000.0
    x, _ = _record(60.0, 30.0)
    baselines = {}
    for mains in (50.0, 60.0):
        cfg = versioned_config({"chain": {"mains_hz": mains},
                                "onset_detector": "double_threshold"}, "test", None)
        chain, det = build_emg_detection(fs, 2, cfg, chunk_invariant=True)
        for c in _chunks(x, fs, 37):
            det.process(chain.process(c))
        baselines[mains] = det.baseline
    assert baselines[50.0] == baselines[60.0]  # chosen at 60, or set to 60 from the start


def test_with_notches_off_a_live_hum_is_still_said() -> None:
    """``mains_hz = 0`` (notches off on purpose): the chain chooses nothing, and the
    quality watch measures and says a hum itself, as before version 16."""
    from isofeedback.coach.protocol import find_protocol
    from isofeedback.config import PipelineConfig
    from isofeedback.pipeline import Pipeline
    from isofeedback.profiles.schema import find_profile

    x, _ = _record(60.0, 30.0)  # 1 kHz, each sample held twice for the 2 kHz sensor
    prof = find_profile("openemg")
    cfg = PipelineConfig().updated({"chain.mains_hz": 0.0})
    pipe = Pipeline({"arm": prof}, find_protocol("pir"), cfg)
    names = tuple(prof.stream("emg").channels)
    fs = prof.stream("emg").fs
    y = np.repeat(x, int(fs // 1000), axis=0)[: int(4 * fs)]
    y = np.tile(y[:, :1], (1, len(names)))
    said = [o for i in range(0, y.shape[0], 40)
            for o in pipe.process_chunk(Chunk("emg", fs, i, i / fs, y[i:i + 40], names,
                                              device="arm"))
            if isinstance(o, Event) and o.type == EventType.SIGNAL_QUALITY]
    assert [(e.detail["issue"], e.detail["state"], e.detail["hz"]) for e in said] == [
        ("mains", "start", 60.0)]
