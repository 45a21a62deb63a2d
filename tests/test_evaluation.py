"""The pure metric functions of the evaluation."""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import numpy as np
import pytest

from isofeedback.research.eval import Summary, add_eval_arguments, match_events, summarize
from isofeedback.types import Event, EventType

COLS = ("on med", "on P90", "lat med", "lat P90", "off med", "off P90", "missed", "found",
        "FP/min", "retr/min", "CPU")


def _row(out: str, name: str) -> dict[str, str]:
    """The figures of the row of the side-by-side table that starts with ``name`` (on the
    next line when the name is longer than its column)."""
    lines = out.splitlines()
    k = next(k for k, x in enumerate(lines) if x == name or x.startswith(name + " "))
    line = lines[k + 1] if lines[k] == name else lines[k]
    return dict(zip(COLS, line.split()[-len(COLS):], strict=True))


def test_match_is_one_to_one_and_nearest_first() -> None:
    m = match_events([1.0, 2.0], [1.9, 1.1, 1.5], tol=0.3)
    assert m.pairs == ((0, 1), (1, 0))
    assert m.missed == () and m.false == (2,)


def test_match_respects_tolerance() -> None:
    m = match_events([1.0], [1.6], tol=0.5)
    assert m.pairs == () and m.missed == (0,) and m.false == (0,)


def test_empty_inputs() -> None:
    assert match_events([], [], 0.5).pairs == ()
    s = summarize(Summary())
    assert math.isnan(s["err_med_ms"]) and s["false_per_min"] == 0.0


def test_summary_accumulates_errors_and_latencies() -> None:
    s = Summary()
    ev = [Event(EventType.ONSET, 1.01, 1.05), Event(EventType.ONSET, 9.0, 9.0)]
    s.add([1.0, 5.0], ev, minutes=2.0, tol=0.5)
    r = summarize(s)
    assert round(r["err_med_ms"], 6) == 10.0 and round(r["lat_med_ms"], 6) == 50.0
    assert r["missed"] == 1 and r["false_per_min"] == 0.5


def test_arguments_parse() -> None:
    p = argparse.ArgumentParser()
    add_eval_arguments(p)
    a = p.parse_args(["--snr", "10", "--records", "2", "--fs", "200"])
    assert a.snr == [10.0] and a.records == 2 and a.fs == 200.0


def test_eval_on_a_labelled_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A researcher's own data: CSV (read as replay reads it) plus an annotation file."""
    from isofeedback.cli import main
    from isofeedback.sim import benchmark_script, synthesize

    script = benchmark_script(seed=4, duration=30.0, snr_db=20.0)
    session = synthesize(script, emg_fs=1000.0, channels=1)
    csv_path = tmp_path / "emg.csv"
    csv_path.write_text("emg\n" + "\n".join(f"{v:.6f}" for v in session.emg[:, 0]))
    ann = tmp_path / "labels.csv"
    ann.write_text("".join(f"onset,{c.onset}\nrelease,{c.release}\n" for c in script.contractions))
    args = ["eval", "--csv", str(csv_path), "--csv-fs", "1000", "--annotations", str(ann)]
    assert main(args) == 0
    out = capsys.readouterr().out
    n = len(script.contractions)
    assert n >= 2
    assert "missed" in out.splitlines()[1]
    row = _row(out, "emg.csv")
    assert row["missed"] == f"0/{n}" and row["found"] == "100.0%", out
    assert all(math.isfinite(float(row[k])) for k in ("on med", "off med", "lat med"))
    assert main(["eval", "--csv", str(tmp_path / "missing.csv")]) == 2


def test_eval_on_a_csv_with_its_own_label_column(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Public gesture data ship a label column beside the channels: it is the truth, not
    a channel, when no annotation file is given."""
    from isofeedback.cli import main
    from isofeedback.sim import benchmark_script, synthesize

    script = benchmark_script(seed=4, duration=30.0, snr_db=20.0)
    session = synthesize(script, emg_fs=1000.0, channels=1)
    label = np.zeros(session.emg.shape[0], dtype=int)
    for c in script.contractions:
        label[int(round(c.onset * 1000)) : int(round(c.release * 1000))] = 3
    csv_path = tmp_path / "gestures.csv"
    csv_path.write_text("emg,label\n" + "".join(
        f"{v:.6f},{k}\n" for v, k in zip(session.emg[:, 0], label, strict=True)))
    assert main(["eval", "--csv", str(csv_path), "--csv-fs", "1000"]) == 0
    row = _row(capsys.readouterr().out, "gestures.csv")
    n = len(script.contractions)
    assert row["missed"] == f"0/{n}" and row["found"] == "100.0%"
    assert float(row["FP/min"]) == 0.0


@pytest.mark.parametrize("fs", ["1000", "200"])
def test_eval_reports_our_simulator_and_our_second_generator_side_by_side(
    fs: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from isofeedback.cli import main

    assert main(["eval", "--records", "2", "--snr", "10", "--fs", fs, "--sets", "sim",
                 "alt"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == [
        "set", "on", "med", "on", "P90", "lat", "med", "lat", "P90", "off", "med", "off",
        "P90", "missed", "found", "FP/min", "retr/min", "CPU"]
    for name in ("sim 10 dB", "alt 10 dB"):
        row = _row(out, name)
        missed, total = (int(v) for v in row["missed"].split("/"))
        assert total >= 9 and missed == 0  # two minutes of records, every contraction found
        assert all(math.isfinite(float(row[k])) for k in COLS if k not in ("missed", "found"))
        assert float(row["CPU"]) > 0  # CPU per second of signal is measured
    assert "Movement" in out and "missed 0/" in out


def test_eval_reports_neurokit2_records() -> None:
    pytest.importorskip("neurokit2")
    from isofeedback.config import versioned_config
    from isofeedback.research.eval import detect_emg, match_events, nk_records

    rec = nk_records(1, 20.0, 1000.0, seed=3)[0]
    assert len(rec.onsets) == 6 and rec.onsets[0] > 2.0
    # a check of the labels, with the detector it was written with: version 10 decides
    # this record's fourth onset 44 ms before the burst (docs/detection.md, version 10)
    events, _ = detect_emg(rec, config=versioned_config({"detector_version": "9"}, "test"))
    on = [e.t for e in events if e.type == "onset"]
    # the labels follow emg_simulate's layout: every burst found within 50 ms
    assert len(match_events(rec.onsets, on, 0.05).pairs) == 6


def test_eval_reads_a_folder_of_real_recordings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stand-ins for real data: cue-labelled 8-channel int8 files (label column), a rest-only
    file and an unlabelled ``t,emg`` file (checked against the offline reference). A folder
    name longer than the table's first column is printed whole (it was cut to 33
    characters: 'lab-recordings-with-offline-refe' with no kind or file count), and a set
    without true onsets shows '-', not 'nan'."""
    from isofeedback.cli import main
    from isofeedback.research.eval import simulated_records

    myo = tmp_path / "armband"
    myo.mkdir()
    for k in range(2):
        rec = simulated_records(1, 20.0, 200.0, k, "none", True, duration=30.0, channels=8)[0]
        label = np.zeros(rec.emg.shape[0], dtype=int)
        for a, b in zip(rec.onsets, rec.releases, strict=True):
            label[int(a * 200):int(b * 200)] = 3
        rows = np.column_stack([rec.emg.astype(int), label])
        np.savetxt(myo / f"s{k}.csv", rows, fmt="%d", delimiter=",",
                   header=",".join([f"emg{i + 1}" for i in range(8)] + ["label"]), comments="")
    rest = np.random.default_rng(0).normal(0, 3, (4000, 8)).round().astype(int)
    np.savetxt(myo / "rest.csv", np.column_stack([rest, np.zeros(4000, dtype=int)]), fmt="%d",
               delimiter=",", header=",".join([f"emg{i + 1}" for i in range(8)] + ["label"]),
               comments="")
    other = tmp_path / "lab-recordings-with-offline-references"
    other.mkdir()
    one = simulated_records(1, 20.0, 1000.0, 7, "none", False, duration=30.0)[0]
    t = np.arange(one.emg.shape[0]) / 1000.0
    np.savetxt(other / "e.csv", np.column_stack([t, one.emg[:, 0]]), fmt="%.6f",
               delimiter=",", header="t,emg", comments="")
    assert main(["eval", "--records", "1", "--snr", "20", "--sets", "sim", "--no-movement",
                 "--real", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    cues = _row(out, "armband [cues, 2 files]")
    assert cues["found"] == "100.0%", out
    rest = _row(out, "armband [rest, 1 files]")
    assert rest["missed"] == "0/0" and rest["found"] == "-" and "nan" not in out, out
    offline = _row(out, "lab-recordings-with-offline-references [offline, 1 files]")
    assert offline["missed"] == f"0/{len(one.onsets)}", out
    assert main(["eval", "--real", str(tmp_path / "nothing")]) == 2


def test_eval_on_an_eight_channel_armband(capsys: pytest.CaptureFixture[str]) -> None:
    """``--channels 8``: the records come from a Myo-like armband (the muscle under one
    electrode, cross-talk on its neighbours) and go through the chain's channel fusion."""
    from isofeedback.cli import main
    from isofeedback.research.eval import simulated_records

    rec = simulated_records(1, 10.0, 200.0, 0, "none", True, duration=20.0, channels=8)[0]
    assert rec.emg.shape[1] == 8
    rms = rec.emg[int(3 * 200):].std(axis=0)
    assert int(np.argmax(rms)) == 2 and rms[2] > 1.5 * rms[1] > 1.5 * rms[6]

    assert main(["eval", "--records", "2", "--snr", "10", "--fs", "200", "--channels", "8",
                 "--no-movement"]) == 0
    out = capsys.readouterr().out
    missed, total = (int(v) for v in _row(out, "sim 10 dB")["missed"].split("/"))
    assert total >= 6 and missed == 0


@pytest.mark.parametrize(("ann", "problem"), [
    ("onset;8\n", r"line 1: 'onset;8' is not 'onset,<s>'"),
    ("start,8\nstop,12\n", r"line 1: 'start,8' is not"),
    ("", r"no onsets to score against"),
    ("onset,8,4\n", r"line 1: 'onset,8,4' is not"),
    ("onset,-5\n", r"a time of -5 s is outside the data \(0 to 10.000 s"),
    ("onset,108\nrelease,112\n", r"a time of 108 s is outside the data"),
])
def test_eval_annotations_that_cannot_be_scored_are_one_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], ann: str, problem: str) -> None:
    """An annotation file eval cannot use scored every detection as false (a nan row)."""
    from isofeedback.cli import main

    x = np.random.default_rng(3).normal(0.0, 1.0, 10000)
    csv_path = tmp_path / "emg.csv"
    csv_path.write_text("emg\n" + "".join(f"{v:.5f}\n" for v in x))
    labels = tmp_path / "a.csv"
    labels.write_text(ann)
    assert main(["eval", "--csv", str(csv_path), "--csv-fs", "1000",
                 "--annotations", str(labels)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert re.search(problem, err), err


def test_eval_options_that_do_not_go_together(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from isofeedback.cli import main

    x = np.random.default_rng(3).normal(0.0, 1.0, 5000)
    csv_path = tmp_path / "emg.csv"
    csv_path.write_text("emg\n" + "".join(f"{v:.5f}\n" for v in x))
    assert main(["eval", "--csv", str(csv_path), "--csv-fs", "50"]) == 2
    assert "--csv-fs 50, too slow for surface EMG" in capsys.readouterr().err
    # no time column and no rate: the option to give is eval's, not replay's --fs
    assert main(["eval", "--csv", str(csv_path)]) == 2
    err = capsys.readouterr().err
    assert "give the sample rate with --csv-fs" in err and "--fs" not in err.replace(
        "--csv-fs", "")
    assert main(["eval", "--annotations", str(csv_path), "--records", "1"]) == 2
    assert "--annotations needs --csv" in capsys.readouterr().err
    assert main(["eval", "--csv", str(csv_path), "--csv-fs", "1000"]) == 2
    assert "no onsets to score against" in capsys.readouterr().err


def test_real_csv_rates_are_read_as_a_replay_reads_them(tmp_path: Path) -> None:
    """A column of times written to the millisecond at 250 Hz is 250 Hz exactly (its
    steps' median gave 249.9999999997 Hz, on the wrong side of the chain's 250 Hz edge),
    and a per-sample label gives the cues."""
    from isofeedback.research.eval import real_sets

    folder = tmp_path / "set"
    folder.mkdir()
    rng = np.random.default_rng(0)
    n = 2500
    label = np.zeros(n, dtype=int)
    label[1000:1500] = 2
    rows = "".join(f"{i / 250.0:.3f},{v:.4f},{k}\n"
                   for i, (v, k) in enumerate(zip(rng.standard_normal(n), label, strict=True)))
    (folder / "a.csv").write_text("t,emg,label\n" + rows)
    (rs,) = real_sets(tmp_path)
    (rec,) = rs.records
    assert rec.fs == 250.0 and rs.labels == "cues"
    assert rec.onsets == (4.0,) and rec.releases == (6.0,)
    assert rec.emg.shape == (n, 1)


def test_real_files_are_read_as_a_replay_reads_them(tmp_path: Path) -> None:
    """``eval --real`` reads what ``replay`` reads (it had its own comma-only reader): a
    tab-separated file with a time column in milliseconds and gestures named in words, whose
    label changes with no rest between (one activation), starts under way (no onset seen)
    and ends under way (no release seen); a file without a time column takes the default
    rate, one with a time column keeps its own."""
    from isofeedback.research.eval import real_sets

    folder = tmp_path / "lab"
    folder.mkdir()
    rng = np.random.default_rng(1)
    n = 3000  # 3 s at 1 kHz
    names = ["fist"] * 200 + ["rest"] * 800 + ["fist"] * 500 + ["pinch"] * 500 + \
        ["rest"] * 700 + ["fist"] * 300
    rows = "".join(f"{i:d}\t{v:.4f}\t{k}\n"
                   for i, (v, k) in enumerate(zip(rng.standard_normal(n), names, strict=True)))
    (folder / "a.tsv").write_text("time_ms\temg\tgesture\n" + rows)
    (folder / "b.csv").write_text("emg,label\n" + "".join(
        f"{v:.4f},{int(300 <= i < 600)}\n" for i, v in enumerate(rng.standard_normal(1000))))
    (folder / "notes.txt").write_text("not data: left alone\n")
    (rs,) = real_sets(tmp_path, fs_default=100.0)
    by_name = {r.name: r for r in rs.records}
    assert rs.labels == "cues" and set(by_name) == {"a.tsv", "b.csv"}
    a, b = by_name["a.tsv"], by_name["b.csv"]
    assert a.fs == 1000.0 and a.emg.shape == (n, 1)
    assert a.onsets == (1.0, 2.7) and a.releases == (0.2, 2.0)
    assert b.fs == 100.0 and b.onsets == (3.0,) and b.releases == (6.0,)


def test_eval_scores_an_earlier_detector_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``--detector-version`` scores a named version (its header says which): version 18's
    releases of NeuroKit2's instant offsets came late, version 19's do not."""
    from isofeedback.cli import main

    rows = {}
    for v in ("18", "19"):
        assert main(["eval", "--records", "2", "--sets", "nk", "--snr", "10", "--no-movement",
                     "--detector-version", v]) == 0
        out = capsys.readouterr().out
        assert f"detector version {v};" in out
        rows[v] = _row(out, "nk 10 dB")
    assert float(rows["19"]["off med"]) < float(rows["18"]["off med"]) - 5.0, rows
    with pytest.raises(SystemExit):
        main(["eval", "--detector-version", "99"])
    assert "invalid choice" in capsys.readouterr().err
