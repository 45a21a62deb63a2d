"""Replay speed side by side: whole pipeline (native and foreign), the filter stage's limit,
NeuroKit2 and BioSPPy on the same signal, CLI start-up, and folder replay on 1..N cores.

    PYTHONPATH=src python benchmarks/replay_speed.py [--copies N] [--repeat R]

For each sample recording (Myo 8 ch x 200 Hz + IMU; OpenEMG 8 ch x 2 kHz + IMU, both with a
simulated patient):
- native: ``replay()`` of the .isorec at full speed (packets decoded, the EMG of 4096-packet
  windows through the chain as one chunk, the coach told about every packet);
- foreign: the same data exported to CSV and replayed (detection only); CSV parsing included;
- filter limit: scipy band-pass + mains notch + moving-RMS envelope over the whole 8-channel
  array in one call each (no detection, no coach): what the filter stage alone costs;
- NeuroKit2 ``emg_process`` (which runs ``emg_activation``) and BioSPPy ``emg.emg`` on the
  same 8 channels, one channel at a time (they take one channel).
Figures are x real time = seconds of data / seconds of wall time (best of ``--repeat``),
CPU time beside (the machine may be shared: CPU time is what this process used). Then the
``isofeedback --help`` and one-recording ``replay`` commands' wall time as a user sees it,
and folder replay with 1 and N worker processes (speed-up printed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from isofeedback.recording.export import export_recording
from isofeedback.recording.reader import RecordingReader
from isofeedback.recording.signals import decode_packets
from isofeedback.research.batch import BatchJob, replay_local
from isofeedback.research.replay import replay

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "recordings"
NAMES = ("myo-pir-sim.isorec", "openemg-met-sim.isorec")


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def filter_limit(emg: np.ndarray, fs: float) -> None:
    from scipy import signal

    from isofeedback.dsp.filters import emg_bandpass, mains_notch

    y = signal.sosfilt(emg_bandpass(fs), emg, axis=0)
    notch = mains_notch(fs, 50.0)
    if notch is not None:
        y = signal.sosfilt(notch, y, axis=0)
    w = max(1, round(0.1 * fs))
    c = np.cumsum(y * y, axis=0)
    np.sqrt(np.maximum((c[w:] - c[:-w]) / w, 0.0))


def neurokit(emg: np.ndarray, fs: float) -> None:
    import neurokit2 as nk

    for k in range(emg.shape[1]):
        nk.emg_process(emg[:, k], sampling_rate=int(fs))


def biosppy(emg: np.ndarray, fs: float) -> None:
    from biosppy.signals import emg as bemg

    for k in range(emg.shape[1]):
        bemg.emg(emg[:, k], sampling_rate=fs, show=False)


def wall_of(cmd: list[str], repeat: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    # as installed: byte-compiled modules (without them ~80 modules are compiled on every
    # start, 0.3-0.5 s here)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    walls = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
    return min(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8, help="recordings per folder run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"{cores} cores, load average {os.getloadavg()[0]:.1f} at start "
          "(figures: x real time, wall, best of "
          f"{args.repeat}; CPU-time figure in brackets)")
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"{'recording':24} {'native':>16} {'foreign CSV':>16} {'filter limit':>16} "
              f"{'NeuroKit2':>14} {'BioSPPy':>14} {'vs NK2':>7}")
        for name in NAMES:
            path = SAMPLES / name
            csv_path = folder / (path.stem + ".csv")
            with RecordingReader(path) as r:
                seconds = r.duration_s()
                export_recording(r, csv_path, "csv")
                emg_stream = decode_packets(r.profiles(), r.packets()).streams["emg"]
            emg, fs = emg_stream.data, emg_stream.fs
            replay(path)  # warm up imports and caches
            nat = best(lambda: replay(path), args.repeat)  # noqa: B023
            foreign = best(lambda: replay(csv_path), args.repeat)  # noqa: B023
            lim = best(lambda: filter_limit(emg, fs), args.repeat)  # noqa: B023
            nk: tuple[float, float] | None = None
            bio: tuple[float, float] | None = None
            try:
                nk = best(lambda: neurokit(emg, fs), 1)  # noqa: B023
            except Exception as exc:  # NeuroKit2 refuses some rates: say so, go on
                print(f"  (NeuroKit2 failed at {fs:g} Hz: {type(exc).__name__}: {exc})")
            try:
                bio = best(lambda: biosppy(emg, fs), 1)  # noqa: B023
            except Exception as exc:
                print(f"  (BioSPPy failed at {fs:g} Hz: {type(exc).__name__}: {exc})")

            def x(t: tuple[float, float] | None) -> str:
                if t is None:
                    return "fails"
                return f"{seconds / t[0]:.0f}x [{seconds / max(t[1], 1e-9):.0f}x]"  # noqa: B023

            ratio = f"{nk[0] / nat[0]:.0f}x" if nk else "-"
            print(f"{name:24} {x(nat):>16} {x(foreign):>16} {x(lim):>16} {x(nk):>14} "
                  f"{x(bio):>14} {ratio:>7}")
            print(f"  {seconds:.1f} s of data, {emg.shape[1]} EMG ch x {fs:g} Hz; native "
                  f"{nat[0] * 1000:.0f} ms, filter limit {lim[0] * 1000:.1f} ms "
                  f"(native is {nat[0] / lim[0]:.0f}x the limit)")
        py = [sys.executable, "-m", "isofeedback"]
        help_s = wall_of([*py, "--help"], args.repeat)
        rec = SAMPLES / NAMES[0]
        replay_s = wall_of([*py, "replay", str(rec)], args.repeat)
        verify_s = wall_of([*py, "replay", str(rec), "--verify"], 1)
        print(f"isofeedback --help: {help_s:.2f} s wall; replay {rec.name} (62 s): "
              f"{replay_s:.2f} s wall ({verify_s:.2f} s with --verify)")
        copies = []
        for i in range(args.copies):
            src = SAMPLES / NAMES[i % len(NAMES)]
            dst = folder / "batch" / f"{i}{src.suffix}"
            dst.parent.mkdir(exist_ok=True)
            shutil.copy(src, dst)
            copies.append(dst)
        with RecordingReader(SAMPLES / NAMES[0]) as a, RecordingReader(SAMPLES / NAMES[1]) as b:
            per = [a.duration_s(), b.duration_s()]
        data_s = sum(per[i % 2] for i in range(args.copies))
        speeds = {}
        for workers in sorted({1, cores}):
            t = time.perf_counter()
            rows = replay_local(copies, BatchJob(), workers=workers)
            wall = time.perf_counter() - t
            assert not any(r["error"] for r in rows), rows
            speeds[workers] = data_s / wall
            print(f"folder of {len(copies)} recordings ({data_s:.0f} s), {workers} worker(s): "
                  f"{wall:.2f} s wall, {speeds[workers]:.0f}x real time (pool start-up "
                  "included)")
        if len(speeds) > 1:
            print(f"speed-up 1 -> {cores} workers: {speeds[cores] / speeds[1]:.2f}x")


if __name__ == "__main__":
    main()
