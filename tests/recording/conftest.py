"""Fixtures: short simulated sessions recorded with the real recorder."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from isofeedback.coach.protocol import ExerciseProtocol, find_protocol
from isofeedback.config import PipelineConfig
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.recording.writer import Recorder
from isofeedback.service import SessionResult, run_session
from isofeedback.sim import Faults
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sources.simulated import SimulatedSource

SAMPLES = Path(__file__).resolve().parents[2] / "recordings"


def simulated_source(profile: str = "myo", reps: int = 2, seed: int = 3,
                     speed: float | None = None) -> SimulatedSource:
    script = follow_protocol(session_protocol(reps), reps=reps, level=0.18, rest_before=4.0,
                             seed=seed, faults=Faults(move_in_rep=0))
    return SimulatedSource(script, find_profile(profile), speed=speed)


def session_protocol(reps: int = 2) -> ExerciseProtocol:
    """The shipped PIR with short phases: what the recorded sessions coach."""
    return dataclasses.replace(find_protocol("pir"), reps=reps, hold_s=4.0, relax_s=3.0,
                               stretch_s=3.0)


def record_session(folder: Path, name: str = "s1", profile: str = "myo",
                   reps: int = 2, config: PipelineConfig | None = None,
                   ) -> tuple[Path, SimulatedSource, SessionResult]:
    """Run a simulated session with the recorder attached, as the service does."""
    source = simulated_source(profile, reps)
    protocol = session_protocol(reps)
    pipeline = Pipeline(source.profiles, protocol, config)

    async def go() -> SessionResult:
        rec = Recorder.open_in(folder, name, profiles=source.profiles, protocol=protocol,
                               config=pipeline.config, patient="p-test", simulated=True,
                               source="simulated")
        result = await run_session(source, pipeline, [rec], [rec])
        rec.note("device", result.session_s, state="disconnected")
        rec.close({"packets": result.stats.packets})
        return result

    result = asyncio.run(go())
    return folder / f"{name}.isorec", source, result


@pytest.fixture(scope="session")
def myo_recording_master(tmp_path_factory: pytest.TempPathFactory
                         ) -> tuple[Path, SimulatedSource, SessionResult]:
    return record_session(tmp_path_factory.mktemp("rec"))


@pytest.fixture
def myo_recording(myo_recording_master: tuple[Path, SimulatedSource, SessionResult],
                  tmp_path: Path) -> Path:
    """A private copy of a finished Myo recording (tests may damage it)."""
    target = tmp_path / "session.isorec"
    shutil.copy(myo_recording_master[0], target)
    return target


@pytest.fixture
def make_recording() -> Callable[..., tuple[Path, SimulatedSource, SessionResult]]:
    return record_session


@pytest.fixture
def copy_sample(tmp_path: Path) -> Callable[[str], Path]:
    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copy(SAMPLES / name, target)
        return target

    return copy
