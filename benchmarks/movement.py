"""Movement detection (≥ 5° during a hold): delay after the true 5° crossing and false
alarms per minute of still hold, for three orientation sources side by side:

- ``gyro``: the gyroscope integrated by ``ImuChain`` (rest-calibrated, drift-following bias);
- ``quat``: the device's own orientation quaternion (simulated firmware fusion) via
  ``QuatChain``;
- ``ahrs``: gyroscope + accelerometer fused here by the imufusion AHRS (if installed).

Records: ``--records`` movement records (every other hold has a 6–15° rotation) and as
many still-hold records (three 10 s holds each), all with gyro noise, bias, bias random
walk and tremor.

    PYTHONPATH=src python benchmarks/movement.py [--records 30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from isofeedback.dsp.orientation import rotation_vectors
from isofeedback.research.eval import (
    JointChain,
    Summary,
    detect_movement,
    movement_script,
    summarize,
)
from isofeedback.sim.script import Artifacts, Contraction, PatientScript
from isofeedback.types import Chunk


class AhrsChain:
    """gyro + accel chunks → joint chunks through the imufusion AHRS (no magnetometer)."""

    def __init__(self, fs: float) -> None:
        import imufusion

        self.fs = fs
        self.ahrs = imufusion.Ahrs()
        self.ahrs.set_sample_period(1.0 / fs)
        self.ref: np.ndarray | None = None
        self.last: np.ndarray | None = None

    def process(self, chunk: Chunk) -> Chunk:
        q = np.zeros((chunk.n, 4))
        for k in range(chunk.n):
            g, a = chunk.data[k, :3], chunk.data[k, 3:6]
            self.ahrs.update_no_magnetometer(g, a)
            q[k] = self.ahrs.get_quaternion()  # w, x, y, z
        out = np.zeros((chunk.n, 4))
        if chunk.n:
            if self.ref is None:
                self.ref = q[0]
            rot = rotation_vectors(q, self.ref)
            prev = np.concatenate([rot[:1] if self.last is None else self.last[None], rot])
            out[:, :3] = rot
            out[:, 3] = np.linalg.norm(np.diff(prev, axis=0), axis=1) * self.fs
            self.last = rot[-1]
        return Chunk("joint", chunk.fs, chunk.start_index, chunk.t_first, out,
                     ("rx", "ry", "rz", "speed"))


def still_script(seed: int, holds: int = 3, hold_s: float = 10.0) -> PatientScript:
    """Three still 10 s holds (20 % MVC) separated by 5 s rests, after 3 s of rest."""
    cs = tuple(Contraction(3.0 + k * (hold_s + 5.0), 0.2, hold_s) for k in range(holds))
    return PatientScript(duration=3.0 + holds * (hold_s + 5.0), contractions=cs,
                         artifacts=Artifacts(snr_db=10.0), seed=seed)


def run(source: str, records: int, seed: int) -> tuple[dict[str, float], float, float]:
    mv = Summary()
    cpu = seconds = 0.0
    for k in range(records):
        for script in (movement_script(seed + k), still_script(seed + 5000 + k)):
            chain: JointChain | None = AhrsChain(100.0) if source == "ahrs" else None
            src = "gyro+accel" if source == "ahrs" else source
            crossings, events, still_min, c = detect_movement(script, source=src, chain=chain)
            mv.add(crossings, events, still_min, 1.0)
            cpu += c
            seconds += script.duration
    return summarize(mv), mv.minutes, 1000.0 * cpu / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sources", nargs="+", default=["gyro", "quat", "ahrs"])
    args = ap.parse_args()
    print(f"{'source':<8}{'delay med':>10}{'delay P90':>10}{'missed':>10}"
          f"{'still min':>10}{'false/min':>10}{'CPU ms/s':>9}")
    for source in args.sources:
        t = time.perf_counter()
        try:
            s, minutes, cpu = run(source, args.records, args.seed)
        except ImportError as exc:
            print(f"{source:<8} skipped: {exc}")
            continue
        print(f"{source:<8}{s['lat_med_ms']:>10.1f}{s['lat_p90_ms']:>10.1f}"
              f"{int(s['missed']):>6d}/{int(s['truths']):<3d}"
              f"{minutes:>10.1f}{s['false_per_min']:>10.3f}{cpu:>9.3f}"
              f"   ({time.perf_counter() - t:.0f} s)",
              flush=True)
    print("(delay: decision time after the true 5° crossing, ms; false alarms per minute of "
          "still hold)")


if __name__ == "__main__":
    main()
