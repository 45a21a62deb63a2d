"""Regenerate the sample recordings in ``recordings/`` (simulated patient, deterministic).

    PYTHONPATH=src python benchmarks/make_sample_recordings.py [--out recordings]

Each recording is a whole simulated session run through the real pipeline with the
recorder attached, exactly like ``isofeedback demo --record``; the metadata says
``simulated: true``. Packets, arrival times, events and feedback are the same on every run
(the simulated patient is seeded); only the SQLite page layout and ``end_wall`` may differ.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from pathlib import Path

from isofeedback.coach.protocol import ExerciseProtocol, find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.recording.writer import Recorder
from isofeedback.service import run_session
from isofeedback.sim import Faults
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sources.simulated import SimulatedSource

WALL_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, fixed so the files are reproducible



@dataclasses.dataclass(frozen=True)
class Sample:
    profile: str
    technique: str
    reps: int
    seed: int
    faults: Faults
    hold_s: float | None = None


SAMPLES = {
    # a PIR session on a Myo armband, the patient moves the joint in rep 2
    "myo-pir-sim": Sample("myo", "pir", 3, 3, Faults(move_in_rep=1)),
    # a short MET session on the 8-channel 2 kHz OpenEMG wearable
    "openemg-met-sim": Sample("openemg", "met", 2, 5, Faults(), hold_s=4.0),
}


async def make(name: str, out: Path) -> Path:
    spec = SAMPLES[name]
    profile = find_profile(spec.profile)
    base = find_protocol(spec.technique)
    protocol: ExerciseProtocol = dataclasses.replace(
        base, reps=spec.reps, hold_s=spec.hold_s or base.hold_s)
    script = follow_protocol(protocol, seed=spec.seed, faults=spec.faults)
    source = SimulatedSource(script, profile, speed=None)
    pipeline = Pipeline(source.profiles, protocol)
    target = out / f"{name}.isorec"
    target.unlink(missing_ok=True)
    recorder = Recorder(
        target, profiles=source.profiles, protocol=protocol, config=pipeline.config,
        patient="sim-patient", session_id=name, wall_start=WALL_START, source="simulated",
        simulated=True, extra_meta={"simulation": {"seed": spec.seed, "faults": repr(spec.faults)}},
    )
    result = await run_session(source, pipeline, [recorder], [recorder])
    recorder.close({"packets": result.stats.packets})
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "recordings")
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    for name in SAMPLES:
        path = asyncio.run(make(name, args.out))
        print(f"{path}: {path.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
