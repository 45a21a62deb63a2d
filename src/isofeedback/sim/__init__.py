"""The simulated patient: deterministic EMG/IMU sessions with ground-truth labels.

It is the test bed for everything else: a script says what the patient does (when they
contract, how hard, whether they move the joint), :func:`synthesize` turns it into signals
with realistic noise and artifacts, and :func:`packetize` encodes those signals in a real
firmware profile's byte format, with BLE-like arrival times.
"""

from isofeedback.sim.packets import packetize
from isofeedback.sim.script import (
    Artifacts,
    Contraction,
    Faults,
    Movement,
    PatientScript,
    benchmark_script,
    met_script,
    pir_script,
    protocol_script,
)
from isofeedback.sim.signals import SimulatedSession, synthesize

__all__ = [
    "Artifacts",
    "Contraction",
    "Faults",
    "Movement",
    "PatientScript",
    "SimulatedSession",
    "benchmark_script",
    "met_script",
    "packetize",
    "pir_script",
    "protocol_script",
    "synthesize",
]
