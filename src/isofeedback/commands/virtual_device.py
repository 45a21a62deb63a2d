"""``isofeedback virtual-device``: a simulated wearable another shell can connect to.

Starts a private D-Bus system bus (or uses ``DBUS_SYSTEM_BUS_ADDRESS`` when it is set),
presents a BlueZ-shaped adapter with one device that has the profile's real GATT layout,
and streams the simulated patient through it once a client writes the start command.
``isofeedback run`` in another shell, with the printed address exported, then runs the
real bleak code path end to end without a radio. The test suite uses the same code.

SIGTERM (what ``kill``, systemd and docker send) and SIGINT (Ctrl-C) stop it cleanly: the
virtual adapter leaves the bus, the private ``dbus-daemon`` is stopped and its temporary
folder removed. Without that, SIGTERM's default action would end the process at once and
leave the daemon (in its own process group) and the folder behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from rich.console import Console

from isofeedback.ble.private_bus import PrivateSystemBus
from isofeedback.ble.virtual_bluez import VirtualBluez
from isofeedback.ble.wearable import VirtualWearable, WearableFaults
from isofeedback.coach.protocol import find_protocol
from isofeedback.commands.common import seed, speed
from isofeedback.errors import DeviceError
from isofeedback.profiles.schema import Profile, find_profile
from isofeedback.service import ControlInbox
from isofeedback.session.stop import StopRequests
from isofeedback.sim import packetize
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sources.simulated import simulate_for_profile
from isofeedback.types import Packet

__all__ = ["FAULTS", "register", "run", "session_packets"]

_LINK_FAULTS = ("none", "drop", "reject-start", "missing-characteristic", "short-packets")
FAULTS = _LINK_FAULTS


def register(sub: Any) -> None:
    p = sub.add_parser(
        "virtual-device",
        help="simulate a BLE wearable (no radio) for 'isofeedback run' in another shell",
        description="Present a virtual wearable with a firmware profile's GATT layout on a "
        "private system bus and stream a simulated patient once a client starts it.",
    )
    p.add_argument("--profile", default="myo", help="firmware profile (default: myo)")
    p.add_argument("--technique", default="pir",
                   help="protocol the simulated patient follows: a shipped one by name "
                   "(pir, met, wrist-flexors-pir …) or a file")
    p.add_argument("--seed", type=seed, default=1, help="simulated patient seed (default: 1)")
    p.add_argument("--speed", type=speed, default=1.0,
                   help="'realtime' (default), or a factor like 4 (the service must keep up)")
    p.add_argument("--address", default="C0:FF:EE:00:00:01", help="the device's address")
    p.add_argument("--fault", choices=_LINK_FAULTS, default="none",
                   help="drop: the link drops mid-hold of rep 1; reject-start: the start "
                   "command is refused; missing-characteristic: a data characteristic is "
                   "absent; short-packets: every 50th packet is cut short")
    p.add_argument("--once", action="store_true", help="exit after one simulated session")
    p.set_defaults(run=run)


def session_packets(profile: Profile, technique: str, seed: int, device: str = "virtual",
                    extra_reps: int = 0) -> tuple[list[Packet], list[float]]:
    """The simulated patient's packets for ``profile`` and the times its holds start.
    ``extra_reps``: the patient does more repetitions than prescribed (e.g. repeats one the
    coach asked to repeat after the sensor dropped out)."""
    protocol = find_protocol(technique)
    script = follow_protocol(protocol, reps=protocol.reps + extra_reps, seed=seed)
    packets = packetize(simulate_for_profile(script, profile), profile, device=device)
    return packets, [c.hold_start for c in script.contractions]


def faults_for(name: str, profile: Profile, holds: list[float]) -> WearableFaults:
    if name == "drop":
        return WearableFaults(drop_at=(holds[min(1, len(holds) - 1)] + 1.0,))
    if name == "reject-start":
        return WearableFaults(reject_start=True)
    if name == "missing-characteristic":
        return WearableFaults(missing=(profile.notify_characteristics[-1],))
    if name == "short-packets":
        return WearableFaults(corrupt_every=50)
    return WearableFaults()


@contextlib.asynccontextmanager
async def system_bus() -> AsyncIterator[tuple[str, bool]]:
    """The bus to serve on: ``DBUS_SYSTEM_BUS_ADDRESS`` if set, else a private one."""
    existing = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    if existing:
        yield existing, False
        return
    try:
        bus = PrivateSystemBus()
        await bus.start()
    except RuntimeError as exc:
        raise DeviceError(f"cannot start a private D-Bus: {exc}") from None
    try:
        yield bus.address, True
    finally:
        bus.close()


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_serve_until_signal(args))


async def _serve_until_signal(args: argparse.Namespace) -> int:
    # the sessions' own signal handling: with no session running, a signal cancels the
    # task, so every ``finally`` below (adapter, wearable, private bus) runs
    stops = StopRequests(ControlInbox())
    with stops.installed():
        try:
            return await _serve(args)
        except asyncio.CancelledError:
            if not stops.requested:
                raise
    Console(stderr=True).print(f"virtual-device: {stops.requested} received; stopped, the "
                               "private bus is shut down and its temporary folder removed.")
    return 0


async def _serve(args: argparse.Namespace) -> int:
    console = Console()
    profile = find_profile(args.profile)
    # with a drop the coach asks to repeat the interrupted repetition: the simulated
    # patient does, as a real one would (else the session would wait for it for ever)
    extra = 1 if args.fault == "drop" else 0
    packets, holds = session_packets(profile, args.technique, args.seed, extra_reps=extra)
    async with system_bus() as (address, private):
        try:
            bluez = VirtualBluez(address)
            await bluez.start()
        except (RuntimeError, OSError) as exc:
            raise DeviceError(
                f"cannot serve a virtual adapter on {address}: {exc}. Is a real Bluetooth "
                "service using that bus? Unset DBUS_SYSTEM_BUS_ADDRESS to use a private one"
            ) from None
        wearable: VirtualWearable | None = None
        try:
            wearable = VirtualWearable(bluez, profile, packets, address=args.address,
                                       speed=args.speed,
                                       faults=faults_for(args.fault, profile, holds))
            dev = await wearable.start()
            console.print(f"Virtual {profile.name} '{dev.spec.name}' ({dev.spec.address}) "
                          f"ready; {packets[-1].t_arrival:.0f} s session at "
                          f"{'max speed' if args.speed is None else f'{args.speed:g}x'}, "
                          f"fault: {args.fault}.")
            if private:
                scale = f" --time-scale {args.speed:g}" if args.speed not in (None, 1.0) else ""
                # plain print: a wrapped export line could not be pasted
                print("In another shell run:\n"
                      f"  export DBUS_SYSTEM_BUS_ADDRESS='{address}'\n"
                      f"  isofeedback run --profile {profile.id} --technique "
                      f"{args.technique}{scale}", flush=True)
            console.print("Waiting for a client to start streaming (Ctrl-C to stop).")
            await wearable.started.wait()
            console.print("Streaming started.")
            await wearable.finished.wait()
            s = wearable.stats
            console.print(f"Session played: {s.sent} packets sent, {s.lost_offline} not "
                          f"delivered (no client listening), {s.drops} drop(s), "
                          f"{s.corrupted} corrupted.")
            if not args.once:
                await asyncio.Event().wait()
        finally:
            if wearable is not None:
                await wearable.close()
            await bluez.close()
    return 0
