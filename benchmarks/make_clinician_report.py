"""Regenerate the clinician-report picture in ``docs/`` from simulated patients.

    PYTHONPATH=src:. python benchmarks/make_clinician_report.py [--out docs/clinician-report]

Eight sessions of one simulated patient over five days, through the real pipeline and
coach (hip flexors MET: two clean sessions, then a third whose hold the progression rule
lengthens to 8 s, a too-weak hold, a moved repetition; wrist flexors PIR: clean, then pain
that switches to the antagonist; hamstrings MET clean), each built from the protocol and
the stored history as a session is, stored in a temporary patient store with a
prescription of 2 sessions a day, then ``isofeedback report --patient … --pdf``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from isofeedback.cli import main
from isofeedback.coach.calibration_store import PatientStore
from isofeedback.coach.progression import progressed
from isofeedback.coach.protocol import find_protocol
from isofeedback.profiles.schema import find_profile
from isofeedback.sim import packetize
from isofeedback.sim.scenarios import pain_at, scenario_script
from isofeedback.sources.simulated import simulate_for_profile
from tests.coach.sessions import feed

SESSIONS = [  # (protocol, scenario, wall time)
    ("hip-flexors-met", "clean", "2026-12-07T08:05"),
    ("hip-flexors-met", "clean", "2026-12-07T18:10"),
    ("wrist-flexors-pir", "clean", "2026-12-08T08:02"),
    ("hip-flexors-met", "clean", "2026-12-08T18:20"),
    ("hip-flexors-met", "too_weak", "2026-12-09T08:30"),
    ("wrist-flexors-pir", "pain_switch", "2026-12-09T18:00"),
    ("hamstrings-met", "clean", "2026-12-10T08:15"),
    ("hip-flexors-met", "moved", "2026-12-11T08:10"),
]
PRESCRIPTION = """[prescription]
patient = "sim-patient"
protocol = "hip-flexors-met"
times_per_day = 2
days = 14
start = 2026-12-07
reminders = ["08:00", "18:00"]
"""


def main_() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("docs/clinician-report"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = PatientStore(Path(tmp), "sim-patient")
        profile = find_profile("myo")
        for name, scenario, wall in SESSIONS:
            protocol = progressed(find_protocol(name), store.sessions())
            script = scenario_script(scenario, protocol)
            packets = packetize(simulate_for_profile(script, profile), profile)
            pain = [(pain_at(script, protocol), "pain", 6.0)] if scenario.startswith("pain") else []
            pipeline, _ = feed(packets, protocol, live=True, commands=pain)
            store.add_session({**pipeline.coach.summary(), "wall": wall, "session": f"sim-{wall}"})
        rx = Path(tmp) / "rx.toml"
        rx.write_text(PRESCRIPTION)
        main(["report", "--patient", "sim-patient", "--data-dir", tmp, "--prescription",
              str(rx), "--out", str(args.out), "--pdf"])


if __name__ == "__main__":
    main_()
