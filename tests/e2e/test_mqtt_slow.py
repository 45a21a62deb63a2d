"""Slow consumers never slow acquisition: a subscriber that stops reading, and a broker
that freezes (SIGSTOP) while a session runs at full speed. What is dropped is counted."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import struct
from pathlib import Path
from typing import Any

from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.service import run_session
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.sources.simulated import SimulatedSource

RELIABLE = ("event", "cue", "phase", "rep", "summary")


def _source(seed: int) -> tuple[SimulatedSource, Pipeline]:
    technique = find_protocol("pir")
    script = follow_protocol(technique, level=0.18, rest_before=4.0, seed=seed)
    source = SimulatedSource(script, find_profile("myo"), speed=None)
    return source, Pipeline(source.profiles, technique)


def _mqtt_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def stalled_subscriber(port: int, topic: str) -> socket.socket:
    """An MQTT 3.1.1 client that subscribes (QoS 1) and then never reads its socket."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    body = _mqtt_string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 600)
    body += _mqtt_string("stalled")
    sock.sendall(bytes([0x10, len(body)]) + body)
    sub = struct.pack("!H", 1) + _mqtt_string(topic) + bytes([1])
    sock.sendall(bytes([0x82, len(sub)]) + sub)
    return sock


def _done(doc: dict[str, Any]) -> bool:
    return doc["kind"] == "status" and doc["reason"] == "stopped"


async def test_stalled_subscriber_does_not_slow_the_session(
    mosquitto: Any, patient: str, mqtt_collector: Any
) -> None:
    settings = BrokerSettings(mosquitto.host, mosquitto.port)
    stalled = stalled_subscriber(mosquitto.port, f"isofeedback/{patient}/#")
    got: list[dict[str, Any]] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(mqtt_collector(settings, f"isofeedback/{patient}/#", got,
                                             ready, _done))
    try:
        await asyncio.wait_for(ready.wait(), 5)
        source, pipeline = _source(11)
        async with MqttPublisher(settings, Serializer(patient, "slow-sub", 1.7e9)) as pub:
            assert await pub.wait_connected(5)
            result = await asyncio.wait_for(run_session(source, pipeline, [pub]), 60)
        await asyncio.wait_for(sub, 10)
    finally:
        stalled.close()
    reliable = [d["seq"] for d in got if d["kind"] in RELIABLE]
    produced = [o for o in result.outputs if getattr(o, "kind", "event") in RELIABLE]
    assert reliable == list(range(1, len(produced) + 1))
    assert pub.stats.events_overflowed == 0 and pub.pending == 0


async def test_frozen_broker_does_not_block_acquisition(
    tmp_path: Path, patient: str, mosquitto_control: Any, mqtt_collector: Any
) -> None:
    start, stop = mosquitto_control
    broker = start(tmp_path)
    settings = BrokerSettings(broker.host, broker.port)
    got: list[dict[str, Any]] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(mqtt_collector(settings, f"isofeedback/{patient}/#", got,
                                             ready, _done))
    limit = 20
    try:
        await asyncio.wait_for(ready.wait(), 5)
        source, pipeline = _source(12)
        async with MqttPublisher(settings, Serializer(patient, "frozen", 1.7e9),
                                 max_pending=limit, window=4, flush_timeout_s=15) as pub:
            assert await pub.wait_connected(5)
            os.kill(broker.process.pid, signal.SIGSTOP)
            try:
                # the whole session runs while the broker cannot take a single message
                result = await asyncio.wait_for(run_session(source, pipeline, [pub]), 60)
                assert pub.pending <= limit and pub.stats.pending_max <= limit
            finally:
                os.kill(broker.process.pid, signal.SIGCONT)
        await asyncio.wait_for(sub, 20)
    finally:
        sub.cancel()
        stop(broker)
    produced = [o for o in result.outputs if getattr(o, "kind", "event") in RELIABLE]
    assert len(produced) > limit, "the session must overflow the small queue"
    seqs = [d["seq"] for d in got if d["kind"] in RELIABLE]
    unique = sorted(set(seqs))
    # in order of first arrival; a message resent after the freeze (QoS 1: at least once)
    # may arrive again after later ones, e.g. [1, 2, 3, 4, 1, 2, ...] for a window of 4
    assert list(dict.fromkeys(seqs)) == unique
    missing = set(range(1, len(produced) + 1)) - set(unique)
    # the set-up instruction's retained copy (no seq) waits in the same queue: when the
    # overflow dropped it, it is counted too
    setup_lost = sum(1 for o in result.outputs if getattr(o, "kind", "") == "cue"
                     and o.payload.get("id") == "setup") - len(
        {d["t"] for d in got if d["kind"] == "setup"})
    # exactly what the publisher reported as overflowed is missing, oldest first, and the
    # newest (the end of the session) arrived
    assert len(missing) + setup_lost == pub.stats.events_overflowed > 0
    assert unique[-1] == len(produced)
    assert pub.stats.live_dropped > 0
    summary = next(d for d in got if d["kind"] == "summary")
    assert summary["reps_done"] == 3
