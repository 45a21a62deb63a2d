"""MQTT delivery through Mosquitto on this machine: decision → subscriber latency and
sustained throughput of the reliable (QoS 1, in-order, acknowledged) stream.

    PYTHONPATH=src python benchmarks/mqtt_latency.py [--broker HOST:PORT] [--events 2000]

Starts a private Mosquitto on a free port unless ``--broker`` names one. The subscriber
runs in another process (as a phone or dashboard would) and stamps arrival with the
system clock; each event carries its decision time (the moment ``submit`` was called,
which in the service is right after the detector decided).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt

from isofeedback.broker import broker_reachable, free_port
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.types import Event, EventType, Feedback


def _subscriber(host: str, port: int, topic: str, expect: int, ready: Any, out: Any) -> None:
    async def main() -> None:
        arrivals: list[tuple[int, int, int]] = []  # (seq, decided_ns, arrived_ns)
        async with aiomqtt.Client(host, port) as client:
            await client.subscribe(topic, qos=1)
            ready.set()
            async for msg in client.messages:
                now = time.time_ns()
                assert isinstance(msg.payload, bytes)
                doc = json.loads(msg.payload)
                if doc["kind"] == "event":
                    arrivals.append((doc["seq"], doc["detail"]["decided_ns"], now))
                    if len(arrivals) >= expect:
                        break
        out.put(arrivals)

    asyncio.run(main())


async def run_phase(settings: BrokerSettings, name: str, n: int, rate: float | None) -> None:
    patient = f"bench{time.monotonic_ns() % 10**9}"
    ctx = mp.get_context("spawn")
    ready, out = ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_subscriber, args=(settings.host, settings.port,
                                                 f"isofeedback/{patient}/events", n, ready, out))
    proc.start()
    await asyncio.to_thread(ready.wait, 20)
    serializer = Serializer(patient, "bench", time.time())
    loop = asyncio.get_running_loop()
    async with MqttPublisher(settings, serializer, max_pending=n + 10) as pub:
        await pub.wait_connected(5)
        start = loop.time()
        for i in range(n):
            if rate is not None:
                delay = start + i / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                    # a live level before every paced event (a session sends 20 a second;
                    # here one per event, so at 50 events/s the level stream is heavier)
                    pub.submit(Feedback("level", i / rate, {"intensity": 1.0}))
            t = i / (rate or 1000.0)
            pub.submit(Event(EventType.ONSET, t, t, "bench", None,
                             {"decided_ns": time.time_ns()}))
            if rate is None and i % 500 == 0:
                await asyncio.sleep(0)
        arrivals: list[tuple[int, int, int]] = await asyncio.to_thread(out.get, True, 300)
        stats = pub.stats
    proc.join(10)
    lat_ms = sorted((a - d) / 1e6 for _, d, a in arrivals)
    span_s = (arrivals[-1][2] - arrivals[0][1]) / 1e9
    ordered = [s for s, _, _ in arrivals] == sorted(s for s, _, _ in arrivals)
    p99 = lat_ms[min(len(lat_ms) - 1, int(0.99 * len(lat_ms)))]
    print(f"{name}: {len(arrivals)}/{n} events, in order: {ordered}; latency median "
          f"{statistics.median(lat_ms):.2f} ms, P99 {p99:.2f} ms, max {lat_ms[-1]:.2f} ms; "
          f"{len(arrivals) / span_s:,.0f} events/s; live dropped {stats.live_dropped}")


async def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--broker", help="HOST:PORT of a running broker (default: a private one)")
    p.add_argument("--events", type=int, default=2000)
    p.add_argument("--rate", type=float, default=50.0,
                   help="events per second in the latency run (default 50)")
    p.add_argument("--protocol", choices=["5", "3.1.1"], default="5")
    p.add_argument("--nagle", action="store_true",
                   help="private broker without set_tcp_nodelay (Mosquitto's default)")
    args = p.parse_args(argv)
    proc = None
    tmp = tempfile.TemporaryDirectory()
    if args.broker:
        host, _, port = args.broker.rpartition(":")
        settings = BrokerSettings(host, int(port), protocol=args.protocol)
    else:
        port = free_port()
        conf = Path(tmp.name) / "mosquitto.conf"
        nodelay = "" if args.nagle else "set_tcp_nodelay true\n"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n{nodelay}")
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        proc = subprocess.Popen([exe, "-c", str(conf)], stderr=subprocess.DEVNULL)
        for _ in range(100):
            if await broker_reachable("127.0.0.1", port):
                break
            await asyncio.sleep(0.05)
        settings = BrokerSettings("127.0.0.1", port, protocol=args.protocol)
    try:
        how = "its own config" if args.broker else (
            "Nagle on (default)" if args.nagle else "set_tcp_nodelay true")
        print(f"Mosquitto at {settings.address} ({how}), MQTT {settings.protocol}")
        n_lat = min(args.events, int(args.rate * 20))
        await run_phase(settings, f"paced {args.rate:g}/s with live levels", n_lat, args.rate)
        await run_phase(settings, "as fast as possible", args.events * 5, None)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(5)
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
