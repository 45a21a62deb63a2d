"""The pure metric functions of the evaluation."""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import numpy as np
import pytest

from isofeedback.evaluation import Summary, add_eval_arguments, match_events, summarize
from isofeedback.types import Event, EventType


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
    # the table's "missed" column reads missed/labelled: none missed, onsets and releases
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()}
    assert "missed" in rows["event"]
    for kind in ("onset", "release"):
        assert [tok for tok in rows[kind] if re.fullmatch(r"\d+/\d+", tok)] == [f"0/{n}"], out
    assert main(["eval", "--csv", str(tmp_path / "missing.csv")]) == 2


@pytest.mark.parametrize("fs", ["1000", "200"])
def test_eval_on_simulated_records_prints_every_metric(
    fs: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from isofeedback.cli import main

    assert main(["eval", "--records", "2", "--snr", "10", "--fs", fs]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("event"))
    assert header.split() == ["event", "err", "med", "err", "P90", "lat", "med", "lat", "P90",
                              "missed", "false/min", "CPU", "ms/s"]
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.split() and line.split()[0] in ("onset", "release", "movement")}
    assert set(rows) == {"onset", "release", "movement"}
    onset = rows["onset"]
    missed, total = (int(v) for v in onset[5].split("/"))
    assert total >= 6 and missed == 0  # two minutes of records, every contraction found
    assert all(math.isfinite(float(v)) for v in onset[1:5] + onset[6:8])
    assert float(onset[7]) > 0  # CPU per second of signal is measured


def test_eval_on_an_eight_channel_armband(capsys: pytest.CaptureFixture[str]) -> None:
    """``--channels 8``: the records come from a Myo-like armband (the muscle under one
    electrode, cross-talk on its neighbours) and go through the chain's channel fusion."""
    from isofeedback.cli import main
    from isofeedback.evaluation import simulated_records

    rec = simulated_records(1, 10.0, 200.0, 0, "none", True, duration=20.0, channels=8)[0]
    assert rec.emg.shape[1] == 8
    rms = rec.emg[int(3 * 200):].std(axis=0)
    assert int(np.argmax(rms)) == 2 and rms[2] > 1.5 * rms[1] > 1.5 * rms[6]

    assert main(["eval", "--records", "2", "--snr", "10", "--fs", "200", "--channels", "8",
                 "--no-movement"]) == 0
    out = capsys.readouterr().out
    assert "8 channels" in out
    onset = next(line.split() for line in out.splitlines() if line.startswith("onset"))
    missed, total = (int(v) for v in onset[5].split("/"))
    assert total >= 6 and missed == 0
