"""A researcher's own CSV with EMG and gyroscope columns: replay detects the contraction
and the joint movement, and ``--events`` writes them as JSON Lines in seconds from the
start of the data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import signal

from isofeedback.cli import main

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
