"""Onset, latency and release errors on our second generator (``alt``), broken down by the
shape and duration of each contraction's rise and fall.

``eval``'s ``alt`` rows mix four rise and fall shapes of 50–400 ms. A label marks where the
amplitude leaves (or reaches) zero, but a shape that starts slowly (``slow_fast``: u²,
``cosine``, ``cubic``) has no visible power for its first part: any detector that sees only
the signal places such an onset late and such a release early. This table shows how much of
the ``alt`` figures that is: the errors per shape, and the latency per rise duration.

    PYTHONPATH=src python benchmarks/alt_by_shape.py [--records 20] [--snr 10] [--seed 0]
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from isofeedback.research.eval import EmgRecord, confirmed_refined, detect_emg, match_events
from isofeedback.sim.alt_emg import alt_emg_record


def _row(label: str, signed: list[float], latency: list[float] | None = None) -> str:
    a = np.asarray(signed)
    if a.size == 0:
        return f"{label:<28}{0:>4}"
    lat = f"{np.median(latency):>9.1f}" if latency else ""
    return (f"{label:<28}{a.size:>4}{np.median(a):>9.1f}{np.median(np.abs(a)):>9.1f}"
            f"{np.percentile(np.abs(a), 90):>9.1f}{lat}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=20)
    ap.add_argument("--snr", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fs", type=float, default=1000.0)
    args = ap.parse_args()
    onset: dict[str, list[float]] = defaultdict(list)
    latency: dict[str, list[float]] = defaultdict(list)
    release: dict[str, list[float]] = defaultdict(list)
    by_rise: dict[str, list[float]] = defaultdict(list)
    by_rise_err: dict[str, list[float]] = defaultdict(list)
    bands = ((0.05, 0.15), (0.15, 0.25), (0.25, 0.4))
    for k in range(args.records):
        # half with artifacts, as eval's rows
        r = alt_emg_record(args.seed + k, args.fs, args.snr, k % 2 == 1)
        rec = EmgRecord(r.emg[:, None], args.fs, r.onsets, r.releases)
        events, _ = detect_emg(rec)
        events = confirmed_refined(events)
        on = [e for e in events if e.type.value == "onset"]
        off = [e for e in events if e.type.value == "release"]
        for i, j in match_events(r.onsets, [e.t for e in on], 0.5).pairs:
            rise, up, _, _ = r.edges[i]
            err, lat = 1000 * (on[j].t - r.onsets[i]), 1000 * (on[j].t_decided - r.onsets[i])
            onset[up].append(err)
            latency[up].append(lat)
            band = next(f"{lo:.2f}–{hi:.2f} s" for lo, hi in bands if rise < hi + 1e-9)
            by_rise[band].append(lat)
            by_rise_err[band].append(err)
        for i, j in match_events(r.releases, [e.t for e in off], 0.5).pairs:
            _, _, _, down = r.edges[i]
            release[down].append(1000 * (off[j].t - r.releases[i]))
    print(f"alt, {args.fs:g} Hz, {args.snr:g} dB, {args.records} records × 60 s from seed "
          f"{args.seed} (half with artifacts); ms; signed = detected − label")
    head = f"{'':<28}{'n':>4}{'signed':>9}{'|err|':>9}{'P90':>9}"
    print(f"\n{'onset, by rise shape':<28}{head[28:]}{'latency':>9}")
    for shape in sorted(onset):
        print(_row(shape, onset[shape], latency[shape]))
    print(f"\n{'onset, by rise duration':<28}{head[28:]}{'latency':>9}")
    for lo, hi in bands:
        band = f"{lo:.2f}–{hi:.2f} s"
        print(_row(band, by_rise_err[band], by_rise[band]))
    print(f"\n{'release, by fall shape':<28}{head[28:]}")
    for shape in sorted(release):
        print(_row(shape, release[shape]))
    print("\nshapes (amplitude over the rise, u from 0 to 1): cosine ½ − ½cos πu, cubic "
          "3u² − 2u³, fast_slow 1 − (1 − u)³, slow_fast u²; a fall is 1 − the shape")


if __name__ == "__main__":
    main()
