"""The publisher writes a message paho queues at once (:class:`_EagerWrites`) instead of
through the event loop: every message still reaches a subscriber, in order, and the
socket is handed to aiomqtt's own writer only when it cannot take everything."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.schema import find_profile
from isofeedback.service import run_session
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sinks import mqtt
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.sources.simulated import SimulatedSource


async def test_messages_are_written_at_once_and_all_arrive(
    mosquitto: Any, patient: str, mqtt_collector: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits = []
    real = mqtt._EagerWrites._wait_for_socket

    def counted(self: Any, client: Any, userdata: Any, sock: Any) -> None:
        waits.append(1)
        real(self, client, userdata, sock)

    monkeypatch.setattr(mqtt._EagerWrites, "_wait_for_socket", counted)
    settings = BrokerSettings(mosquitto.host, mosquitto.port)
    got: list[dict[str, Any]] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(mqtt_collector(settings, f"isofeedback/{patient}/#", got,
                                             ready, lambda doc: doc["kind"] == "end"))
    await asyncio.wait_for(ready.wait(), 5)
    protocol = find_protocol("pir")
    source = SimulatedSource(follow_protocol(protocol, level=0.18, seed=5), find_profile("myo"),
                             speed=20.0)
    async with MqttPublisher(settings, Serializer(patient, "eager", 1.7e9)) as pub:
        assert await pub.wait_connected(5)
        result = await asyncio.wait_for(
            run_session(source, Pipeline(source.profiles, protocol), [pub]), 60)
    # the publisher has disconnected: a message sent now reaches the subscriber after all
    # of its messages (a live level may follow the "stopped" status)
    async with settings.client() as other:
        await other.publish(f"isofeedback/{patient}/end", b'{"kind": "end"}', qos=1)
    await asyncio.wait_for(sub, 10)
    # everything the publisher sent arrived (it subscribed first): the levels, the
    # events in their order, the status and service messages
    assert got.pop()["kind"] == "end"
    assert len(got) == pub.stats.published > 200
    assert any(d["kind"] == "level" for d in got)
    reliable = [d["seq"] for d in got if "seq" in d and d["kind"] != "level"]
    assert reliable == sorted(reliable) and len(reliable) == len(set(reliable))
    assert len(result.outputs) > len(reliable)
    # written at once: aiomqtt's writer (a loop round trip per message) all but unused
    assert len(waits) < pub.stats.published / 10


class _FakePaho:
    """paho's side of the callbacks: ``loop_write`` sends what the socket takes."""

    def __init__(self, room: int) -> None:
        self._in_callback_mutex = threading.Lock()
        self.queued = 0
        self.room = room  # packets the socket takes before it is full
        self.sent = 0
        self.on_publish: Any = None

    def loop_write(self) -> None:
        n = min(self.queued, self.room)
        self.sent += n
        self.queued -= n
        self.room -= n

    def want_write(self) -> bool:
        return self.queued > 0


def test_a_full_socket_is_left_to_aiomqtts_writer() -> None:
    calls: list[str] = []
    eager = mqtt._EagerWrites(lambda *a: calls.append("register"),
                              lambda *a: calls.append("unregister"))
    paho = _FakePaho(room=3)
    for _ in range(2):  # the socket takes them: written at once, the loop not involved
        paho.queued += 1
        eager._on_register(paho, None, None)
        eager._on_unregister(paho, None, None)  # what paho's loop_write then calls
    assert paho.sent == 2 and calls == []
    paho.queued += 2  # one fits, one waits for the socket
    eager._on_register(paho, None, None)
    assert paho.sent == 3 and calls == ["register"]
    paho.queued += 1  # while aiomqtt's writer waits, paho does not call again; if it did:
    eager._on_register(paho, None, None)
    assert paho.sent == 3 and calls == ["register", "register"]
    paho.room = 10
    paho.loop_write()  # aiomqtt's writer, once the socket takes more
    eager._on_unregister(paho, None, None)
    assert paho.sent == 5 and calls[-1] == "unregister"
    paho.queued += 1  # back to writing at once
    eager._on_register(paho, None, None)
    assert paho.sent == 6 and calls.count("register") == 2


def test_inside_a_paho_callback_or_another_thread_aiomqtt_writes() -> None:
    calls: list[str] = []
    eager = mqtt._EagerWrites(lambda *a: calls.append("register"),
                              lambda *a: calls.append("unregister"))
    paho = _FakePaho(room=10)
    paho.queued = 1
    with paho._in_callback_mutex:
        eager._on_register(paho, None, None)
    assert paho.sent == 0 and calls == ["register"]
    eager._on_unregister(paho, None, None)
    other = threading.Thread(target=eager._on_register, args=(paho, None, None))
    other.start()
    other.join()
    assert paho.sent == 0 and calls == ["register", "unregister", "register"]


def test_no_publish_callback_for_the_packets_written_at_once() -> None:
    """paho tells ``on_publish`` (aiomqtt's) of each QoS 0 packet it writes, building a
    reason code and properties for it; for the packets written inside ``publish`` nobody
    waits for that yet, so it is off while they are written, and back afterwards."""
    eager = mqtt._EagerWrites(lambda *a: None, lambda *a: None)
    paho = _FakePaho(room=10)
    seen = []
    paho.on_publish = "aiomqtt's"
    real = paho.loop_write

    def loop_write() -> None:
        seen.append(paho.on_publish)
        real()

    paho.loop_write = loop_write  # type: ignore[method-assign]
    paho.queued = 1
    eager._on_register(paho, None, None)
    assert paho.sent == 1 and seen == [None] and paho.on_publish == "aiomqtt's"


def test_the_expiry_properties_are_packed_once() -> None:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    fresh = Properties(PacketTypes.PUBLISH)
    fresh.MessageExpiryInterval = 3
    props = mqtt._expiry_properties(3)
    assert props.pack() == fresh.pack() and str(props) == str(fresh)
    packs = []
    real = Properties.pack
    Properties.pack = lambda self: packs.append(1) or real(self)  # type: ignore[method-assign]
    try:
        assert props.pack() == fresh.pack() and len(packs) == 1  # the fresh one only
    finally:
        Properties.pack = real  # type: ignore[method-assign]


async def test_stats_keep_coming_on_a_quiet_link(
    mosquitto: Any, patient: str, mqtt_collector: Any
) -> None:
    """The publisher's stats message is due every ``stats_interval_s`` while nothing else
    is sent: its wait ends on one timer per interval, set again after each."""
    settings = BrokerSettings(mosquitto.host, mosquitto.port)
    got: list[dict[str, Any]] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(mqtt_collector(
        settings, f"isofeedback/{patient}/service", got, ready,
        lambda doc: sum(d["kind"] == "service" for d in got) >= 3))
    await asyncio.wait_for(ready.wait(), 5)
    async with MqttPublisher(settings, Serializer(patient, "quiet", 1.7e9),
                             stats_interval_s=0.1) as pub:
        assert await pub.wait_connected(5)
        await asyncio.wait_for(sub, 20)
    assert [d["kind"] for d in got][-3:] == ["service"] * 3
