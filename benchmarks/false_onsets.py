"""False onsets against latency: provisional onsets + ``retracted`` events, or a
confirmation delay, for several minimum contraction durations, side by side.

    PYTHONPATH=src python benchmarks/false_onsets.py [--fs 200] [--records 10] \\
        [--sets sim nk alt] [--real DIR]

The detector runs once per record with retraction off; each minimum duration ``m`` is then
applied to its events (the retraction is a pure post-step, :class:`Retraction`):

- *retracted*: onsets are reported at once; confirmed onsets are those no ``retracted``
  event names, so their decision latency is unchanged;
- *delay*: an onset is reported only once its activation has lasted ``m``, so its latency
  is at least ``m`` (optimistic: a causal detector knows a little later, when the release
  test has had time to fire).

Parameters are chosen on the ``sim`` rows only (docs/detection.md, protocol).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from isofeedback.config import PipelineConfig
from isofeedback.detectors.retraction import Retraction
from isofeedback.research.eval import (
    EmgRecord,
    Summary,
    confirmed,
    detect_emg,
    generated_records,
    real_sets,
    summarize,
)
from isofeedback.types import EventType

MIN_S = (0.0, 0.3, 0.5, 0.8)


def table(name: str, recs: Sequence[EmgRecord], tol: float) -> None:
    cfg = PipelineConfig().updated({"detector.confirmation.min_contraction_s": 0.0})
    runs = [(rec, detect_emg(rec, config=cfg)[0]) for rec in recs]
    for m in MIN_S:
        for mode in ("retracted", "delay") if m > 0 else ("provisional",):
            s = Summary()
            for rec, events in runs:
                kept = confirmed(Retraction(m).process(events))
                on = [e for e in kept if e.type == EventType.ONSET]
                if mode == "delay":
                    on = [replace(e, t_decided=max(e.t_decided, e.t + m)) for e in on]
                s.add(rec.onsets, on, rec.minutes, tol)
            r = summarize(s)
            print(f"{name:<28}{m:>5.1f}  {mode:<12}{r['lat_med_ms']:>8.1f}{r['lat_p90_ms']:>8.1f}"
                  f"{int(r['missed']):>5}/{int(r['truths']):<4}{r['false_per_min']:>8.2f}")


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fs", type=float, default=1000.0)
    p.add_argument("--records", type=int, default=10)
    p.add_argument("--snr", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--artifacts", default="half", choices=["none", "half", "all"])
    p.add_argument("--sets", nargs="+", default=["sim", "nk", "alt"])
    p.add_argument("--real", type=Path)
    a = p.parse_args(argv)
    int8 = a.fs <= 250
    print(f"{'set':<28}{'min s':>5}  {'mode':<12}{'lat med':>8}{'lat P90':>8}"
          f"{'missed':>10}{'FP/min':>8}")
    for kind in a.sets:
        recs = generated_records(kind, a.records, a.snr, a.fs, a.seed, a.artifacts, int8)
        table(f"{kind} {a.snr:g} dB {a.fs:g} Hz", recs, 0.5)
    if a.real is not None:
        for rs in real_sets(a.real):
            table(f"{rs.name[:18]} [{rs.labels}]", rs.records, rs.tolerance)


if __name__ == "__main__":
    main()

