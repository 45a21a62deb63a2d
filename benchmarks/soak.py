"""Soak: hours of simulated sessions, accelerated, through the real service (on demand).

Sessions of the longest PIR a protocol allows (50 repetitions, about 15 minutes each) run
back to back in one process, as a home gateway serves them all day, through
``open_session`` as a live session would: simulated Myo packets → pipeline → a real
Mosquitto (started here, private, on 127.0.0.1) and a recording per session. Every few
seconds of wall time it samples the process's resident memory, open file descriptors and
asyncio tasks; a subscriber counts the reliable messages (events, cues, reps, phase,
summary) it receives per session and compares with what the publisher sent (the last
``seq``). What must hold: memory, files and tasks flat after the warm-up, and published =
received for reliable messages.

    PYTHONPATH=src python benchmarks/soak.py --hours 2        # ~7-10 min on 2 cores
    PYTHONPATH=src python benchmarks/soak.py --minutes 5      # what the test suite runs

The packets are made block by block (five repetitions, about a minute and a half of
patient at a time, shifted in time), so the simulator itself does not hold a session's
packets in memory. Blocks of 25 repetitions (~7 minutes, ~65 000 packet objects alive at
once) made the process's resident memory grow 3–4 MB per 50-rep session: the harness's
short-lived packets interleaved with the session's longer-lived objects fragment
Python's small-object arenas and the C heap, which are then not given back to the system.
The service's own objects stay flat either way (docs/reliability.md, "a long gateway day").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console

from isofeedback.coach.protocol import find_protocol
from isofeedback.profiles.schema import Profile, find_profile
from isofeedback.session import RecordingPlan, SessionPlan, open_session
from isofeedback.sim import packetize, protocol_script
from isofeedback.sinks.mqtt import BrokerSettings
from isofeedback.sources.base import PacketSource
from isofeedback.sources.pacing import paced
from isofeedback.sources.simulated import simulate_for_profile
from isofeedback.types import Packet

SESSION_REPS = 50  # the most a protocol allows
BLOCK_REPS = 5
RELIABLE_TOPICS = ("events", "cues", "reps", "session/state", "summary", "progress",
                   "control/ack")


class LongSimulatedSource(PacketSource):
    """The simulated patient for ``reps`` repetitions, in blocks of ``BLOCK_REPS``, each
    generated when the previous one has been played (``seed`` varies the patient)."""

    def __init__(self, profile: Profile, reps: int, speed: float | None, seed: int) -> None:
        self.profile = profile
        self.reps = reps
        self.speed = speed
        self.seed = seed

    @property
    def profiles(self) -> Mapping[str, Profile]:
        return {"sim": self.profile}

    def _packets(self) -> Iterator[Packet]:
        p = find_protocol("pir")
        offset, block = 0.0, 0
        while block * BLOCK_REPS < self.reps:
            script = protocol_script(
                "pir", reps=min(BLOCK_REPS, self.reps - block * BLOCK_REPS), level=0.18,
                hold=p.hold_s, relax=p.relax_s, stretch=p.stretch_s, stretch_gain_deg=0.0,
                rest_before=6.0 if block == 0 else 1.0, seed=self.seed * 1000 + block,
                mvc_capture=block == 0 and p.mvc_capture,
                reference=block == 0 and p.intensity_unit == "%ref")
            packets = packetize(simulate_for_profile(script, self.profile), self.profile)
            for pk in packets:
                yield Packet(pk.device, pk.characteristic, pk.data, pk.t_arrival + offset)
            offset += packets[-1].t_arrival + 0.02
            block += 1

    async def packets(self) -> AsyncIterator[Packet]:
        async for pk in paced(self._packets(), self.speed):
            yield pk


def _sample() -> dict[str, float]:
    rss_kb = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return {"rss_mb": rss_kb / 1024, "fds": len(os.listdir("/proc/self/fd")),
            "tasks": len(asyncio.all_tasks())}


@contextlib.contextmanager
def private_mosquitto() -> Iterator[BrokerSettings]:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "m.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                        "persistence false\nmax_queued_messages 100000\n")
        proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(
                        ("127.0.0.1", port), 0.2):
                    break
                time.sleep(0.05)
            yield BrokerSettings("127.0.0.1", port)
        finally:
            proc.terminate()
            proc.wait(5)


async def soak(seconds: float, broker: BrokerSettings, folder: Path,
               sample_every_s: float = 2.0, patient: str = "soak",
               reps: int = SESSION_REPS) -> dict[str, Any]:
    """Run sessions back to back until ``seconds`` of session time have passed; returns the
    samples and, per session, the last reliable ``seq`` published and the number received."""
    import aiomqtt

    protocol = dataclasses.replace(find_protocol("pir"), reps=reps)
    received: dict[str, set[int]] = {}
    offline = asyncio.Event()
    ready = asyncio.Event()

    async def subscriber() -> None:
        async with aiomqtt.Client(broker.host, broker.port, identifier=f"{patient}-sub") as c:
            for topic in (*RELIABLE_TOPICS, "status"):
                await c.subscribe(f"isofeedback/{patient}/{topic}", qos=1)
            ready.set()
            async for msg in c.messages:
                assert isinstance(msg.payload, bytes)
                doc = json.loads(msg.payload)
                if doc.get("kind") == "status" and doc.get("state") == "offline":
                    offline.set()
                elif "seq" in doc and doc.get("kind") not in ("level", "status"):
                    received.setdefault(doc["session"], set()).add(int(doc["seq"]))

    samples: list[dict[str, float]] = []
    started = time.perf_counter()

    async def sampler() -> None:
        while True:
            samples.append({"wall_s": time.perf_counter() - started, **_sample()})
            await asyncio.sleep(sample_every_s)

    sub = asyncio.create_task(subscriber())
    await asyncio.wait_for(ready.wait(), 10)
    mon = asyncio.create_task(sampler())
    session_s, sessions, done_reps = 0.0, [], 0
    while session_s < seconds:
        source = LongSimulatedSource(find_profile("myo"), reps, None, len(sessions))

        @contextlib.asynccontextmanager
        async def open_source(ctx: Any, src: PacketSource = source,
                              ) -> AsyncIterator[PacketSource]:
            yield src

        plan = SessionPlan(
            patient=patient, protocol=protocol, open_source=open_source,
            console=Console(file=io.StringIO(), width=120), title="soak",
            source_kind="simulated", broker=broker, broker_explicit=True,
            recording=RecordingPlan(folder, "simulated", simulated=True), view="plain")
        offline.clear()
        outcome = await open_session(plan)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(offline.wait(), 30)
        session_s += outcome.result.session_s
        done_reps += int(outcome.result.summary.get("reps_done", 0))
        sessions.append({"id": outcome.session_id, "exit": outcome.exit_code,
                         "published": outcome.reliable_published,
                         "reconnects": outcome.mqtt.get("reconnects", 0),
                         "recording": outcome.recording})
    mon.cancel()
    sub.cancel()
    samples.append({"wall_s": time.perf_counter() - started, **_sample()})
    for s in sessions:
        s["received"] = len(received.get(s["id"], ()))
    return {"session_s": session_s, "wall_s": time.perf_counter() - started,
            "reps": done_reps, "samples": samples, "sessions": sessions}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=0.0)
    ap.add_argument("--minutes", type=float, default=0.0)
    args = ap.parse_args()
    seconds = args.hours * 3600 + args.minutes * 60 or 7200.0
    with private_mosquitto() as broker, tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(soak(seconds, broker, Path(tmp)))
        size = sum(Path(x["recording"]).stat().st_size for x in r["sessions"]) / 1e6
    s = r["samples"]
    warm = s[max(1, len(s) // 4)]
    print(f"{r['session_s'] / 3600:.2f} simulated hours in {r['wall_s']:.0f} s wall "
          f"({r['session_s'] / r['wall_s']:.0f}x real time): {len(r['sessions'])} sessions, "
          f"{r['reps']} reps, recordings {size:.0f} MB")
    for key in ("rss_mb", "fds", "tasks"):
        print(f"{key:7s} start {s[0][key]:8.1f}  after warm-up {warm[key]:8.1f}  "
              f"end {s[-1][key]:8.1f}  max {max(x[key] for x in s):8.1f}")
    pub = sum(x["published"] for x in r["sessions"])
    got = sum(x["received"] for x in r["sessions"])
    print(f"reliable messages: published {pub}, received {got} (distinct, per session seq); "
          f"publisher reconnects {sum(x['reconnects'] for x in r['sessions'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
