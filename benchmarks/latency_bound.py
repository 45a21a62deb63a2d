"""How soon could *any* causal detector decide an onset on the benchmark signals?

A clairvoyant reference: for each contraction it is told the exact variance profile the
EMG chain's power follows (the contraction's plateau level and ramp duration), only not
when it starts. Its statistic is the likelihood ratio of that profile against rest,
maximised over the start (a CUSUM for a known, non-stationary change); its threshold is
set, per profile, on minutes of clean rest noise so that it raises at most ``--fa``
false alarms per minute (default 0.5: the issue's allowance, several times what our
detector spends). It sees the same chain output (band-pass, notch, int8 at 200 Hz) as our
detector, so the filters' delay is in both. No real detector knows the profile: its
latency is a floor that a target below it cannot be met on these signals.

Our detector runs on the same clean records in the same run, side by side.

    PYTHONPATH=src python benchmarks/latency_bound.py [--fs 200] [--snr 10] [--records 10]
"""

from __future__ import annotations

import argparse

import numpy as np

from isofeedback.dsp.emg_chain import EmgChain
from isofeedback.evaluation import (
    Summary,
    detect_emg,
    quantize_int8,
    simulated_records,
    summarize,
)
from isofeedback.sim.script import benchmark_script
from isofeedback.types import Chunk, EventType, FloatArray


def chain_power(x: FloatArray, fs: float, full_scale: float | None) -> FloatArray:
    """The ``pow`` channel (power in rest units) our chain gives for samples ``x``."""
    chain = EmgChain(fs, 1, 50.0, calibration_s=2.0, full_scale=full_scale)
    return chain.process(Chunk("emg", fs, 0, 0.0, x[:, None], ("a",))).data[:, 1]


def profile_statistic(z: FloatArray, fs: float, beta: float, ramp_s: float) -> FloatArray:
    """At every sample, the largest log-likelihood ratio over the start ``τ`` (up to the
    ramp + 100 ms back) of "power ``1 + β·min((t − τ)/R, 1)²``" against "rest"."""
    span = int(round((ramp_s + 0.1) * fs)) + 1
    d = np.arange(span) + 1.0
    g = np.clip(d / max(ramp_s * fs, 1.0), 0.0, 1.0) ** 2
    v = 1.0 + beta * g
    a, b = 0.5 * (1.0 - 1.0 / v), 0.5 * np.log(v)
    best = np.full(z.size, -np.inf)
    for m in range(1, span + 1):  # windows of m samples ending at each t
        s = np.convolve(z, a[:m][::-1])[: z.size] - float(b[:m].sum())
        s[: m - 1] = -np.inf
        np.maximum(best, s, out=best)
    return best


def alarms(stat: FloatArray, h: float, dead: int) -> int:
    """Separate crossings of ``h`` (a new one needs ``dead`` samples below it)."""
    idx = np.flatnonzero(stat > h)
    if idx.size == 0:
        return 0
    return int(1 + np.count_nonzero(np.diff(idx) > dead))


def threshold_for(stat: FloatArray, allowed: int, dead: int) -> float:
    """The lowest threshold with at most ``allowed`` alarms on ``stat`` (bisection)."""
    lo, hi = 0.0, float(np.max(stat)) + 1.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if alarms(stat, mid, dead) > allowed:
            lo = mid
        else:
            hi = mid
    return hi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fs", type=float, default=200.0)
    ap.add_argument("--snr", type=float, default=10.0)
    ap.add_argument("--records", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fa", type=float, default=0.5, help="false alarms per minute allowed")
    ap.add_argument("--rest-min", type=float, default=None,
                    help="minutes of rest noise per threshold (default 10 at ≤ 250 Hz, else 2)")
    args = ap.parse_args()
    fs = args.fs
    int8 = fs <= 250
    full_scale = 127.0 if int8 else None
    rest_min = args.rest_min or (10.0 if int8 else 2.0)
    rng = np.random.default_rng(12345)
    bound: list[float] = []
    ours = Summary()
    for rec in simulated_records(args.records, args.snr, fs, args.seed, "none", int8):
        k = int(rec.name[3:])
        script = benchmark_script(k, 60.0, args.snr, False)
        z = chain_power(rec.emg[:, 0], fs, full_scale)
        # the rest noise the simulator adds to this record (same level, same converter)
        mvc = 60.0 if int8 else 1.0
        noise = min(c.level for c in script.contractions) * mvc / 10 ** (args.snr / 20)
        rest = rng.standard_normal(int(rest_min * 60 * fs)) * noise
        zr = chain_power(quantize_int8(rest) if int8 else rest, fs, full_scale)
        zr = zr[int(2 * fs):]  # after the chain's calibration
        for c in script.contractions:
            h0 = int(round(c.hold_start * fs))
            beta = float(z[h0 + int(0.2 * fs) : h0 + int(1.2 * fs)].mean()) - 1.0
            h = threshold_for(
                profile_statistic(zr, fs, beta, c.ramp_up), int(args.fa * rest_min), int(fs)
            )
            i0 = int(round(c.onset * fs))
            pre = int(0.3 * fs)
            seg = z[i0 - pre : h0 + int(0.5 * fs)]
            hit = np.flatnonzero(profile_statistic(seg, fs, beta, c.ramp_up)[pre:] > h)
            bound.append(1000.0 * hit[0] / fs if hit.size else float("nan"))
        events, _ = detect_emg(rec)
        ours.add(rec.onsets, [e for e in events if e.type == EventType.ONSET], rec.minutes, 0.5)
    b = np.asarray(bound)
    s = summarize(ours)
    print(f"{fs:g} Hz{' int8' if int8 else ''}, SNR {args.snr:g} dB, {args.records} clean "
          f"records, {b.size} contractions; onset decision latency (ms) from the ramp's start")
    print(f"{'detector':<44}{'median':>8}{'P90':>8}{'missed':>8}{'false/min':>10}")
    print(f"{'clairvoyant (knows each profile), ' + f'{args.fa:g} FA/min':<44}"
          f"{np.nanmedian(b):>8.1f}{np.nanpercentile(b, 90):>8.1f}"
          f"{int(np.isnan(b).sum()):>8d}{args.fa:>10.2f}")
    print(f"{'ours (live, profile unknown)':<44}{s['lat_med_ms']:>8.1f}{s['lat_p90_ms']:>8.1f}"
          f"{int(s['missed']):>8d}{s['false_per_min']:>10.2f}")


if __name__ == "__main__":
    main()
