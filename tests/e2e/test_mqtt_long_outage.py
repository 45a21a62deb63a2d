"""The broker is down for a long time (a clinic server rebooting, a home router off for
the night): the publisher keeps trying at a bounded rate (capped backoff, no retry
storm), logs the problem once, keeps reliable messages within their bound, and is back
within one backoff period of the broker's return. The 31 s outage with persistence and
ordering is in test_mqtt_outage.py; this one checks what changes when it lasts minutes:
nothing but the number of attempts, which must stay at most one per 2.5 s.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.types import Event, EventType

DOWN_S = 10.0
LOW, HIGH = 0.25, 5.0  # the publisher's default backoff


async def test_long_outage_bounded_attempts_one_log_line(
    tmp_path: Path, patient: str, mosquitto_control: Any, mqtt_collector: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    start, stop = mosquitto_control
    caplog.set_level(logging.INFO, logger="isofeedback.sinks.mqtt")
    # a persistent broker and a persistent subscriber session (like a phone app's), so the
    # subscriber misses nothing whichever of the two reconnects first after the outage
    persistent = f"persistence true\npersistence_location {tmp_path}/\nuser root\n"
    broker = start(tmp_path, persistent)
    port = broker.port
    settings = BrokerSettings("127.0.0.1", port, keepalive=5)
    got: list[dict[str, Any]] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(mqtt_collector(
        settings, f"isofeedback/{patient}/#", got, ready,
        lambda d: d.get("kind") == "event" and d["t"] == 79.0, persistent_id=f"s-{patient}"))
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(ready.wait(), 5)
        await asyncio.to_thread(stop, broker)  # down before the session starts
        async with MqttPublisher(settings, Serializer(patient, "s-long", 1.7e9),
                                 max_pending=50, flush_timeout_s=5) as pub:
            began = loop.time()
            for i in range(80):  # more than the bound: the oldest 30 are dropped, counted
                pub.submit(Event(EventType.ONSET, float(i), float(i)))
            await asyncio.sleep(DOWN_S)
            attempts_down = pub.stats.attempts
            elapsed = loop.time() - began
            broker = await asyncio.to_thread(start, tmp_path, persistent, port)
            up = loop.time()
            assert await pub.wait_connected(HIGH + 5.0)
            back_after = loop.time() - up
            await asyncio.wait_for(sub, 15)
            for _ in range(100):  # the broker's last acknowledgements may trail delivery
                if not pub.pending:
                    break
                await asyncio.sleep(0.05)
            drained = pub.pending
    finally:
        sub.cancel()
        stop(broker)
    # ramp 0.25, 0.5, 1, 2, 4 s then every 5 s, each × a random 0.5–1: at most the
    # ramp's 5 attempts plus one per 2.5 s afterwards, i.e. ≤ 24 a minute in a long outage
    ceiling = 6 + max(elapsed - (LOW + 0.5 + 1 + 2 + 4) * 0.5, 0) / (HIGH * 0.5)
    print(f"\nlong outage: {attempts_down} attempts in {elapsed:.1f} s (ceiling {ceiling:.1f})")
    assert 3 <= attempts_down <= ceiling, (attempts_down, ceiling, elapsed)
    assert back_after <= HIGH + 2.0
    warnings = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # once, not per attempt
    assert pub.stats.events_overflowed == 30 and pub.error is None and drained == 0
    times = [d["t"] for d in got if d["kind"] == "event"]
    assert times == [float(i) for i in range(30, 80)]  # the newest 50, in order
