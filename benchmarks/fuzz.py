"""The long fuzz run: the targets of tests/fuzz (every decoder, loader, importer and the
recording reader) on many random inputs each, as a benchmark-style script.

Each target runs in its own process (so a crash inside a C library shows as a crash, and
the peak memory is the target's own) on ``--count`` random byte strings (seeded, so a
failure is reproducible with the printed seed and index). An input passes when it returns
or raises a project error, within the per-input deadline, with nothing non-finite out.
Printed per target: inputs, failures by kind, inputs per second, the slowest input, the
process's peak RSS. docs/reliability.md quotes a run.

    PYTHONPATH=src python benchmarks/fuzz.py --count 100000
    PYTHONPATH=src python benchmarks/fuzz.py --target decoders --count 1000 --seed 7
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEADLINE_S = 20.0


def run_target(name: str, count: int, seed: int, deep_every: int) -> dict[str, object]:
    """Run one target ``count`` times in this process; a summary as a dict."""
    from tests.fuzz.targets import TARGETS, deadline, recording_reader, seed_recording

    target = TARGETS[name]
    if name == "recording_reader":
        seed_recording()
    rnd = random.Random(seed)
    failures: collections.Counter[str] = collections.Counter()
    first: dict[str, str] = {}
    slowest = 0.0
    started = time.perf_counter()
    for i in range(count):
        data = rnd.randbytes(rnd.randrange(0, 400))
        t0 = time.perf_counter()
        try:
            with deadline(DEADLINE_S):
                if name == "recording_reader":
                    recording_reader(data, deep=deep_every > 0 and i % deep_every == 0)
                else:
                    target(data)
        except Exception as exc:  # a failure: anything but a project error
            key = f"{type(exc).__name__}: {str(exc)[:100]}"
            failures[key] += 1
            first.setdefault(key, f"input {i} (seed {seed}): {data.hex()}\n"
                                  f"{traceback.format_exc()[-1200:]}")
        slowest = max(slowest, time.perf_counter() - t0)
    wall = time.perf_counter() - started
    return {
        "target": name, "inputs": count, "failures": sum(failures.values()),
        "kinds": dict(failures), "examples": first, "wall_s": round(wall, 1),
        "per_s": round(count / wall, 1), "slowest_s": round(slowest, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    from tests.fuzz.targets import TARGETS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000, help="inputs per target")
    ap.add_argument("--target", choices=sorted(TARGETS), action="append",
                    help="only these targets (default: all)")
    ap.add_argument("--count-for", action="append", default=[], metavar="TARGET=N",
                    help="another count for one target (slow ones)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--deep-every", type=int, default=50,
                    help="recording_reader: replay, export and report every Nth input too")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    counts = {k: int(v) for k, v in (item.split("=", 1) for item in args.count_for)}
    if args.child:
        (name,) = args.target
        print(json.dumps(run_target(name, counts.get(name, args.count), args.seed,
                                    args.deep_every)))
        return 0
    rows = []
    for name in args.target or sorted(TARGETS):
        n = counts.get(name, args.count)
        cmd = [sys.executable, __file__, "--child", "--target", name, "--count", str(n),
               "--seed", str(args.seed), "--deep-every", str(args.deep_every)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        # (a C library may have printed to stdout without a newline: take our JSON)
        at = done.stdout.rfind('{"target"')
        line = done.stdout[at:].strip() if at >= 0 else ""
        if done.returncode != 0 or not line:
            # a crash of the whole process (a C library): the worst kind of failure
            rows.append({"target": name, "inputs": n, "failures": "CRASH",
                         "detail": done.stderr[-2000:]})
            print(f"{name}: CRASHED (exit {done.returncode})\n{done.stderr[-2000:]}",
                  flush=True)
            continue
        row = json.loads(line)
        rows.append(row)
        print(f"{name:17s} {row['inputs']:>7} inputs  {row['failures']} failures  "
              f"{row['per_s']:>7} /s  slowest {row['slowest_s']:.3f} s  "
              f"peak RSS {row['peak_rss_mb']} MB  ({row['wall_s']} s)", flush=True)
        for kind, example in row["examples"].items():
            print(f"  {row['kinds'][kind]} x {kind}\n  {example}", flush=True)
    bad = [r for r in rows if r["failures"]]
    print(json.dumps({"targets": len(rows), "failing": [r["target"] for r in bad]}))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
