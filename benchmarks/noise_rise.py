"""A sensor whose noise rises during a hold against tension that does not let go: what the
coach says, by device and detector version.

A coached PIR session per device profile and seed, through the whole live pipeline:
``noise`` — the sensor noise's power rises ``--rise`` × three seconds into the first hold
and stays (sweat, a strap that moved): every repetition should pass; ``tension`` — the
patient keeps a third of the hold's tension after the second release (``--kept``: the
fraction; ``--mild``: a second, smaller one, counted too): that repetition should be told
``not_relaxed``. ``clean``: the same patient with neither (no repetition
should be faulted). Printed: repetitions done, repetitions faulted ``not_relaxed``, and the
sessions judged as they should be; by detector version and by the coach's "relaxed" rule
(``prescribed``: the protocol's ``relaxed_below`` alone, as before; ``noise``: never below
the rest noise's own level, ``Coach.relaxed_limit``).

    PYTHONPATH=src python benchmarks/noise_rise.py [--seeds 5] [--versions 22 23]
        [--rules prescribed noise] [--mild 0.12]
"""

from __future__ import annotations

import argparse
import dataclasses

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


RULES = {"prescribed": dataclasses.replace(PIR, relaxed_over_noise=False),
         "noise": dataclasses.replace(PIR, relaxed_over_noise=True)}


def script_of(kind: str, seed: int, rise: float, kept: float = 0.35) -> PatientScript:
    if kind == "tension":  # a fraction ``kept`` of the hold's level stays after the release
        script = scenario_script("not_relaxed", PIR, seed=seed)
        return dataclasses.replace(script, contractions=tuple(
            dataclasses.replace(c, residual=c.level * kept) if c.residual > 0 else c
            for c in script.contractions))
    if kind == "clean":
        return scenario_script("clean", PIR, seed=seed)
    return noise_rise_script(PIR, seed, rise)


def reps(profile_name: str, script: PatientScript, version: str,
         rule: str = "noise") -> list[list[str]]:
    """Each repetition's violations."""
    profile = find_profile(profile_name)
    pipeline = Pipeline({"sim": profile}, RULES[rule],
                        config=versioned_config({"detector_version": version}, "benchmark"))
    out = []
    for packet in packetize(simulate_for_profile(script, profile), profile):
        out += pipeline.feed(packet)
    return [o.payload["violations"] for o in out if isinstance(o, Feedback) and o.kind == "rep"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--rise", type=float, default=2.5)
    ap.add_argument("--versions", nargs="+", default=["22", "23"])
    ap.add_argument("--rules", nargs="+", default=list(RULES), choices=list(RULES))
    ap.add_argument("--kept", type=float, default=0.35)
    ap.add_argument("--mild", type=float, default=0.12)
    args = ap.parse_args()
    print(f"{'device':<10}{'fs':>6}{'ch':>4}{'version':>8}{'relaxed':>11}"
          f"{'noise: clean sessions':>23}{'reps':>6}{'not_relaxed':>12}"
          f"{'tension: told':>15}{f'mild {args.mild:g}: told':>16}{'clean: faulted':>16}")
    for name in PROFILES:
        stream = next(s for s in find_profile(name).streams if s.name == "emg")
        for version in args.versions:
            for rule in args.rules:
                clean = done = faulted = told = mild = wrong = 0
                for seed in range(args.seeds):
                    got = reps(name, script_of("noise", seed, args.rise), version, rule)
                    done += len(got)
                    faulted += sum("not_relaxed" in v for v in got)
                    clean += got == [[], [], []]
                    for kept in (args.kept, args.mild):
                        tense = reps(name, script_of("tension", seed, args.rise, kept),
                                     version, rule)
                        hit = len(tense) > 1 and "not_relaxed" in tense[1]
                        told += kept == args.kept and hit
                        mild += kept == args.mild and hit
                    quiet = reps(name, script_of("clean", seed, args.rise), version, rule)
                    wrong += sum("not_relaxed" in v for v in quiet)
                print(f"{name:<10}{stream.fs:>6.0f}{len(stream.channels):>4}{version:>8}"
                      f"{rule:>11}{f'{clean}/{args.seeds}':>23}{done:>6}{faulted:>12}"
                      f"{f'{told}/{args.seeds}':>15}{f'{mild}/{args.seeds}':>16}{wrong:>16}",
                      flush=True)


if __name__ == "__main__":
    main()
