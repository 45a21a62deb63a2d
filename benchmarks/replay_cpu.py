"""CPU time of the replay and live paths on the two sample recordings, for before/after
comparisons on a shared machine (CPU time of this process, best of ``--repeat``).

    PYTHONPATH=src python benchmarks/replay_cpu.py [--repeat 5] [what ...]

``what``: ``myo``, ``openemg`` (native ``replay()``), ``myo.csv``, ``openemg.csv``,
``myo.bdf``, ``openemg.bdf``, ``myo.edf``, ``openemg.edf`` (the same data exported to
that format, detection only), ``myo.live``, ``openemg.live`` (``feed()``
packet by packet, as the live service does); default all. Compare two versions of the code
by running this alternately with each one's ``src`` on ``PYTHONPATH`` (e.g. a ``git
worktree`` of the older commit), several times: on a shared machine a single pair of runs
says little.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from isofeedback.pipeline import Pipeline
from isofeedback.recording.export import export_recording
from isofeedback.recording.reader import RecordingReader
from isofeedback.research.replay import replay

SAMPLES = Path(__file__).resolve().parent.parent / "recordings"
NAMES = {"myo": "myo-pir-sim", "openemg": "openemg-met-sim"}
FOREIGN = ("csv", "bdf", "edf")
ALL = ["myo", "openemg", *(f"{k}.{f}" for f in FOREIGN for k in ("myo", "openemg")),
       "myo.live", "openemg.live"]


def best_cpu(fn: Callable[[], Any], repeat: int) -> float:
    """Best CPU seconds of ``repeat`` runs after one to warm up."""
    fn()
    cpus = []
    for _ in range(repeat):
        c = time.process_time()
        fn()
        cpus.append(time.process_time() - c)
    return min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("what", nargs="*", default=ALL, help=" ".join(ALL))
    args = parser.parse_args()
    unknown = set(args.what) - set(ALL)
    if unknown:
        parser.error(f"unknown: {sorted(unknown)}; choose from {ALL}")
    warnings.filterwarnings("ignore")
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for what in args.what:
            key, _, kind = what.partition(".")
            path = SAMPLES / f"{NAMES[key]}.isorec"
            with RecordingReader(path) as r:
                seconds = r.duration_s()
                packets = list(r.packets())
                make = (r.profiles(), r.protocol(), r.config())
                foreign = Path(tmp) / f"{NAMES[key]}.{kind}"
                if kind in FOREIGN and not foreign.exists():
                    export_recording(r, foreign, kind)

            def live() -> None:
                p = Pipeline(*make)  # noqa: B023
                for packet in packets:  # noqa: B023
                    p.feed(packet)
                    if p.coach.finished:
                        break

            fn = (live if kind == "live"
                  else (lambda: replay(foreign)) if kind in FOREIGN  # noqa: B023
                  else (lambda: replay(path)))  # noqa: B023
            cpu = best_cpu(fn, args.repeat)
            figures.append(f"{what} {cpu * 1000:.0f} ms ({seconds / cpu:.0f}x)")
    print(", ".join(figures))


if __name__ == "__main__":
    main()
