"""A researcher's own CSV with EMG and gyroscope columns: replay detects the contraction
and the joint movement, and ``--events`` writes them as JSON Lines in seconds from the
start of the data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from isofeedback.cli import main
from isofeedback.errors import RecordingError
from isofeedback.recording.importers import load_foreign

FS = 1000.0
ONSET, RELEASE = 6.0, 13.0
MOVE_START, MOVE_S, MOVE_DEG = 9.0, 0.5, 10.0  # a 10° rotation about z during the hold


def _write_csv(path: Path) -> float:
    """20 s of EMG (band-limited noise, contraction 6–13 s) and gyro at 1 kHz; returns
    the time the rotation crosses 5°."""
    rng = np.random.default_rng(4)
    n = int(20 * FS)
    t = np.arange(n) / FS
    sos = signal.butter(4, [20, 450], btype="bandpass", fs=FS, output="sos")
    act = ((t >= ONSET) & (t < RELEASE)).astype(float) * 0.2
    emg = signal.sosfilt(sos, rng.standard_normal(n)) * act + 0.01 * rng.standard_normal(n)
    # minimum-jerk rotation: angle(s) = D (10 s³ − 15 s⁴ + 6 s⁵), its rate as gyro z
    s = np.clip((t - MOVE_START) / MOVE_S, 0.0, 1.0)
    angle = MOVE_DEG * (10 * s**3 - 15 * s**4 + 6 * s**5)
    rate = np.gradient(angle, 1 / FS)
    gyro = 0.3 * rng.standard_normal((n, 3)) + np.array([0.4, -0.2, 0.1])  # noise and bias
    gyro[:, 2] += rate
    rows = ["time,emg_a,gyro_x,gyro_y,gyro_z"]
    rows += [f"{a:.4f},{b:.6f},{g[0]:.4f},{g[1]:.4f},{g[2]:.4f}"
             for a, b, g in zip(t, emg, gyro, strict=True)]
    path.write_text("\n".join(rows) + "\n")
    return float(t[np.argmax(angle >= 5.0)])


def test_csv_with_gyro_columns_gives_onset_movement_release(tmp_path: Path) -> None:
    data = tmp_path / "mine.csv"
    crossing = _write_csv(data)
    events = tmp_path / "mine.jsonl"
    assert main(["replay", str(data), "--events", str(events)]) == 0
    docs = [json.loads(line) for line in events.read_text().splitlines()]
    assert all({"type", "t", "t_decided"} <= set(d) and d["t_decided"] >= d["t"] - 1e-9
               for d in docs)
    by_type = {k: [d for d in docs if d["type"] == k] for k in ("onset", "release", "movement")}
    assert len(by_type["onset"]) == 1 and len(by_type["release"]) == 1
    assert abs(by_type["onset"][0]["t"] - ONSET) < 0.05
    assert abs(by_type["release"][0]["t"] - RELEASE) < 0.1
    assert len(by_type["movement"]) >= 1
    moved = by_type["movement"][0]
    # decided within 150 ms of the true 5° crossing (gyro noise and the residual bias
    # integrate to a fraction of a degree, so it can come a few ms early)
    assert -0.05 <= moved["t_decided"] - crossing <= 0.15, (moved, crossing)


def _events(path: Path) -> list[tuple[str, float]]:
    out = path.with_suffix(".jsonl")
    assert main(["replay", str(path), "--events", str(out)]) == 0
    return [(d["type"], round(d["t"], 6)) for d in
            map(json.loads, out.read_text().splitlines())]


def test_gyro_in_rad_per_second_is_not_read_as_degrees(tmp_path: Path) -> None:
    """A lab's gyroscope in rad/s (``gyro_z [rad/s]``, or a row of units) was read as deg/s:
    the 10° rotation became 0.17°, and the joint's movement went unseen. Units in the
    column's brackets are converted; an unknown one is one clear error."""
    plain = tmp_path / "plain.csv"
    _write_csv(plain)
    lines = plain.read_text().splitlines()
    rows = [line.split(",") for line in lines[1:]]
    radians = tmp_path / "radians.csv"
    radians.write_text(
        "time,emg_a,gyro_x [rad/s],gyro_y [rad/s],gyro_z (rad/s)\n" + "".join(
            ",".join([r[0], r[1], *(repr(float(g) * np.pi / 180) for g in r[2:])]) + "\n"
            for r in rows))
    units_row = tmp_path / "units_row.csv"
    units_row.write_text("time,emg_a,gyro_x,gyro_y,gyro_z\ns,mV,rad/s,rad/s,rad/s\n" +
                         radians.read_text().split("\n", 1)[1])
    expected = _events(plain)
    assert ("movement" in {k for k, _ in expected})
    for path in (radians, units_row):
        got = _events(path)
        assert [k for k, _ in got] == [k for k, _ in expected], path
        assert np.allclose([t for _, t in got], [t for _, t in expected], atol=1e-3), path
    odd = tmp_path / "odd.csv"
    odd.write_text("time,emg_a,gyro_x [furlong/s]\n0,1,2\n0.001,1,2\n")
    with pytest.raises(RecordingError, match=r"unit 'furlong/s' is not known for a gyro "
                       r"signal; use one of deg/s"):
        load_foreign(odd)


def test_an_edf_gyro_in_rad_per_second(tmp_path: Path) -> None:
    """The same in EDF+: the signal's physical dimension says rad/s."""
    import pyedflib

    plain = tmp_path / "plain.csv"
    _write_csv(plain)
    data = np.loadtxt(plain, delimiter=",", skiprows=1)
    path = tmp_path / "lab.edf"
    w = pyedflib.EdfWriter(str(path), 4, file_type=pyedflib.FILETYPE_EDFPLUS)
    heads, sig = [], []
    for j, (label, unit, scale) in enumerate([("EMG a", "mV", 1.0), ("gyro x", "rad/s", 1.0),
                                               ("gyro y", "rad/s", 1.0),
                                               ("gyro z", "rad/s", 1.0)]):
        x = data[:, j + 1] * (np.pi / 180 if unit == "rad/s" else scale)
        top = float(f"{float(np.max(np.abs(x))) * 1.1:.4g}")  # 8 characters in EDF
        heads.append({"label": label, "dimension": unit, "sample_frequency": 1000,
                      "physical_min": -top, "physical_max": top, "digital_min": -32768,
                      "digital_max": 32767, "transducer": "", "prefilter": ""})
        sig.append(x)
    w.setSignalHeaders(heads)
    w.writeSamples(sig)
    w.close()
    gyro = load_foreign(path).streams["gyro"]
    assert gyro.unit == "deg/s"
    assert abs(float(np.max(gyro.data[:, 2])) - float(np.max(data[:, 4]))) < 0.5
    assert "movement" in {k for k, _ in _events(path)}
