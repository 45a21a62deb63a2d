"""The scripted patients recorded live, then replayed from the recording file: the replay
reproduces every output (``--verify``) and so the exact phase / cue / violation sequence."""

from __future__ import annotations

from pathlib import Path

import pytest

from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.recording.writer import Recorder
from isofeedback.research.replay import replay
from tests.coach.sessions import IDLE_STEP_S, simulated, trace
from tests.coach.test_scenarios import EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_scenario_replays_exactly(name: str, tmp_path: Path) -> None:
    _, packets = simulated(name)
    protocol, profiles = find_protocol("pir"), {"sim": find_profile("myo")}
    pipeline = Pipeline(profiles, protocol)
    rec = Recorder.open_in(tmp_path, f"scenario-{name}", profiles=profiles, protocol=protocol,
                           config=pipeline.config, patient="sim-patient", source="simulated",
                           simulated=True)
    last = 0.0
    for p in packets:  # as the live service: idle ticks while no packet comes
        t = last + IDLE_STEP_S
        while t < p.t_arrival:
            for o in pipeline.idle(t):
                rec.submit(o)
            t += IDLE_STEP_S
        rec.on_packet(p)
        for o in pipeline.feed(p):
            rec.submit(o)
        last = p.t_arrival
        if pipeline.coach.finished:
            break
    rec.close({"packets": pipeline.stats.packets})
    result = replay(rec.path, verify=True)
    assert result.kind == "native" and result.simulated
    assert result.stats.packets == pipeline.stats.packets > 0  # every packet from the file
    assert result.verified, result.difference
    assert trace(result.outputs) == EXPECTED[name]
