"""BleSource throughput and latency through real bleak from a virtual wearable.

Run: ``PYTHONPATH=src python benchmarks/ble_source.py [--seconds S]``

The OpenEMG reference profile (EMG 2 kHz × 8 ch in 10-sample packets + IMU 100 Hz) is
played by the virtual wearable (a) flat out, to find the notification rate the source
sustains without loss, and (b) in real time, to measure the time from a notification's
arrival (the callback's timestamp) to its chunk entering the pipeline (decoded, handed
to the chains): median and P99. Both ends share one event loop, as in the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from isofeedback.ble.private_bus import PrivateSystemBus
from isofeedback.ble.virtual_bluez import VirtualBluez, release_bleak_bluez_manager
from isofeedback.ble.wearable import VirtualWearable
from isofeedback.profiles.decoder import Decoder
from isofeedback.profiles.schema import find_profile
from isofeedback.sim import packetize, synthesize
from isofeedback.sim.script import protocol_script
from isofeedback.sources.ble import BleSource, DeviceTarget


async def measure(speed: float | None, seconds: float) -> str:
    profile = find_profile("openemg")
    script = protocol_script("pir", reps=1, hold=seconds / 3, relax=seconds / 6,
                             stretch=seconds / 6, rest_before=seconds / 3, seed=1,
                             mvc_capture=False)
    session = synthesize(script, emg_fs=2000.0, channels=8, imu_fs=100.0, mvc_rms=400.0)
    packets = packetize(session, profile, device="dev")
    async with PrivateSystemBus() as bus:
        try:
            async with VirtualBluez(bus.address, advertising_interval=0.05) as bluez:
                wearable = VirtualWearable(bluez, profile, packets, speed=speed)
                await wearable.start()
                async with BleSource([DeviceTarget("dev", profile)], scan_timeout=5,
                                     queue_size=65536) as src:
                    decoder = Decoder(profile, "dev")
                    latencies: list[float] = []
                    received = 0
                    first = last = 0.0

                    async def consume() -> None:
                        nonlocal received, first, last
                        async for p in src.packets():
                            decoder.decode(p)  # the chunk enters the pipeline here
                            now = src.now()
                            latencies.append(now - p.t_arrival)
                            received += 1
                            if received == 1:
                                first = p.t_arrival
                            last = now

                    task = asyncio.create_task(consume())
                    await wearable.finished.wait()
                    await bluez.drain()
                    await asyncio.sleep(0.2)
                    task.cancel()
                    stats = src.stats["dev"]
                await wearable.close()
        finally:
            await release_bleak_bluez_manager()
    lat = sorted(latencies)
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    mode = "flat out" if speed is None else f"{speed:g}x real time"
    return (f"{mode:>14}: sent {wearable.stats.sent}, received {received}, "
            f"dropped {stats.dropped}, lost {wearable.stats.sent - received}; "
            f"{received / max(last - first, 1e-9):8.0f} notifications/s; arrival→chunk "
            f"median {statistics.median(lat) * 1e6:7.0f} µs, P99 {p99 * 1e6:7.0f} µs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="simulated session length")
    args = ap.parse_args()
    for speed in (None, 1.0):
        print(asyncio.run(measure(speed, args.seconds)))


if __name__ == "__main__":
    main()
