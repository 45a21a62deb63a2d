"""A sensor whose noise rises during a hold against tension that does not let go: what the
coach says, by device and detector version.

A coached PIR session per device profile and seed, through the whole live pipeline:
``noise`` — the sensor noise's power rises ``--rise`` × three seconds into the first hold
and stays (sweat, a strap that moved): every repetition should pass; ``tension`` — the
patient keeps a third of the hold's tension after the second release: that repetition
should be told ``not_relaxed``. Printed: repetitions done, repetitions faulted
``not_relaxed``, and the sessions judged as they should be.

    PYTHONPATH=src python benchmarks/noise_rise.py [--seeds 5] [--versions 21 22]
"""

from __future__ import annotations

import argparse

from isofeedback.coach.protocol import find_protocol
from isofeedback.config import versioned_config
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.sim import packetize
from isofeedback.sim.scenarios import noise_rise_script, scenario_script
from isofeedback.sim.script import PatientScript
from isofeedback.sources.simulated import simulate_for_profile
from isofeedback.types import Feedback

PIR = find_protocol("pir")
PROFILES = ("myo", "ganglion", "npg_lite", "gforce", "openemg")


def script_of(kind: str, seed: int, rise: float) -> PatientScript:
    if kind == "tension":
        return scenario_script("not_relaxed", PIR, seed=seed)
    return noise_rise_script(PIR, seed, rise)


def reps(profile_name: str, script: PatientScript, version: str) -> list[list[str]]:
    """Each repetition's violations."""
    profile = find_profile(profile_name)
    pipeline = Pipeline({"sim": profile}, PIR,
                        config=versioned_config({"detector_version": version}, "benchmark"))
    out = []
    for packet in packetize(simulate_for_profile(script, profile), profile):
        out += pipeline.feed(packet)
    return [o.payload["violations"] for o in out if isinstance(o, Feedback) and o.kind == "rep"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--rise", type=float, default=2.5)
    ap.add_argument("--versions", nargs="+", default=["21", "22"])
    args = ap.parse_args()
    print(f"{'device':<10}{'fs':>6}{'ch':>4}{'version':>8}"
          f"{'noise: clean sessions':>23}{'reps':>6}{'not_relaxed':>12}"
          f"{'tension: told':>15}")
    for name in PROFILES:
        stream = next(s for s in find_profile(name).streams if s.name == "emg")
        for version in args.versions:
            clean = done = faulted = told = 0
            for seed in range(args.seeds):
                got = reps(name, script_of("noise", seed, args.rise), version)
                done += len(got)
                faulted += sum("not_relaxed" in v for v in got)
                clean += got == [[], [], []]
                tense = reps(name, script_of("tension", seed, args.rise), version)
                told += len(tense) > 1 and "not_relaxed" in tense[1]
            print(f"{name:<10}{stream.fs:>6.0f}{len(stream.channels):>4}{version:>8}"
                  f"{f'{clean}/{args.seeds}':>23}{done:>6}{faulted:>12}"
                  f"{f'{told}/{args.seeds}':>15}", flush=True)


if __name__ == "__main__":
    main()
