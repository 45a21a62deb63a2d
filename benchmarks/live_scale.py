"""Many simulated wearables in one process, in real time, each publishing to MQTT.

    PYTHONPATH=src python benchmarks/live_scale.py [--wearables 50] [--seconds 30]
        [--cpu-wearables 8] [--rss-hours 2] [--rss-only] [--stagger S]

Starts a private Mosquitto on 127.0.0.1. Three runs:
1. ``--wearables`` simulated Myo armbands (8 ch x 200 Hz EMG + 50 Hz IMU, a coached PIR
   session each, different seeds) at real time in one asyncio process, each through its
   own pipeline and its own MQTT publisher (one connection per wearable, as separate
   patients would have). The wearables reach the service as BLE notifications do
   (:class:`Radio`): one pacer for all of them puts each packet, when due, on its
   wearable's notification queue (what bleak's callback does when the D-Bus socket has
   data, several notifications per wake-up), and each session takes its batches from that
   queue and notices silence, as with a :class:`~isofeedback.sources.ble.BleSource`;
   each wearable's BLE connection events have an anchor of their own in the 15 ms
   interval. Latency per output = submit time - the scheduled arrival of the
   packet that caused it (event-loop lag + decode + pipeline), P50/P99/max; and packet
   lateness (how far behind real time packets were taken). A subscriber in another
   process counts what the broker delivered.
2. ``--cpu-wearables`` the same way: CPU time of this process / wall time (% of one core).
3. One wearable for ``--rss-hours`` of simulated time, as fast as possible, detection only
   (no protocol ends it), fed in 10-minute pieces of fresh simulated data: the process RSS
   after each piece (flat = no growth with session length), its set-up frozen as a
   session's is (``frozen_set_up``). It runs in a fresh process of its own, as a
   gateway's service would, and the simulated wearable in another one that
   streams its packets over a pipe: the simulator (scipy.signal, ~80 MB resident) and the
   10-minute pieces it builds are the wearable's side of the radio, not the service's.
   ``--rss-only`` runs just this.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import heapq
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from operator import attrgetter
from pathlib import Path
from typing import Any, cast

import aiomqtt
import numpy as np

from isofeedback.broker import broker_reachable, free_port
from isofeedback.coach.protocol import find_protocol
from isofeedback.pipeline import Output, Pipeline
from isofeedback.profiles.schema import Profile, find_profile
from isofeedback.service import frozen_set_up, run_session
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.sources.pacing import paced_batches
from isofeedback.sources.queued import QueuedSource
from isofeedback.types import Event, Feedback, Packet


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory (``VmRSS``) or its peak (``VmHWM``), in MB.

    The peak is the kernel's high-water mark of this process's own address space, not
    ``getrusage``'s ``ru_maxrss``: a process started by ``multiprocessing``'s spawn is a
    fork of this one that then execs Python, and the kernel carries the forked copy's
    high-water mark across the exec into ``ru_maxrss``, so the RSS run's service process
    reported the parent's ~265 MB (50 simulated sessions) as its own peak."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Timing:
    """Packet tap + output sink: latency of each output from the scheduled arrival of the
    oldest packet of the pipeline call that made it (:class:`TimedPipeline`: when the
    session fell behind, a batch of packets goes in at once and its outputs are measured
    from the first), and how late each packet was taken."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.arrival = start
        self.latency: list[float] = []
        self.lateness: list[float] = []
        self.batches = 0
        self.batched_packets = 0

    def on_packet(self, packet: Packet) -> None:
        self.lateness.append(time.perf_counter() - self.start - packet.t_arrival)

    def submit(self, item: Event | Feedback) -> None:
        self.latency.append(time.perf_counter() - self.arrival)


class TimedPipeline(Pipeline):
    """A pipeline that tells its :class:`Timing` when the packets it is given arrived."""

    timing: Timing

    def feed(self, packet: Packet) -> list[Output]:
        if not self._in_many:
            self.timing.arrival = self.timing.start + packet.t_arrival
        return super().feed(packet)

    def feed_many(self, packets: Sequence[Packet],
                  until_finished: bool = False) -> tuple[list[Output], int]:
        self.timing.arrival = self.timing.start + packets[0].t_arrival
        self.timing.batches += 1
        self.timing.batched_packets += len(packets)
        self._in_many = True
        try:
            return super().feed_many(packets, until_finished)
        finally:
            self._in_many = False

    _in_many = False


class RadioSource(QueuedSource):
    """One simulated wearable as the service sees a BLE one: a notification queue that
    the :class:`Radio` fills, on the radio's session clock."""

    def __init__(self, device: str, profile: Profile, radio: Radio) -> None:
        super().__init__(queue_size=8192)  # BleSource's
        self.device, self.profile, self.radio = device, profile, radio

    @property
    def profiles(self) -> Mapping[str, Profile]:
        return {self.device: self.profile}

    def now(self) -> float:
        return self.radio.now()


class Radio:
    """The simulated wearables' side of the link, one for all of them, as their BLE
    notifications reach a gateway: from one socket (BlueZ's D-Bus connection), handed to
    each wearable's queue by a callback when they arrive, several per wake-up when the
    process was busy. One pacer, with one timer per wake-up, puts each packet on its
    wearable's queue when it is due (:func:`paced_batches` over all the wearables' packets
    in arrival order); when they have all been delivered, the queues are closed.

    Each wearable's packets are simulated with connection events anchored at a moment of
    their own in the interval (a wearable's anchor is set when its connection is made, and
    a BLE controller cannot serve two connections at once), not all at session start:
    with one anchor for all, every wearable's 2-3 packets of an interval were due within
    the same 2 ms (50 wearables: ~110 packets, ~8 ms of work, at once every 15 ms)."""

    def __init__(self) -> None:
        self.sources: dict[str, RadioSource] = {}
        self.packets: list[list[Packet]] = []
        self._start: float | None = None
        self.dropped = 0

    def add(self, device: str, profile: Profile, packets: list[Packet]) -> RadioSource:
        source = RadioSource(device, profile, self)
        self.sources[device] = source
        self.packets.append(packets)
        return source

    def now(self) -> float:
        """Session time (0 when the radio starts)."""
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        return loop.time() - self._start

    async def run(self) -> None:
        sources = self.sources
        self.now()
        merged = heapq.merge(*self.packets, key=attrgetter("t_arrival"))
        # a wearable's queue closes after its own last packet (its session then ends at
        # once), not when the last wearable's does: with staggered starts, the sessions
        # that ended earlier were stopped seconds after their data, and their summaries
        # counted as outputs that late
        last = {packets[-1].device: packets[-1] for packets in self.packets if packets}
        try:
            async for batch in paced_batches(merged, 1.0, clock=self.now):
                for packet in batch:
                    queue = sources[packet.device].notifications()
                    if not queue.put(packet):
                        self.dropped += 1
                    if last.get(packet.device) is packet:
                        queue.close()
        finally:
            for source in sources.values():
                source.notifications().close()


def simulated_wearables(n: int, seconds: float, protocol: Any, profile: Profile,
                        interval_s: float = 0.015, stagger_s: float = 0.0) -> Radio:
    """``n`` simulated PIR sessions (seeds 100…), their first ``seconds`` each, on one
    :class:`Radio`, each wearable's connection events at its own anchor in the interval
    (uniform, seeded). ``stagger_s``: wearable ``i`` starts its session ``i/n`` of it
    later (patients who switch their sensors on at different moments); 0: all at once,
    every protocol step (the rest calibration's end, the first onsets) on the same
    packet of all ``n`` — the worst case."""
    from isofeedback.sim import packetize
    from isofeedback.sim.scenarios import follow_protocol
    from isofeedback.sources.simulated import simulate_for_profile

    anchors = np.random.default_rng(14).uniform(0.0, interval_s, n)
    radio = Radio()
    for i in range(n):
        session = simulate_for_profile(follow_protocol(protocol, seed=100 + i, level=0.18),
                                       profile)
        packets = packetize(session, profile, device=f"myo{i}",
                            connection_interval_s=interval_s, anchor_s=float(anchors[i]))
        late = stagger_s * i / n
        radio.add(f"myo{i}", profile, [replace(p, t_arrival=p.t_arrival + late)
                                       for p in packets if p.t_arrival <= seconds])
    return radio


def _subscriber(host: str, port: int, ready: Any, stop: Any, out: Any) -> None:
    """Counts what the broker delivers (in another process, as a phone would be)."""

    async def main() -> None:
        count = 0

        async def consume(client: aiomqtt.Client) -> None:
            nonlocal count
            async for _ in client.messages:
                count += 1

        async with aiomqtt.Client(host, port) as client:
            await client.subscribe("isofeedback/#", qos=1)
            ready.set()
            task = asyncio.create_task(consume(client))
            await asyncio.to_thread(stop.wait)
            await asyncio.sleep(1.0)  # what is still in flight
            task.cancel()
        out.put(count)

    asyncio.run(main())


async def run_wearables(settings: BrokerSettings, n: int, seconds: float,
                        stagger_s: float = 0.0) -> dict[str, Any]:
    profile = find_profile("myo")
    protocol = find_protocol("pir")
    radio = simulated_wearables(n, seconds, protocol, profile, stagger_s=stagger_s)
    sources = list(radio.sources.values())
    # the simulated wearables' sessions (hundreds of thousands of packet objects) are the
    # radio side, not the service's memory: out of the garbage collector's walks, whose
    # full collections over them paused the loop 100-150 ms (14 in a 50-wearable run).
    # Frozen here, before the clock: run_session freezes what exists when each session
    # starts (the service's own set-up, frozen_set_up) and would take them along, but
    # then a collection between the clock's start and the sessions' could still walk them
    gc.collect()
    gc.freeze()
    wall0 = time.time()
    timings = [Timing(0.0) for _ in sources]
    async with asyncio.TaskGroup() as tg:
        publishers = []
        for i in range(len(sources)):
            pub = MqttPublisher(settings, Serializer(f"scale{i}", "live-scale", wall0))
            publishers.append(pub)
        for pub in publishers:
            await pub.__aenter__()
        # connected before the clock starts, as a service's broker link is up before its
        # wearable streams: __aenter__ only creates each publisher's task, whose first
        # step (an aiomqtt client built, its connect handed to a thread) ran after the
        # clock had started and before any wearable's pacing began (50 wearables: the
        # pacing started ~20 ms after the clock, and that was added to every latency)
        for pub in publishers:
            await pub.wait_connected(30.0)
        # built before the clock starts, as a service builds a session's pipeline before
        # its wearable streams: built after it (~0.6 ms each), every packet of the run was
        # counted that much later than the pacing, which starts when the tasks first run
        # (50 wearables: ~30 ms added to every latency)
        pipelines = [TimedPipeline(src.profiles, protocol) for src in sources]
        start = time.perf_counter()
        cpu0 = time.process_time()
        for t in timings:
            t.start = start
        for src, pub, timing, pipeline in zip(sources, publishers, timings, pipelines,
                                              strict=True):
            pipeline.timing = timing
            tg.create_task(run_session(src, pipeline, [timing, pub], [timing],
                                       keep_outputs=False))
        tg.create_task(radio.run())
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    gc.unfreeze()  # (the last session to end unfroze it already)
    stats = [p.stats for p in publishers]
    for pub in publishers:
        await pub.__aexit__(None, None, None)
    lat = sorted(x for t in timings for x in t.latency)
    late = sorted(x for t in timings for x in t.lateness)
    return {
        "n": n, "wall": wall, "cpu": cpu, "outputs": len(lat),
        "p50_ms": 1000 * statistics.median(lat), "p99_ms": 1000 * lat[int(0.99 * len(lat))],
        "max_ms": 1000 * lat[-1], "late_p99_ms": 1000 * late[int(0.99 * len(late))],
        "published": sum(s.published for s in stats),
        "live_dropped": sum(s.live_dropped for s in stats),
        "radio_dropped": radio.dropped,
        "bulk_calls": sum(t.batches for t in timings),
        "bulk_packets": sum(t.batched_packets for t in timings),
        "packets": sum(len(t.lateness) for t in timings),
    }


async def radio_cpu(n: int, seconds: float) -> float:
    """CPU of the simulated radio alone for ``n`` wearables (the pacing and the queues'
    puts, nobody taking them), as a fraction of one core: the wearables' side of the
    link within the process's CPU of :func:`run_wearables` (a real gateway pays its BLE
    stack's reading and unmarshalling of the notifications instead)."""
    radio = simulated_wearables(n, seconds, find_protocol("pir"), find_profile("myo"))
    for source in radio.sources.values():  # nobody takes: all must fit
        source.notifications().maxsize = sum(len(p) for p in radio.packets)
    gc.collect()
    gc.freeze()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    await radio.run()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    gc.unfreeze()
    return cpu / wall


RSS_PIECE_S = 600.0
RSS_BATCH = 2000  # packets per message on the pipe (~20 s of a Myo)


def _wearable(conn: Any, pieces: int) -> None:
    """The simulated wearable (its own process): ``pieces`` 10-minute pieces of fresh
    simulated data, each built when the previous one has been sent, in batches of
    ``(device, characteristic, data, t_arrival)``; ``None`` ends a piece."""
    from isofeedback.sim import benchmark_script
    from isofeedback.sources.simulated import SimulatedSource

    profile = find_profile("myo")
    for k in range(pieces):
        src = SimulatedSource(benchmark_script(1000 + k, RSS_PIECE_S), profile, speed=None)
        offset = k * RSS_PIECE_S
        batch = []
        for p in src.all_packets:
            batch.append((p.device, p.characteristic, p.data, p.t_arrival + offset))
            if len(batch) == RSS_BATCH:
                conn.send(batch)
                batch = []
        conn.send(batch)
        conn.send(None)
        del src
    conn.close()


def _rss_service(hours: float, out: Any) -> None:
    """One wearable's pipeline (its own process): RSS after each simulated piece, and the
    peak, put on ``out``."""
    pieces = max(1, round(hours * 3600 / RSS_PIECE_S))
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    wearable = ctx.Process(target=_wearable, args=(send, pieces))
    wearable.start()
    send.close()
    pipeline = Pipeline({"sim": find_profile("myo")}, None)
    points: list[tuple[float, float]] = []
    with frozen_set_up():  # as run_session runs a session: the set-up out of full collections
        while len(points) < pieces:
            batch = receive.recv()
            if batch is None:
                points.append(((len(points) + 1) * RSS_PIECE_S / 3600, rss_mb()))
                continue
            for device, characteristic, data, t in batch:
                pipeline.feed(Packet(device, characteristic, data, t))
    wearable.join(60)
    peak = rss_mb("VmHWM")
    out.put((points, peak, sorted(m for m in ("scipy.signal", "isofeedback.sim")
                                  if m in sys.modules)))


def rss_run(hours: float) -> tuple[list[tuple[float, float]], float, list[str]]:
    """RSS of one wearable's pipeline over ``hours`` of simulated time: the points (hours,
    MB), the peak, and whether the service process imported the simulator or scipy.signal
    (it must not: a cold filter-design cache would import scipy.signal once)."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    service = ctx.Process(target=_rss_service, args=(hours, out))
    service.start()
    result = out.get()
    service.join(60)
    return cast(tuple[list[tuple[float, float]], float, list[str]], result)


async def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wearables", type=int, default=50)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--cpu-wearables", type=int, default=8)
    p.add_argument("--rss-hours", type=float, default=2.0)
    p.add_argument("--rss-only", action="store_true", help="only the RSS run")
    p.add_argument("--stagger", type=float, default=0.0, metavar="S",
                   help="the --wearables run's sessions start spread over S seconds (default "
                   "0: all at once, every protocol step on the same packet: the worst case)")
    args = p.parse_args(argv)
    if not args.rss_only:
        await scale_runs(args)
    points, peak, imported = rss_run(args.rss_hours)
    print("1 wearable, detection only, its own process, RSS after simulated hours: "
          + ", ".join(f"{h:.2f} h {mb:.0f} MB" for h, mb in points)
          + f" (peak {peak:.0f} MB; "
          + (f"imported {', '.join(imported)})" if imported
             else "imported neither the simulator nor scipy.signal)"))
    return 0


async def scale_runs(args: argparse.Namespace) -> None:
    """Runs 1 and 2: ``--wearables`` and ``--cpu-wearables`` at real time."""
    tmp = tempfile.TemporaryDirectory()
    port = free_port()
    conf = Path(tmp.name) / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "set_tcp_nodelay true\nmax_connections -1\n")
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    broker = subprocess.Popen([exe, "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if await broker_reachable("127.0.0.1", port):
                break
            await asyncio.sleep(0.05)
        settings = BrokerSettings("127.0.0.1", port)
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; Mosquitto "
              f"127.0.0.1:{port}; Myo profile (8 ch x 200 Hz + IMU), PIR coach")
        ctx = mp.get_context("spawn")
        ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
        sub = ctx.Process(target=_subscriber, args=("127.0.0.1", port, ready, stop, out))
        sub.start()
        await asyncio.to_thread(ready.wait, 30)
        for n in (args.wearables, args.cpu_wearables):
            stagger = args.stagger if n == args.wearables else 0.0
            r = await run_wearables(settings, n, args.seconds, stagger)
            started = (f" (starts spread over {stagger:g} s)" if stagger else
                       " (all started at once)")
            print(f"{n} wearables x {args.seconds:g} s real time{started}: "
                  f"{r['outputs']} outputs, "
                  f"packet->submit P50 {r['p50_ms']:.2f} ms, P99 {r['p99_ms']:.2f} ms, max "
                  f"{r['max_ms']:.1f} ms; packets taken late by P99 {r['late_p99_ms']:.1f} ms;"
                  f" CPU {100 * r['cpu'] / r['wall']:.0f}% of one core "
                  f"({100 * r['cpu'] / r['wall'] / n:.1f}% per wearable); published "
                  f"{r['published']}, live levels dropped {r['live_dropped']}; "
                  f"{r['bulk_packets']} of {r['packets']} packets taken in "
                  f"{r['bulk_calls']} batches (fell behind)"
                  + (f"; {r['radio_dropped']} notifications dropped (a queue was full)"
                     if r["radio_dropped"] else ""))
        radio = await radio_cpu(args.cpu_wearables, args.seconds)
        print(f"the simulated radio alone for {args.cpu_wearables} wearables (no sessions, "
              f"the wearables' side, in the figure above): {100 * radio:.1f}% of one core")
        stop.set()
        count = await asyncio.to_thread(out.get, True, 60)
        sub.join(10)
        print(f"subscriber received {count} messages from the broker")
    finally:
        broker.terminate()
        broker.wait(5)
        tmp.cleanup()

if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
