"""Replay speed (× real time) on one core and on all cores, and recording size per hour.

    PYTHONPATH=src python benchmarks/replay_speed.py [--copies N]

Uses the sample recordings (Myo 200 Hz and OpenEMG 8 ch 2 kHz, simulated patient). One core:
one replay at max speed. All cores: N copies replayed by the process pool, speed = data
seconds / wall seconds. Size per hour: file bytes / recorded seconds × 3600.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from isofeedback.recording.batch import BatchJob, replay_local
from isofeedback.recording.reader import RecordingReader
from isofeedback.recording.replay import replay

SAMPLES = Path(__file__).resolve().parent.parent / "recordings"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2 * (os.cpu_count() or 1))
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"{cores} cores; {args.copies} copies for the all-cores run")
    for name in ("myo-pir-sim.isorec", "openemg-met-sim.isorec"):
        path = SAMPLES / name
        with RecordingReader(path) as r:
            seconds = r.duration_s()
        size_h = path.stat().st_size / seconds * 3600 / 1e6
        replay(path)  # warm up imports and caches
        t = time.perf_counter()
        replay(path)
        one = seconds / (time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            copies = [Path(tmp) / f"{i}{path.suffix}" for i in range(args.copies)]
            for c in copies:
                shutil.copy(path, c)
            t = time.perf_counter()
            rows = replay_local(copies, BatchJob(), workers=cores)
            wall = time.perf_counter() - t
            assert all(not r["error"] for r in rows)
        many = seconds * len(copies) / wall
        print(f"{name}: {seconds:.0f} s of data; one core {one:.0f}x real time; "
              f"all {cores} cores {many:.0f}x (incl. pool start-up); "
              f"recording size {size_h:.0f} MB per hour")


if __name__ == "__main__":
    main()
