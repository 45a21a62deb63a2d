"""The coach's "relaxed" judgement on real labelled rests: how often a rest after a
contraction is told "not relaxed", against ``relaxed_below`` alone and against the limit
that follows the rest's noise (``coach.relaxation``), and how often the contraction
itself would be.

    PYTHONPATH=src python benchmarks/relaxed_real.py DATA_FOLDER [--relaxed-below 5]
        [--detector-version 22]

DATA_FOLDER holds labelled CSV files as ``isofeedback eval --real`` reads them (e.g. the
Myo armband's rest/gesture files: 5 s rest, 5 s gesture, labels are the cues). Each file
runs through the live chain and detector in 10 ms chunks (a Myo's packets). The first
labelled contraction is the gentle reference (its median activity from 1 s after the cue
to 0.5 s before its end: 100 %). Each rest after a contraction is judged as the coach
judges a relaxation's second half: the median intensity from 2.5 to 5 s after the
release cue (or up to 0.2 s before the next cue); each contraction from 1.5 to 4 s after
its cue, as if it were a relaxation (the tension the rule must still tell).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from isofeedback.coach.relaxation import noise_reading, relaxed_limit
from isofeedback.config import CURRENT_VERSION, PipelineConfig, versioned_config
from isofeedback.detectors.factory import build_emg_detection
from isofeedback.pipeline import activity_above_rest
from isofeedback.research.eval import EmgRecord, chunk_stream, real_sets

BAND_LOW = 50.0  # the shipped gentle protocols' band, % of the reference: 50-140


def ticks(rec: EmgRecord, config: PipelineConfig
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Each 10 ms tick's time, activity and rest baseline; the calibration's baseline
    and noise."""
    chain, det = build_emg_detection(rec.fs, rec.emg.shape[1], config)
    t, act, rest = [], [], []
    cal: tuple[float, float] | None = None
    for chunk in chunk_stream(rec.emg, rec.fs, "emg", 0.01):
        env = chain.process(chunk)
        det.process(env)
        if not env.n or det.baseline is None or det.noise is None:
            continue
        if cal is None:
            cal = (det.baseline, det.noise)
        t.append(env.t_end)
        act.append(activity_above_rest(float(env.data[-1, 0]), det.baseline))
        rest.append(det.baseline)
    assert cal is not None, rec.name
    return np.asarray(t), np.asarray(act), np.asarray(rest), cal[0], cal[1]


def window(t: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (t >= lo) & (t < hi)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--relaxed-below", type=float, default=5.0)
    ap.add_argument("--detector-version", default=CURRENT_VERSION)
    args = ap.parse_args()
    config = versioned_config({}, "--detector-version", args.detector_version)
    below = args.relaxed_below
    records = sorted((r for s in real_sets(args.folder) for r in s.records if r.onsets),
                     key=lambda r: r.name)
    # rests, told (prescribed), told (limit); contractions, told (prescribed), told (limit)
    totals = np.zeros(6, dtype=int)
    print(f"{'file':<34}{'ref':>7}{'reading %':>10}{'rests':>6}{'told 5':>7}{'told lim':>9}"
          f"{'limits':>14}{'tense':>6}{'told 5':>7}{'told lim':>9}")
    for rec in records:
        t, act, rest, b, noise = ticks(rec, config)
        on, off = rec.onsets, rec.releases
        ref = float(np.median(act[window(t, on[0] + 1.0, off[0] - 0.5)]))
        if ref <= 0:
            print(f"{rec.name:<34} no activity in the first contraction: left out")
            continue
        reading = 100.0 * noise_reading(b, noise) / ref
        rests = told_old = told_new = tense = tense_old = tense_new = 0
        limits = []
        for k, release in enumerate(off):
            end = on[k + 1] - 0.2 if k + 1 < len(on) else t[-1]
            w = window(t, release + 2.5, min(release + 5.0, end))
            if w.sum() < 50:
                continue
            x = float(np.median(100.0 * act[w] / ref))
            limit = relaxed_limit(below, BAND_LOW, reading, float(rest[w][-1]) / b)
            limits.append(limit)
            rests += 1
            told_old += x > below
            told_new += x > limit
        for k, onset in enumerate(on[1:], 1):
            end = off[k] - 0.2 if k < len(off) else t[-1]
            w = window(t, onset + 1.5, min(onset + 4.0, end))
            if w.sum() < 50:
                continue
            x = float(np.median(100.0 * act[w] / ref))
            limit = relaxed_limit(below, BAND_LOW, reading, float(rest[w][-1]) / b)
            tense += 1
            tense_old += x > below
            tense_new += x > limit
        totals += (rests, told_old, told_new, tense, tense_old, tense_new)
        span = f"{min(limits):.1f}-{max(limits):.1f}" if limits else "-"
        print(f"{rec.name:<34}{ref:>7.2f}{reading:>10.1f}{rests:>6}{told_old:>7}{told_new:>9}"
              f"{span:>14}{tense:>6}{tense_old:>7}{tense_new:>9}")
    rests, told_old, told_new, tense, tense_old, tense_new = totals.tolist()
    print(f"\nrests after a contraction told 'not relaxed': {told_old}/{rests} against "
          f"{below:g} %, {told_new}/{rests} against the limit; contractions told as "
          f"tension: {tense_old}/{tense} against {below:g} %, {tense_new}/{tense} against "
          "the limit")


if __name__ == "__main__":
    main()
