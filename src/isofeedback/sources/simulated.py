"""The simulated patient as a packet source (no hardware, deterministic per seed)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from isofeedback.profiles.schema import Profile
from isofeedback.sim import PatientScript, SimulatedSession, packetize, synthesize
from isofeedback.sources.pacing import PacedSource
from isofeedback.types import Packet

__all__ = ["SimulatedSource", "simulate_for_profile"]

# EMG RMS at 100 % MVC in each unit a profile may use
_MVC_RMS = {"a.u.": 60.0, "uV": 400.0, "mV": 0.4, "V": 4e-4}


def simulate_for_profile(script: PatientScript, profile: Profile) -> SimulatedSession:
    """Synthesize ``script`` at the rates and channel counts ``profile`` streams."""
    emg = profile.stream("emg")
    imu_fs = next((s.fs for s in profile.streams if s.name == "gyro"), 50.0)
    return synthesize(
        script,
        emg_fs=emg.fs,
        channels=len(emg.channels),
        imu_fs=imu_fs,
        mvc_rms=_MVC_RMS.get(emg.unit, 60.0),
    )


class SimulatedSource(PacedSource):
    """Streams a simulated session through a real profile's byte format."""

    def __init__(
        self,
        script: PatientScript,
        profile: Profile,
        speed: float | None = 1.0,
        device: str = "sim",
    ) -> None:
        self.script = script
        self.profile = profile
        self.speed = speed
        self.device = device
        self.session = simulate_for_profile(script, profile)
        self.all_packets = packetize(self.session, profile, device=device)

    @property
    def profiles(self) -> Mapping[str, Profile]:
        return {self.device: self.profile}

    def timed_packets(self) -> Iterable[Packet]:
        return self.all_packets
