"""The broker goes away mid-session and comes back: nothing reliable is lost.

A private Mosquitto with persistence (the production set-up, see docs/mqtt.md) on a fixed
port is stopped while a simulated session runs and restarted on the same port. The broker
is really down for ``OUTAGE_REAL_S`` seconds: 31 s in real time by default (about 47 s of
test). ``ISOFEEDBACK_FAST_OUTAGE=1`` paces the simulated source at 10× real time instead, so
a 3.1 s outage spans the same ≥ 30 s of session time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path
from typing import Any

from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.service import run_session
from isofeedback.sim import Faults
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.sources.simulated import SimulatedSource
from isofeedback.types import Event, Feedback

# the acceptance is a real 30 s outage: that is the default (about 47 s of test);
# ISOFEEDBACK_FAST_OUTAGE=1 compresses it (3.1 s real, ≥ 30 s of session time) for quick runs
REAL_TIME = os.environ.get("ISOFEEDBACK_FAST_OUTAGE") != "1"
SPEED = 1.0 if REAL_TIME else 10.0
OUTAGE_SESSION_S = 31.0
OUTAGE_REAL_S = OUTAGE_SESSION_S / SPEED
# the outage starts after the reference contraction, spans both reps' holds and ends a few
# seconds before the session does: two reps keep the test to ~47 s
STOP_AT_SESSION_S = 8.0
REPS = 2


class SessionClock:
    """A sink that remembers the latest session time and signals when it passes a mark."""

    def __init__(self, mark: float) -> None:
        self.t = 0.0
        self.mark = mark
        self.passed = asyncio.Event()

    def submit(self, item: Event | Feedback) -> None:
        self.t = max(self.t, item.t_decided if isinstance(item, Event) else item.t)
        if self.t >= self.mark:
            self.passed.set()


def _final(doc: dict[str, Any]) -> bool:
    return doc["kind"] == "status" and doc["reason"] == "stopped"


async def test_broker_outage_loses_no_event_or_cue(
    tmp_path: Path, patient: str, mosquitto_control: Any, mqtt_collector: Any,
    payload_validator: Any,
) -> None:
    start, stop = mosquitto_control
    persistent = f"persistence true\npersistence_location {tmp_path}/\nuser root\n"
    broker = start(tmp_path, persistent)
    port = broker.port
    technique = dataclasses.replace(find_protocol("pir"), reps=REPS)
    script = follow_protocol(technique, level=0.18, rest_before=4.0, seed=7,
                             faults=Faults(move_in_rep=1))
    source = SimulatedSource(script, find_profile("myo"), speed=SPEED)
    settings = BrokerSettings(broker.host, port, keepalive=5)
    received: list[dict[str, Any]] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(mqtt_collector(settings, f"isofeedback/{patient}/#", received,
                                             ready, _final, persistent_id=f"sub-{patient}"))
    clock = SessionClock(STOP_AT_SESSION_S)
    try:
        await asyncio.wait_for(ready.wait(), 5)
        async with MqttPublisher(settings, Serializer(patient, "s-outage", 1.7e9),
                                 backoff_s=(0.1, 1.0), flush_timeout_s=10) as pub:
            assert await pub.wait_connected(5)
            session = asyncio.create_task(
                run_session(source, Pipeline(source.profiles, technique), [pub, clock]))
            await clock.passed.wait()
            await asyncio.to_thread(stop, broker)
            t_down, loop_down = clock.t, asyncio.get_running_loop().time()
            await asyncio.sleep(OUTAGE_REAL_S)
            pending_in_outage = pub.pending
            t_up = clock.t
            broker = await asyncio.to_thread(start, tmp_path, persistent, port)
            down_real = asyncio.get_running_loop().time() - loop_down
            result = await session
        await asyncio.wait_for(sub, 20)
    finally:
        sub.cancel()
        stop(broker)

    assert down_real >= OUTAGE_REAL_S and t_up - t_down >= 30.0, (down_real, t_down, t_up)
    produced = [o for o in result.outputs
                if isinstance(o, Event) or o.kind in ("cue", "phase", "rep", "summary")]
    during = [o for o in produced
              if t_down < (o.t_decided if isinstance(o, Event) else o.t) < t_up]
    assert during and pending_in_outage > 0, "the outage must hold back some events/cues"

    # every reliable message arrives, in order; a resent one may arrive twice (same seq)
    first: dict[int, dict[str, Any]] = {}
    order: list[int] = []
    for d in received:
        if d["kind"] in ("event", "cue", "phase", "rep", "summary"):
            if d["seq"] in first:
                assert first[d["seq"]] | {"_retain": d["_retain"]} == d  # a true duplicate
                continue
            first[d["seq"]] = d
            order.append(d["seq"])
    assert order == list(range(1, len(produced) + 1))
    got = [(d["kind"], d.get("type") or d.get("id") or d.get("phase")) for d in
           (first[s] for s in order) if d["kind"] in ("event", "cue")]
    want = [("event", o.type.value) if isinstance(o, Event) else ("cue", o.payload["id"])
            for o in produced if isinstance(o, Event) or o.kind == "cue"]
    assert got == want
    for d in received:
        payload_validator({k: v for k, v in d.items() if not k.startswith("_")})

    # what the subscriber sees of the service: online, offline (the will Mosquitto sends
    # as it shuts down, or its persisted retained copy), online again as connection 2
    statuses = [(d["state"], d["reason"], d["connection"]) for d in received
                if d["kind"] == "status"]
    assert statuses[0] == ("online", "connected", 1)
    lost = statuses.index(("offline", "connection lost", 1))
    back = statuses.index(("online", "reconnected", 2))
    assert lost < back and statuses[-1] == ("offline", "stopped", 2), statuses
    # the publisher counts its outage from the moment it notices the loss (after aiomqtt's
    # client has closed) to its reconnect, which can land while the fixture is still polling
    # the restarted broker's port: it matches the broker's real downtime within a second
    # (seen: 30.99 s for a 31 s outage), not to the millisecond
    assert pub.stats.reconnects == 1
    assert down_real - 1.0 <= pub.stats.outage_s <= down_real + 2.0, (pub.stats, down_real)
    assert pub.stats.live_dropped > 0 and pub.stats.events_overflowed == 0
    service = [d for d in received if d["kind"] == "service"]
    assert service and any(d["reconnects"] == 1 and d["live_dropped"] > 0 for d in service)
