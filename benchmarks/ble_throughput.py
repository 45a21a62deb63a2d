"""Notification throughput and latency through real bleak from VirtualBluez.

Run: ``PYTHONPATH=src python benchmarks/ble_throughput.py [--count N]``

For each payload size (20 and 16 bytes) and each topology:

* ``same-loop``: the fake and bleak share one event loop (how the tests run).
* ``process``: the fake runs in a child process with its own loop, so bleak's
  side is measured the way the real service would see BlueZ.

it reports

* sustained rate: a burst sent as fast as backpressure allows, counted
  from the first send to the last callback, with loss/order checked;
* latency at paced rates (200 Hz and 1 kHz): payload carries a
  ``perf_counter_ns`` stamp taken when the fake calls ``notify``;
  ``CLOCK_MONOTONIC`` is system-wide on Linux, so the stamp is comparable
  across processes. Reported as median and P99.
"""

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import statistics
import struct
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic

from isofeedback.ble.private_bus import PrivateSystemBus
from isofeedback.ble.virtual_bluez import (
    GattCharacteristicSpec,
    GattServiceSpec,
    VirtualBluez,
    VirtualDevice,
    VirtualDeviceSpec,
    release_bleak_bluez_manager,
)

SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
STREAM = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
ADDRESS = "AA:BB:CC:DD:EE:42"
HEADER = struct.Struct("<IQ")  # sequence number, perf_counter_ns at send


@dataclass(frozen=True, slots=True)
class Run:
    """One measurement: ``count`` frames of ``size`` bytes at ``rate_hz`` (None = flat out)."""

    size: int
    count: int
    rate_hz: float | None


@dataclass(frozen=True, slots=True)
class Result:
    run: Run
    received: int
    in_order: bool
    seconds: float
    latencies_us: list[float]

    def line(self, topology: str) -> str:
        rate = "burst" if self.run.rate_hz is None else f"{self.run.rate_hz:.0f} Hz"
        lat = sorted(self.latencies_us)
        med = statistics.median(lat) if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")
        lost = self.run.count - self.received
        return (
            f"{topology:9} {self.run.size:3d} B {rate:>8} n={self.run.count:6d} "
            f"lost={lost:<3d} order={'ok' if self.in_order else 'BAD'} "
            f"rate={self.received / self.seconds:9.0f}/s "
            f"latency median={med:8.1f} us p99={p99:8.1f} us"
        )


def spec() -> VirtualDeviceSpec:
    return VirtualDeviceSpec(
        address=ADDRESS,
        name="bench-sensor",
        services=(GattServiceSpec(SERVICE, (GattCharacteristicSpec(STREAM, ("notify",)),)),),
        advertised_services=(SERVICE,),
    )


def make_frame(seq: int, size: int) -> bytes:
    return HEADER.pack(seq, time.perf_counter_ns()) + bytes(size - HEADER.size)


async def produce(device: VirtualDevice, run: Run) -> None:
    """Send ``run`` with timestamps taken at notify time (not pre-generated)."""
    loop = asyncio.get_running_loop()
    period = 1.0 / run.rate_hz if run.rate_hz else 0.0
    start = loop.time()
    for seq in range(run.count):
        if period:
            delay = start + seq * period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        if not await device.notify(STREAM, make_frame(seq, run.size)):
            return


async def consume(client: BleakClient, run: Run, start_producer: "asyncio.Future[None]") -> Result:
    """Subscribe, let the producer go, and collect ``run.count`` frames."""
    seqs: list[int] = []
    lat: list[float] = []
    done = asyncio.Event()
    first_send: list[int] = []
    last_recv = [0]

    def on_data(_: BleakGATTCharacteristic, data: bytearray) -> None:
        now = time.perf_counter_ns()
        seq, sent = HEADER.unpack_from(data)
        if not first_send:
            first_send.append(sent)
        seqs.append(seq)
        lat.append((now - sent) / 1000)
        last_recv[0] = now
        if len(seqs) == run.count:
            done.set()

    await client.start_notify(STREAM, on_data)
    start_producer.set_result(None)
    expected = run.count / run.rate_hz if run.rate_hz else 0.0
    with contextlib.suppress(TimeoutError):  # a loss shows up in the counts
        await asyncio.wait_for(done.wait(), timeout=expected + 30)
    await client.stop_notify(STREAM)
    seconds = (last_recv[0] - first_send[0]) / 1e9 if first_send else float("nan")
    return Result(run, len(seqs), seqs == list(range(len(seqs))), max(seconds, 1e-9), lat)


async def connect() -> BleakClient:
    device = await BleakScanner.find_device_by_address(ADDRESS, timeout=5.0)
    assert device is not None, "virtual sensor not found"
    client = BleakClient(device)
    await client.connect()
    return client


# ---------------------------------------------------------------- same loop


async def same_loop(runs: list[Run]) -> list[Result]:
    results = []
    async with PrivateSystemBus() as bus:
        async with VirtualBluez(bus.address) as bluez:
            device = await bluez.add_device(spec())
            client = await connect()
            for run in runs:
                go: asyncio.Future[None] = asyncio.get_running_loop().create_future()

                async def producer(run: Run = run, go: "asyncio.Future[None]" = go) -> None:
                    await go
                    await produce(device, run)

                task = asyncio.create_task(producer())
                results.append(await consume(client, run, go))
                await task
            await client.disconnect()
        await release_bleak_bluez_manager()
    return results


# ------------------------------------------------------------- two processes


def _fake_process(address: str, conn: Connection) -> None:
    """Child: host the fake; run each requested stream when notify is enabled."""

    async def main() -> None:
        async with VirtualBluez(address) as bluez:
            device = await bluez.add_device(spec())
            conn.send("ready")
            loop = asyncio.get_running_loop()
            while True:
                msg = await loop.run_in_executor(None, conn.recv)
                if msg is None:
                    return
                size, count, rate = msg
                while not device.is_notifying(STREAM):
                    await asyncio.sleep(0.001)
                await produce(device, Run(size, count, rate))
                conn.send("sent")

    asyncio.run(main())


async def two_processes(runs: list[Run]) -> list[Result]:
    results = []
    async with PrivateSystemBus() as bus:
        parent, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(target=_fake_process, args=(bus.address, child))
        proc.start()
        loop = asyncio.get_running_loop()
        try:
            assert await loop.run_in_executor(None, parent.recv) == "ready"
            client = await connect()
            for run in runs:
                parent.send((run.size, run.count, run.rate_hz))
                go: asyncio.Future[None] = loop.create_future()
                results.append(await consume(client, run, go))
                await loop.run_in_executor(None, parent.recv)
            await client.disconnect()
            await release_bleak_bluez_manager()
        finally:
            parent.send(None)
            await loop.run_in_executor(None, proc.join, 10)
            if proc.is_alive():
                proc.kill()
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--count", type=int, default=20000, help="frames per burst run")
    ap.add_argument("--seconds", type=float, default=3.0, help="duration of paced runs")
    ap.add_argument("--mode", choices=("both", "same-loop", "process"), default="both")
    args = ap.parse_args()

    runs: list[Run] = []
    for size in (20, 16):
        runs.append(Run(size, args.count, None))
        for hz in (200.0, 1000.0):
            runs.append(Run(size, int(hz * args.seconds), hz))

    ok = True
    if args.mode in ("both", "same-loop"):
        for r in asyncio.run(same_loop(runs)):
            print(r.line("same-loop"), flush=True)
            ok &= r.received == r.run.count and r.in_order
    if args.mode in ("both", "process"):
        for r in asyncio.run(two_processes(runs)):
            print(r.line("process"), flush=True)
            ok &= r.received == r.run.count and r.in_order
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
