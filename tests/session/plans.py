"""A simulated PIR session as a plan, for the session tests (real broker, real files)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from typing import Any

from rich.console import Console

from isofeedback.coach.protocol import find_protocol
from isofeedback.profiles.schema import find_profile
from isofeedback.session import SessionPlan
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sinks.mqtt import BrokerSettings
from isofeedback.sources.base import PacketSource
from isofeedback.sources.simulated import SimulatedSource


def simulated_plan(patient: str, mosquitto: Any, out: io.StringIO, *, speed: float = 4.0,
                   **options: Any) -> SessionPlan:
    """The shipped PIR protocol, a simulated Myo patient (seed 2) at ``speed`` × real time,
    publishing to ``mosquitto``; ``options`` are further SessionPlan fields."""
    protocol = find_protocol("pir")
    script = follow_protocol(protocol, level=0.18, seed=2)

    @contextlib.asynccontextmanager
    async def open_source(ctx: Any) -> AsyncIterator[PacketSource]:
        yield SimulatedSource(script, find_profile("myo"), speed=speed)

    return SessionPlan(
        patient=patient, protocol=protocol, open_source=open_source,
        console=Console(file=out, width=120), title="test", source_kind="simulated",
        broker=BrokerSettings(mosquitto.host, mosquitto.port), broker_explicit=True,
        view="plain", **options)
