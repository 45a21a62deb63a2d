"""Our detectors on real Myo recordings (8 channels, 200 Hz, int8, per-sample labels).

    PYTHONPATH=src python benchmarks/real_myo.py DATA_FOLDER [DETECTOR_VERSION]

DATA_FOLDER holds CSV files with columns emg1..emg8,label (label 0 = rest), read as
``isofeedback eval --real`` reads them (no time column: 200 Hz). The labels are cues, not
muscle activity: onsets are matched within ±1 s and the signed error (detected − cue) is
reported. A file whose labels are all 0 measures false alarms at rest.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from isofeedback.config import versioned_config
from isofeedback.research.eval import (
    confirmed_refined,
    detect_emg,
    match_events,
    real_sets,
)


def main() -> None:
    folder = Path(sys.argv[1])
    config = versioned_config({}, "version", sys.argv[2]) if len(sys.argv) > 2 else None
    all_err: list[float] = []
    rel_err: list[float] = []
    fp = 0
    minutes = 0.0
    rest_fp = 0
    rest_min = 0.0
    records = sorted((r for rs in real_sets(folder) for r in rs.records), key=lambda r: r.name)
    for rec in records:
        on, off = rec.onsets, rec.releases
        ev, cpu = detect_emg(rec, mains_hz=50.0, calibration_s=2.0, config=config)
        ev = confirmed_refined(ev)  # retracted ones do not count; refined onset times
        don = [e.t for e in ev if e.type == "onset"]
        doff = [e.t for e in ev if e.type == "release"]
        m = match_events(on, don, 1.0)
        m2 = match_events(off, doff, 1.0)
        err = [don[j] - on[i] for i, j in m.pairs]
        rerr = [doff[j] - off[i] for i, j in m2.pairs]
        all_err += err
        rel_err += rerr
        mins = rec.minutes
        if not on:
            rest_fp += len(don)
            rest_min += mins
        else:
            fp += len(m.false)
            minutes += mins
        med = f"{np.median(err) * 1000:7.0f}" if err else "      -"
        print(f"{rec.name:<40} onsets {len(m.pairs)}/{len(on)} false {len(m.false)} "
              f"median(detected-cue) {med} ms  cpu {1000 * cpu / (mins * 60) / 8:.2f} ms/s/ch")
    e = np.asarray(all_err) * 1000
    r = np.asarray(rel_err) * 1000
    print(f"\nonset − cue: median {np.median(e):.0f} ms, IQR {np.percentile(e, 25):.0f}.."
          f"{np.percentile(e, 75):.0f} ms, n={e.size}")
    print(f"release − cue: median {np.median(r):.0f} ms, IQR {np.percentile(r, 25):.0f}.."
          f"{np.percentile(r, 75):.0f} ms, n={r.size}")
    print(f"false onsets: {fp / max(minutes, 1e-9):.2f}/min in gesture files, "
          f"{rest_fp / max(rest_min, 1e-9):.2f}/min in rest-only files")


if __name__ == "__main__":
    main()
