"""A short soak (the long one is ``benchmarks/soak.py --hours 2``): sessions back to back
in one process through the real service, a real Mosquitto and recordings. Every reliable
message published is received, and no file descriptor or asyncio task is left behind."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from isofeedback.recording.replay import replay_async
from isofeedback.sinks.mqtt import BrokerSettings

ROOT = Path(__file__).resolve().parents[2]


def _soak_module() -> Any:
    spec = importlib.util.spec_from_file_location("soak", ROOT / "benchmarks" / "soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_sessions_back_to_back_leave_nothing_behind(
    mosquitto: Any, patient: str, tmp_path: Path
) -> None:
    soak = _soak_module()
    r = await soak.soak(150.0, BrokerSettings(mosquitto.host, mosquitto.port), tmp_path,
                        sample_every_s=0.5, patient=patient, reps=4)
    sessions = r["sessions"]
    assert len(sessions) >= 2 and all(s["exit"] == 0 for s in sessions)
    for s in sessions:
        assert s["received"] == s["published"] > 0, s
    first, last = r["samples"][0], r["samples"][-1]
    assert last["fds"] <= first["fds"] and last["tasks"] <= first["tasks"], r["samples"]
    result = await replay_async(sessions[-1]["recording"], verify=True)
    assert result.verified, result.difference
