"""BleSource against the virtual BlueZ through real bleak: the failures a patient meets."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from isofeedback.ble.private_bus import PrivateSystemBus
from isofeedback.ble.virtual_bluez import (
    BLUEZ_ERROR_FAILED,
    BLUEZ_ERROR_IN_PROGRESS,
    BLUEZ_ERROR_NOT_READY,
    VirtualBluez,
)
from isofeedback.ble.wearable import VirtualWearable, WearableFaults
from isofeedback.coach.protocol import find_protocol
from isofeedback.errors import DeviceError
from isofeedback.pipeline import Pipeline
from isofeedback.profiles.decoder import Decoder
from isofeedback.profiles.schema import find_profile
from isofeedback.service import _with_idle_ticks
from isofeedback.sim import packetize, protocol_script
from isofeedback.sources.ble import BleSource, DeviceStatus, DeviceTarget
from isofeedback.sources.simulated import simulate_for_profile
from isofeedback.types import Packet

MYO = find_profile("myo")


def myo_packets(seconds_of_rest: float = 3.0) -> list[Packet]:
    script = protocol_script("pir", reps=1, hold=1.0, relax=1.0, stretch=0.5,
                             rest_before=seconds_of_rest, seed=2, mvc_capture=False)
    return packetize(simulate_for_profile(script, MYO), MYO, device="arm")


async def collect(source: BleSource, n: int, timeout: float = 10.0) -> list[Packet]:
    out: list[Packet] = []

    async def take() -> None:
        async for p in source.packets():
            out.append(p)
            if len(out) >= n:
                return

    await asyncio.wait_for(take(), timeout)
    return out


async def test_no_matching_device_is_a_clear_device_error(virtual_bluez: VirtualBluez) -> None:
    with pytest.raises(DeviceError, match=r"no device matching profile 'myo' \(name Myo…"):
        async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=0.5):
            pass


def test_run_command_without_device_exits_2_with_one_line(mosquitto: Any) -> None:
    async def serve() -> subprocess.CompletedProcess[str]:
        async with PrivateSystemBus() as bus, VirtualBluez(bus.address):
            env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "isofeedback.cli", "run", "--profile", "myo",
                "--scan-timeout", "0.5", "--plain", "--broker",
                f"{mosquitto.host}:{mosquitto.port}",
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), 30)
            return subprocess.CompletedProcess([], proc.returncode or 0, out.decode(),
                                               err.decode())

    result = asyncio.run(serve())
    assert result.returncode == 2
    assert result.stderr.startswith("isofeedback: error: no device matching profile 'myo'")
    assert "--wait" in result.stderr and result.stderr.count("\n") == 1, result.stderr


async def test_missing_characteristic_names_it(virtual_bluez: VirtualBluez) -> None:
    missing = MYO.notify_characteristics[-1]
    w = VirtualWearable(virtual_bluez, MYO, myo_packets(),
                        faults=WearableFaults(missing=(missing,)))
    await w.start()
    with pytest.raises(DeviceError, match=f"lacks characteristic.*{missing}.*profile 'myo'"):
        async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=3):
            pass
    assert not w.device or not w.device.connected  # disconnected cleanly


async def test_rejected_start_command_is_reported(virtual_bluez: VirtualBluez) -> None:
    w = VirtualWearable(virtual_bluez, MYO, myo_packets(),
                        faults=WearableFaults(reject_start=True))
    await w.start()
    with pytest.raises(DeviceError, match="rejected start command 09 01 01"):
        async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=3):
            pass


async def test_polar_start_reply_is_checked(virtual_bluez: VirtualBluez) -> None:
    polar = find_profile("polar_h10")
    w = VirtualWearable(virtual_bluez, polar, [], address="C0:FF:EE:00:00:10")
    await w.start()
    async with BleSource([DeviceTarget("chest", polar)], scan_timeout=3) as src:
        assert src.stats["chest"].online
    # a device that answers with an error status
    bad = find_profile("polar_h10")
    object.__setattr__(bad.start[0], "expect", bytes.fromhex("f0 02 02 05"))
    w2 = VirtualWearable(virtual_bluez, polar, [], address="C0:FF:EE:00:00:11")
    await virtual_bluez.remove_device(w.address)
    await w2.start()
    with pytest.raises(DeviceError, match="replied f0 02 02 00 00, expected f0 02 02 05"):
        async with BleSource([DeviceTarget("chest", bad)], scan_timeout=3):
            pass


@pytest.mark.parametrize("error", [BLUEZ_ERROR_IN_PROGRESS, BLUEZ_ERROR_FAILED,
                                   BLUEZ_ERROR_NOT_READY])
async def test_adapter_errors_on_connect_are_retried(virtual_bluez: VirtualBluez,
                                                     error: str) -> None:
    w = VirtualWearable(virtual_bluez, MYO, myo_packets(), speed=4.0)
    await w.start()
    virtual_bluez.fail_next("Connect", error, times=2)
    async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=3) as src:
        got = await collect(src, 50)
    assert virtual_bluez.calls["Connect"] >= 3
    assert {p.device for p in got} == {"arm"}
    assert src.stats["arm"].connects == 1


async def test_scan_in_progress_is_retried(virtual_bluez: VirtualBluez) -> None:
    w = VirtualWearable(virtual_bluez, MYO, myo_packets(), speed=4.0)
    await w.start()
    virtual_bluez.fail_next("StartDiscovery", BLUEZ_ERROR_IN_PROGRESS)
    async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=3) as src:
        assert len(await collect(src, 10)) == 10


async def test_short_packets_are_counted_and_the_session_goes_on(
    virtual_bluez: VirtualBluez,
) -> None:
    w = VirtualWearable(virtual_bluez, MYO, myo_packets(), speed=8.0,
                        faults=WearableFaults(corrupt_every=20))
    await w.start()
    statuses: list[DeviceStatus] = []
    async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=3,
                         on_status=statuses.append) as src:
        pipeline = Pipeline(src.profiles, find_protocol("pir"))
        for p in await collect(src, 400):
            pipeline.feed(p)
    assert pipeline.stats.bad_packets == 20
    assert "packet has 8 bytes, expected 16" in pipeline.stats.last_error or \
        "packet has 10 bytes, expected 20" in pipeline.stats.last_error
    assert pipeline.decoders["arm"].stats.packets == 380
    # looked for (the patient's page says to switch the sensor on), then its battery, then
    # online
    assert [(s.kind, s.body.get("state")) for s in statuses][:3] == [
        ("availability", "connecting"), ("battery", None), ("availability", "online")]


async def test_notification_flood_is_bounded_and_counted(virtual_bluez: VirtualBluez) -> None:
    # nobody reads the queue while the device streams flat out: the queue stays bounded
    w = VirtualWearable(virtual_bluez, MYO, myo_packets(10.0), speed=None)
    await w.start()
    async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=3, queue_size=100) as src:
        await asyncio.wait_for(w.finished.wait(), 20)
        await virtual_bluez.drain()
        await asyncio.sleep(0.1)
        stats = src.stats["arm"]
        assert src._queue.qsize() == 100
        assert stats.notifications == 100
        assert stats.dropped == w.stats.sent - 100 > 0
        # a session that fell behind takes what waited in one batch, in arrival order
        batches = src.batches()
        batch = await asyncio.wait_for(anext(batches), 5)
        await batches.aclose()
        assert len(batch) == 100
        times = [p.t_arrival for p in batch]
        assert times == sorted(times)


LAG_TOL_S = 0.25  # median delay of a notification after the fastest one of its stream


async def test_two_devices_share_one_clock(virtual_bluez: VirtualBluez) -> None:
    emg = find_profile("openemg")
    script = protocol_script("pir", reps=1, hold=1.0, relax=1.0, stretch=0.5,
                             rest_before=3.0, seed=3, mvc_capture=False)
    a = VirtualWearable(virtual_bluez, MYO, myo_packets(), speed=1.0)
    b = VirtualWearable(virtual_bluez, emg,
                        packetize(simulate_for_profile(script, emg), emg, device="ref"),
                        address="C0:FF:EE:00:00:02", speed=1.0)
    await a.start()
    await b.start()
    got: list[Packet] = []
    async with BleSource([DeviceTarget("arm", MYO), DeviceTarget("ref", emg)],
                         scan_timeout=3) as src:
        assert src.stats["arm"].online and src.stats["ref"].online
        assert src.stats["arm"].address != src.stats["ref"].address

        async def both_stream_for(seconds: float) -> None:
            firsts: dict[str, float] = {}
            async for p in src.packets():
                got.append(p)
                firsts.setdefault(p.device, p.t_arrival)
                if len(firsts) == 2 and p.t_arrival - max(firsts.values()) >= seconds:
                    return

        await asyncio.wait_for(both_stream_for(2.0), 30)  # a hang guard only
        assert all(0 < p.t_arrival < src.now() for p in got)
    assert not a.device or not a.device.connected
    assert b.device is not None and not b.device.connected
    assert ("4f70656e-454d-4700-8000-000000000004", bytes.fromhex("58")) in b.device.writes

    # one session clock: every notification is stamped by it, in the order it came
    arrivals = [p.t_arrival for p in got]
    assert arrivals == sorted(arrivals)
    by_device = {d: [p for p in got if p.device == d] for d in ("arm", "ref")}
    span = {d: (ps[0].t_arrival, ps[-1].t_arrival) for d, ps in by_device.items()}
    overlap = min(span["arm"][1], span["ref"][1]) - max(span["arm"][0], span["ref"][0])
    assert overlap >= 1.5, span
    switches = sum(x.device != y.device for x, y in itertools.pairwise(got))
    assert switches >= 50, switches  # the two streams interleave, not one after the other

    # each device's samples are timed on that clock: a chunk's last sample is never later
    # than its arrival, and typically just before it
    ends: dict[int, float] = {}  # packet index in arrival order → its EMG chunk's end time
    for d, profile in (("arm", MYO), ("ref", emg)):
        dec = Decoder(profile, d)
        lags = []
        for i, p in enumerate(got):
            if p.device != d:
                continue
            for c in dec.decode(p):
                t_end = c.t_first + c.n / c.fs
                assert c.device == d and t_end <= p.t_arrival + 1e-9
                lags.append(p.t_arrival - t_end)
                if c.stream == "emg":
                    ends[i] = t_end
        assert dec.stats.malformed == 0 and dec.stats.packets == len(by_device[d])
        assert float(np.median(lags)) <= LAG_TOL_S, (d, float(np.median(lags)))
    # where one device's notification follows the other's, both say about the same time
    pairs = [(ends[i], ends[i + 1]) for i in range(len(got) - 1)
             if got[i].device != got[i + 1].device and i in ends and i + 1 in ends]
    assert len(pairs) >= 20
    diffs = [abs(x - y) for x, y in pairs]
    assert float(np.median(diffs)) <= 2 * LAG_TOL_S, float(np.median(diffs))


async def test_cancelling_a_wait_for_packets_leaves_no_task_behind(
        virtual_bluez: VirtualBluez) -> None:
    """A session stopped while the link is silent cancels the packet wait: the queue read
    it started must go with it (the drop-storm run once found one left pending)."""
    w = VirtualWearable(virtual_bluez, MYO, myo_packets(seconds_of_rest=0.5), speed=8.0)
    await w.start()
    async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=3) as src:
        await asyncio.wait_for(w.finished.wait(), 30)
        packets = src.packets()
        while True:  # drain what arrived, then wait on the empty queue
            waiting = asyncio.ensure_future(anext(packets))
            done, _ = await asyncio.wait({waiting}, timeout=0.3)
            if not done:
                break
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.sleep(0.05)
        reads = [t for t in asyncio.all_tasks()
                 if not t.done() and t.get_coro().__qualname__ == "Queue.get"]
        assert not reads, reads
        await packets.aclose()
        # the cancelled wait left the queue as it was: a later notification reaches a
        # new wait, and the session loop's own wait on the queue, given up, does too
        later = Packet("arm", "late", b"", 99.0)
        fresh = src.packets()
        waiting = asyncio.ensure_future(anext(fresh))
        await asyncio.sleep(0.05)
        assert src.notifications().put(later)
        assert await asyncio.wait_for(waiting, 1) is later
        await fresh.aclose()
        ticks = _with_idle_ticks(src)
        assert await asyncio.wait_for(anext(ticks), 1) is None  # silence: an idle tick
        assert src.notifications().put(later)
        assert await asyncio.wait_for(anext(ticks), 1) == [later]
        await ticks.aclose()


async def test_a_gforce_armband_streams_its_raw_emg(virtual_bluez: VirtualBluez) -> None:
    """The gForcePro+ profile end to end through real bleak: its three start commands
    written in order to the command characteristic, its 129-byte typed notifications
    decoded as 16 samples of 8 channels."""
    gforce = find_profile("gforce")
    script = protocol_script("pir", reps=1, hold=1.0, relax=1.0, stretch=0.5,
                             rest_before=2.0, seed=2, mvc_capture=False)
    packets = packetize(simulate_for_profile(script, gforce), gforce, device="arm")
    w = VirtualWearable(virtual_bluez, gforce, packets, speed=8.0)
    device = await w.start()
    async with BleSource([DeviceTarget("arm", gforce)], scan_timeout=3) as src:
        pipeline = Pipeline(src.profiles, find_protocol("pir"))
        for p in await collect(src, 100):
            pipeline.feed(p)
    assert pipeline.stats.bad_packets == 0
    assert pipeline.decoders["arm"].stats.packets == 100
    assert w.stats.starts == 1
    assert [bytes(d).hex(" ") for _, d in device.writes][:3] == [
        "4f 00 00 00 00", "3f f4 01 ff 00 80 08", "4f 80 00 00 00"]
