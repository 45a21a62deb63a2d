"""Replay: exact reproduction of the live run, determinism, other configs, batch, Dask."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import platform
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from isofeedback.cli import main
from isofeedback.config import PipelineConfig
from isofeedback.pipeline import Pipeline
from isofeedback.recording.format import encode_output
from isofeedback.recording.reader import RecordingReader
from isofeedback.research.batch import BatchJob, replay_dask, replay_local
from isofeedback.research.replay import events_jsonl, replay
from isofeedback.types import Chunk


@pytest.mark.parametrize("name", ["myo-pir-sim.isorec", "openemg-met-sim.isorec"])
def test_verify_passes_on_the_sample_recordings(copy_sample: Any, name: str) -> None:
    result = replay(copy_sample(name), verify=True)
    assert result.simulated
    assert result.verified, (f"{result.difference}\n(if detection or coaching changed on "
                             "purpose: python benchmarks/make_sample_recordings.py)")
    assert result.checked and result.checked > 500


# BLAS kernels and thread counts that another machine could pick: numpy's BLAS chooses a
# kernel for the CPU (OPENBLAS_CORETYPE forces one; Prescott runs on any x86-64), and each
# adds in its own order. The data path must not depend on it: the sample recordings were
# made on one machine and must replay exactly on any other.
_OTHER_MACHINES = [{"OPENBLAS_NUM_THREADS": "1"}, {"OPENBLAS_NUM_THREADS": "2"}]
if platform.machine() in ("x86_64", "AMD64"):
    _OTHER_MACHINES.append({"OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_NUM_THREADS": "1"})


def _simd_levels() -> list[dict[str, str]]:
    """numpy computes log, exp, arctan2, arccos, tan … with code chosen for the processor:
    on one with AVX-512 its own routines, whose last bits differ from the C library's that
    an AVX2 processor or an ARM one (a Raspberry Pi gateway) uses (measured: exp differs in
    5 % of values, arctan2 in 5 %, arccos in 8 %). A machine whose numpy dispatches above
    its baseline replays as the machines below it would: without its AVX-512 paths, and
    with none (NPY_DISABLE_CPU_FEATURES); designs are computed afresh (XDG_CACHE_HOME)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # (numpy < 2)
        return []
    on = [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
    wide = [f for f in on if "512" in f or f == "X86_V4"]
    levels = [wide, on] if wide and wide != on else [on]
    return [{"NPY_DISABLE_CPU_FEATURES": " ".join(f), "XDG_CACHE_HOME": ""}
            for f in levels if f]


@pytest.mark.parametrize("env", _OTHER_MACHINES + _simd_levels(),
                         ids=lambda e: ",".join(v for v in e.values() if v))
def test_verify_passes_whatever_blas_kernel_the_machine_picks(
    copy_sample: Any, env: dict[str, str], tmp_path: Path
) -> None:
    """(and whatever vectorised maths numpy picks for the processor)"""
    if "XDG_CACHE_HOME" in env:  # filter designs computed on this "machine", not read back
        env = {**env, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for name in ("myo-pir-sim.isorec", "openemg-met-sim.isorec"):
        proc = subprocess.run(
            [sys.executable, "-m", "isofeedback", "replay", str(copy_sample(name)), "--verify"],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == 0 and "verify OK" in proc.stdout, proc.stdout + proc.stderr


def test_verify_reproduces_a_fresh_recording(myo_recording: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(myo_recording), "--verify"]) == 0
    assert "verify OK" in capsys.readouterr().out


def test_verify_reports_the_first_difference(myo_recording: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(myo_recording) as con:
        seq, doc = con.execute("SELECT seq, doc FROM outputs WHERE kind='event' "
                               "ORDER BY seq LIMIT 1 OFFSET 1").fetchone()
        con.execute("UPDATE outputs SET doc=? WHERE seq=?",
                    (doc.replace('"type":"', '"type":"x'), seq))
    result = replay(myo_recording, verify=True)
    assert result.verified is False and result.difference is not None
    assert result.difference.index == seq - 1
    assert main(["replay", str(myo_recording), "--verify"]) == 1
    out = capsys.readouterr().out
    assert "verify FAILED" in out and f"output #{seq - 1}" in out and "recorded:" in out


def test_event_output_is_byte_identical_across_runs_and_batches(myo_recording: Path) -> None:
    runs = [events_jsonl(replay(myo_recording, batch=b).outputs) for b in (4096, 4096, 7, 1)]
    assert runs[0] and all(r == runs[0] for r in runs)
    first = json.loads(runs[0].splitlines()[0])
    assert {"type", "t", "t_decided"} <= set(first)


def _split(chunk: Chunk, rng: np.random.Generator) -> list[Chunk]:
    """The chunk cut into consecutive pieces of 1–7 samples (only the first keeps the gap)."""
    out, i = [], 0
    while i < chunk.n:
        k = min(chunk.n - i, int(rng.integers(1, 8)))
        out.append(dataclasses.replace(
            chunk, start_index=chunk.start_index + i, t_first=chunk.t_first + i / chunk.fs,
            data=chunk.data[i : i + k], gap_before=chunk.gap_before if i == 0 else 0))
        i += k
    return out


@pytest.mark.parametrize("name", ["myo-pir-sim.isorec", "openemg-met-sim.isorec"])
def test_native_replay_events_are_byte_identical_across_chunk_sizes(
    copy_sample: Any, name: str
) -> None:
    """A native recording's packets decoded as recorded, then the same samples cut into
    chunks of 1–7 samples: the detected events are the same bytes."""
    with RecordingReader(copy_sample(name)) as reader:
        packets = list(reader.packets())
        profiles, protocol, config = reader.profiles(), reader.protocol(), reader.config()
    as_recorded = Pipeline(profiles, protocol, config)
    outputs_a = [o for p in packets for o in as_recorded.feed(p)]
    rechunked = Pipeline(profiles, protocol, config)
    rng = np.random.default_rng(0)
    outputs_b = [o for p in packets for c in rechunked.decoders[p.device].decode(p)
                 for piece in _split(c, rng) for o in rechunked.process_chunk(piece)]
    a, b = events_jsonl(outputs_a), events_jsonl(outputs_b)
    types = [json.loads(line)["type"] for line in a.splitlines()]
    assert types.count("onset") >= 2 and types.count("release") >= 2
    assert a == b


def test_events_option_writes_json_lines(myo_recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "ev.jsonl"
    assert main(["replay", str(myo_recording), "--events", str(out)]) == 0
    types = [json.loads(line)["type"] for line in out.read_text().splitlines()]
    assert types.count("onset") == 3 and "movement" in types


def test_another_config_changes_the_results(myo_recording: Path, tmp_path: Path) -> None:
    base = replay(myo_recording)
    deaf = base_config(myo_recording).updated({"onset_h": 1e9, "low_rate_onset_h": 1e9})
    strict = replay(myo_recording, config=deaf)
    assert sum(e.type == "onset" for e in base.events) == 3
    assert not any(e.type == "onset" for e in strict.events)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[pipeline]\nonset_h = 1e9\nlow_rate_onset_h = 1e9\n")
    assert main(["replay", str(myo_recording), "--config", str(cfg)]) == 0
    assert main(["replay", str(myo_recording), "--config", str(cfg), "--verify"]) == 2


def test_replay_with_the_double_threshold_detector(myo_recording: Path) -> None:
    """Researchers compare detectors by replaying with another configuration."""
    base = replay(myo_recording)
    other = replay(myo_recording, config=base_config(myo_recording).updated(
        {"onset_detector": "double_threshold"}))
    on_base = [e.t for e in base.events if e.type == "onset"]
    on_other = [e.t for e in other.events if e.type == "onset"]
    assert len(on_other) == len(on_base) == 3
    assert on_other != on_base


def base_config(path: Path) -> PipelineConfig:
    from isofeedback.recording.reader import RecordingReader

    with RecordingReader(path) as r:
        return r.config()


def test_folder_replay_in_parallel_writes_a_summary(myo_recording: Path, copy_sample: Any,
                                                    tmp_path: Path) -> None:
    copy_sample("myo-pir-sim.isorec")
    (tmp_path / "broken.isorec").write_text("not a recording")
    summary = tmp_path / "out" / "summary.csv"
    summary.parent.mkdir()
    code = main(["replay", str(tmp_path), "--verify", "--jobs", "2", "--summary", str(summary),
                 "--events", str(tmp_path / "events")])
    assert code == 1  # the broken file is reported, the others replayed
    rows = {r["file"]: r for r in csv.DictReader(summary.open())}
    assert set(rows) == {"broken.isorec", "myo-pir-sim.isorec", "session.isorec"}
    assert "not an isofeedback recording" in rows["broken.isorec"]["error"]
    for name in ("myo-pir-sim.isorec", "session.isorec"):
        assert rows[name]["verified"] == "True" and rows[name]["error"] == ""
        assert int(rows[name]["onsets"]) >= 3
    assert (tmp_path / "events" / "session.events.jsonl").read_bytes() == events_jsonl(
        replay(myo_recording).outputs)


def test_the_same_function_runs_on_dask(myo_recording: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    job = BatchJob(verify=True)
    local = replay_local([myo_recording], job, workers=1)
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = replay_dask([myo_recording], job, client)
    for row in (local[0], remote[0]):
        row.pop("wall_s")
        row.pop("speed_x")
    assert remote == local and local[0]["verified"] is True


def test_recorded_outputs_decode_to_equal_values(myo_recording: Path) -> None:
    from isofeedback.recording.reader import RecordingReader

    with RecordingReader(myo_recording) as r:
        docs = list(r.output_docs())
        again = [encode_output(o)[2] for o in r.outputs()]
    assert [d for _, d in docs] == again


def _drop_stored_settings(path: Path, keys: tuple[str, ...]) -> None:
    """Make ``path`` look like a recording from before ``keys`` (dotted paths) existed:
    its configuration in the flat form recordings stored then, without those settings."""
    from isofeedback.config import FLAT_NAMES, recorded_pipeline_config

    with sqlite3.connect(path) as con:
        (doc,) = con.execute("SELECT value FROM meta WHERE key='config'").fetchone()
        cfg = recorded_pipeline_config(json.loads(doc), "test")
        flat = {name: cfg.value(paths[0]) for name, paths in FLAT_NAMES.items()
                if not set(paths) & set(keys)}
        if flat.get("emg_channels") is not None:
            flat["emg_channels"] = list(flat["emg_channels"])
        con.execute("UPDATE meta SET value=? WHERE key='config'", (json.dumps(flat),))


def test_a_recording_older_than_a_setting_replays_as_it_was_made(
        tmp_path: Path, make_recording: Callable[..., tuple[Path, Any, Any]]) -> None:
    """A recording made before detector versions were named stores no version and lacks
    the settings added after it was made (here those of versions 6-9, among them the
    release's filter-decay model at 2 kHz): it replays with the newest version whose
    settings it stores (5), which reproduces what it did."""
    from isofeedback.config import DETECTOR_VERSIONS, versioned_config

    new = ("detector_version", *(k for v in DETECTOR_VERSIONS[5:] for k, _ in v.added))
    before = versioned_config({"detector_version": "5"}, "test")
    assert before.detector.release.tail == 0.0
    assert before.detector.low_rate.onset_sample_max == 0.9
    old, _, _ = make_recording(tmp_path / "old", profile="openemg", config=before)
    _drop_stored_settings(old, new)
    assert replay(old, verify=True).verified is True
    # the control: a recording made with today's detector, stripped the same way, replays
    # differently (so the check above is not vacuous)
    today, _, _ = make_recording(tmp_path / "today", profile="openemg")
    _drop_stored_settings(today, new)
    assert replay(today, verify=True).verified is False


def test_a_plain_replay_uses_the_current_detector_and_verify_the_recorded_one(
    make_recording: Any, tmp_path: Path
) -> None:
    from isofeedback.config import CURRENT_VERSION, versioned_config

    old = versioned_config({"detector_version": "8"}, "test")
    assert old.detector.confirmation.min_contraction_s == 0.0
    path, _, _ = make_recording(tmp_path, "old", config=old)
    run = [sys.executable, "-m", "isofeedback", "replay", str(path)]
    plain = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 0, plain.stderr
    assert (f"detector version {CURRENT_VERSION} (the current one; the recording was made "
            "with version 8") in " ".join(plain.stdout.split())
    checked = subprocess.run([*run, "--verify"], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and "verify OK" in checked.stdout
    assert "detector version 8 (the recording's)" in checked.stdout


@pytest.mark.parametrize("fast", [True, False])
def test_a_stop_after_the_sensor_fell_silent_replays_the_pause_first(tmp_path: Path,
                                                                     fast: bool) -> None:
    """Live, the sensor falls silent; an idle tick a second later pauses the coach, and
    the patient's stop comes on a later tick. The recording holds no packet after the
    silence, so only the stop's own time tells a replay that the pause came first (seen
    in a drop-storm session: the replay said 'stopped' where the live one said 'paused')."""
    from isofeedback.coach.protocol import find_protocol
    from isofeedback.control import Control
    from isofeedback.profiles.schema import find_profile
    from isofeedback.recording.writer import Recorder
    from isofeedback.research.replay import replay
    from tests.coach.sessions import simulated

    _, packets = simulated("clean")
    packets = packets[: len(packets) // 2]  # the sensor goes silent mid-session
    profiles, protocol = {"sim": find_profile("myo")}, find_protocol("pir")
    pipeline = Pipeline(profiles, protocol)
    rec = Recorder.open_in(tmp_path, "silent-then-stop", profiles=profiles,
                           protocol=protocol, config=pipeline.config, patient="sim-patient",
                           source="simulated", simulated=True)
    live = []
    for p in packets:
        rec.on_packet(p)
        live += pipeline.feed(p)
    last = packets[-1].t_arrival
    t = last
    while t < last + 2.5:  # the service's idle ticks, then the stop on one of them
        t += 0.1
        live += pipeline.idle(t)
    stop = Control("stop", "app-1").at(t)
    rec.on_control(stop, after_packets=len(packets))
    live += pipeline.control(stop)
    for o in live:
        rec.submit(o)
    rec.close({"packets": len(packets)})
    phases = [o.payload["phase"] for o in live if getattr(o, "kind", "") == "phase"]
    assert phases[-2:] == ["paused", "stopped"], phases
    result = replay(rec.path, verify=True, fast=fast)
    assert result.verified, result.difference


def test_a_dataset_with_a_folder_per_subject_keeps_them_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """subj1/trial1.csv and subj2/trial1.csv (the usual layout of a dataset): the summary
    names each by its path in the folder and --events keeps the sub-folders. Both rows
    read 'trial1.csv', and both wrote events/trial1.events.jsonl, the second replacing
    the first's without a word. Two files that would still write one events file (rec.csv
    and rec.edf) are refused before anything runs."""
    import shutil

    data = tmp_path / "data"
    for k, (subject, bursts) in enumerate([("subj1", [(4.0, 5.5)]),
                                           ("subj2", [(4.0, 5.5), (7.0, 8.5)])]):
        x = np.random.default_rng(k).normal(0.0, 1.0, 10000)
        for a, b in bursts:
            x[int(a * 1000):int(b * 1000)] *= 15.0
        (data / subject).mkdir(parents=True)
        (data / subject / "trial1.csv").write_text("t,emg\n" + "".join(
            f"{i / 1000:.3f},{v:.5f}\n" for i, v in enumerate(x)))
    summary, events = tmp_path / "summary.csv", tmp_path / "events"
    assert main(["replay", str(data), "--jobs", "1", "--summary", str(summary),
                 "--events", str(events)]) == 0
    rows = {r["file"]: r for r in csv.DictReader(summary.open())}
    assert {k: rows[k]["onsets"] for k in rows} == {"subj1/trial1.csv": "1",
                                                    "subj2/trial1.csv": "2"}
    for subject, onsets in (("subj1", 1), ("subj2", 2)):
        text = (events / subject / "trial1.events.jsonl").read_text()
        assert text.count('"type":"onset"') == onsets, text
    capsys.readouterr()
    shutil.copy(data / "subj2" / "trial1.csv", data / "subj2" / "trial1.CSV")
    assert main(["replay", str(data), "--events", str(tmp_path / "more")]) == 2
    assert "would both write" in capsys.readouterr().err
    assert not (tmp_path / "more").exists()


def test_a_replay_ended_by_its_data_is_not_called_a_stop_command() -> None:
    """A recording still being written ends where its data ended: the replay stops itself
    with origin "end of data", which read "a stop command (end of data)"."""
    from isofeedback.research.replay import _stopped

    said = _stopped("end of data", 42.9, 44.9)
    assert said == "the data stream ended after 42.9 s of the 44.9 s in the file"
    assert _stopped("mqtt", 10.0, 44.9) == ("a stop command (mqtt) after 10.0 s of the "
                                            "44.9 s in the file")


def test_the_summary_table_leaves_no_hold_blank_not_zero(
        copy_sample: Callable[[str], Path], tmp_path: Path) -> None:
    """A folder's table: a detection-only replay has no reps and no mean hold (blank),
    and neither has a session with no rep done; 0 and 0.0 there were taken for values
    by a spreadsheet's mean over the column."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "s.isorec").write_bytes(copy_sample("myo-pir-sim.isorec").read_bytes())
    rng = np.random.default_rng(2)
    t = np.arange(0, 20, 1e-3)
    emg = rng.normal(0, 0.01, t.size) * (1 + 20 * ((t > 8) & (t < 14)))
    (folder / "lab.csv").write_text("t,emg\n" + "".join(
        f"{a!r},{b!r}\n" for a, b in zip(t.tolist(), emg.tolist(), strict=True)))
    table = tmp_path / "table.csv"
    assert main(["replay", str(folder), "--summary", str(table), "--jobs", "1"]) == 0
    rows = {r["file"]: r for r in csv.DictReader(table.open())}
    lab, native = rows["lab.csv"], rows["s.isorec"]
    assert (lab["reps_done"], lab["reps_planned"], lab["mean_hold_s"]) == ("", "", "")
    assert lab["onsets"] == "1"
    assert (native["reps_done"], native["reps_planned"], native["mean_hold_s"]) == (
        "3", "3", "7.01")


def test_the_replay_line_counts_repeated_violations(
        copy_sample: Callable[[str], Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Violations as the terminal summary and progress say them ("moved ×1"), not the
    table's ';'-joined list ("released_early;released_early")."""
    path = copy_sample("myo-pir-sim.isorec")
    assert main(["replay", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "violations: moved ×1" in out, out


def test_an_events_file_numbers_its_lines_and_names_what_it_withdraws(tmp_path: Path) -> None:
    """A foreign file with two contractions and three twitches: each line of the events
    file has its number, a ``retracted`` line names the onset it withdraws and an
    ``onset_refined`` line the onset it re-times, so a client that knows nothing of our
    times drops the twitches by number and keeps exactly the confirmed contractions."""
    from isofeedback.detectors.retraction import confirmed
    from isofeedback.recording.format import decode_output

    rng = np.random.default_rng(3)
    fs = 1000
    x = rng.standard_normal(30 * fs) * 0.01
    for s in (5, 15):
        x[s * fs:(s + 4) * fs] += rng.standard_normal(4 * fs) * 0.1
    for twitch in (10.2, 22.5, 25.1):
        i = int(twitch * fs)
        x[i:i + 90] += rng.standard_normal(90) * 0.08
    data = tmp_path / "twitches.csv"
    np.savetxt(data, np.c_[np.arange(x.size) / fs, x], delimiter=",", header="t,emg",
               comments="", fmt="%.6f")
    out = tmp_path / "ev.jsonl"
    assert main(["replay", str(data), "--events", str(out)]) == 0
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["seq"] for d in docs] == list(range(1, len(docs) + 1))
    by_seq = {d["seq"]: d for d in docs}
    withdrawn = {d["retracts"] for d in docs if d["type"] == "retracted"}
    assert len(withdrawn) == 3 and all(by_seq[s]["type"] == "onset" for s in withdrawn)
    refined = [d for d in docs if d["type"] == "onset_refined"]
    assert refined and all(by_seq[d["refines"]]["type"] == "onset" and
                           by_seq[d["refines"]]["t"] == d["detail"]["onset_t"]
                           for d in refined)
    kept = [d["t"] for d in docs if d["type"] == "onset" and d["seq"] not in withdrawn]
    events = [decode_output("event", json.dumps({k: v for k, v in d.items()
                                                 if k not in ("seq", "retracts", "refines")}))
              for d in docs]
    assert kept == [e.t for e in confirmed(events) if e.type == "onset"]
    assert len(kept) == 2 and abs(kept[0] - 5.0) < 0.1 and abs(kept[1] - 15.0) < 0.1
