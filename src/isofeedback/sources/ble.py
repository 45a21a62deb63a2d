"""The BLE source: real wearables through bleak, described by firmware profiles.

One supervisor task per device finds it (by address, or the first advertiser matching the
profile's name prefixes / service UUIDs), connects (one device at a time: BlueZ handles
concurrent connects badly) with bleak-retry-connector's retries, checks the GATT table
against the profile, subscribes to every data characteristic, writes the start commands
(checking replies where the profile says ``expect``) and reads the battery. When the link
drops, the session goes on: the device is reported offline, reconnected with backoff and
reported online again; the decoder marks the missing samples from counters or arrival gaps.

The notification callback only timestamps (session clock = ``loop.time()`` − session start)
and enqueues into one bounded queue shared by all devices, so every device is on one
clock; a full queue drops the newest notification and counts it (never silently).
Decoding happens in the pipeline. Use as an async context manager::

    async with BleSource([DeviceTarget("arm", find_profile("myo"))]) as source:
        await run_session(source, pipeline, sinks)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakError,
)

from isofeedback.errors import DeviceError
from isofeedback.profiles.schema import CommandSpec, Profile
from isofeedback.sources.base import SourceStatus
from isofeedback.sources.queued import NotificationQueue, QueuedSource
from isofeedback.types import Packet

__all__ = [
    "ADVICE_NOT_ALLOWED",
    "ADVICE_NO_ADAPTER",
    "ADVICE_NO_BLUEZ",
    "ADVICE_NO_DBUS",
    "ADVICE_POWERED_OFF",
    "BleSource",
    "DeviceStats",
    "DeviceStatus",
    "DeviceTarget",
    "FoundDevice",
    "bluetooth_unavailable",
    "match_profile",
    "scan",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceTarget:
    """A wearable the session needs: its name in the session (packets' ``device``), its
    profile, and its address (``None`` = the first matching device found)."""

    name: str
    profile: Profile
    address: str | None = None


DeviceStatus = SourceStatus  # the name the BLE code and its tests use


@dataclass(frozen=True, slots=True)
class FoundDevice:
    """One advertiser seen by a scan, with the profile it matches (if any)."""

    address: str
    name: str
    rssi: int
    services: tuple[str, ...]
    profile: Profile | None
    ble_device: BLEDevice = field(repr=False, compare=False)


@dataclass
class DeviceStats:
    """Counters per device, for the status topic and the session summary."""

    address: str = ""
    connects: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    notifications: int = 0
    dropped: int = 0
    battery: int | None = None
    online: bool = False
    last_error: str = ""


def match_profile(
    name: str | None, services: Sequence[str], profiles: Sequence[Profile]
) -> Profile | None:
    """The first profile whose name prefix or advertised service the advertiser shows."""
    uuids = {s.lower() for s in services}
    for p in profiles:
        if name and any(name.startswith(prefix) for prefix in p.name_prefixes):
            return p
        if uuids & set(p.advertised_services):
            return p
    return None


# What to tell the user for each way Bluetooth can be unusable: shared by the BLE source
# (one clear error instead of a retried "[Errno 2]") and ``isofeedback doctor``.
ADVICE_NO_DBUS = ("Bluetooth is not available: the system message bus (D-Bus) is not "
                  "running; start it with 'sudo systemctl start dbus bluetooth'")
ADVICE_NO_BLUEZ = ("the Bluetooth service (BlueZ) is not running: start it with "
                   "'sudo systemctl start bluetooth' and try again")
ADVICE_NO_ADAPTER = ("no Bluetooth LE adapter found: plug one in or enable the built-in one, "
                     "then try again")
ADVICE_POWERED_OFF = ("Bluetooth is switched off: turn it on (the system's Bluetooth setting, "
                      "or 'bluetoothctl power on') and try again")
ADVICE_NOT_ALLOWED = ("this program is not allowed to use Bluetooth: allow it in the system's "
                      "privacy settings and try again")


def bluetooth_unavailable(exc: BaseException) -> str | None:
    """What to tell the user when this computer has no usable Bluetooth (no system message
    bus, no BlueZ service, no adapter, Bluetooth switched off or not allowed), or None when
    ``exc`` is a passing problem worth retrying. Without this a patient saw
    "[Errno 2] No such file or directory" retried forever, or a traceback from ``scan``."""
    if isinstance(exc, BleakBluetoothNotAvailableError):
        reason = exc.args[1] if len(exc.args) > 1 else None
        if reason == BleakBluetoothNotAvailableReason.POWERED_OFF:
            return ADVICE_POWERED_OFF
        if reason in (BleakBluetoothNotAvailableReason.DENIED_BY_USER,
                      BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM):
            return ADVICE_NOT_ALLOWED
        return ADVICE_NO_ADAPTER
    if isinstance(exc, BleakDBusError) and exc.dbus_error == (
        "org.freedesktop.DBus.Error.ServiceUnknown"
    ):
        return ADVICE_NO_BLUEZ
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return ADVICE_NO_DBUS
    return None


async def scan(timeout: float, profiles: Sequence[Profile]) -> list[FoundDevice]:
    """Every advertiser seen within ``timeout`` s, strongest signal first."""
    try:
        seen = await BleakScanner.discover(timeout=timeout, return_adv=True)
    except (BleakError, OSError) as exc:
        why = bluetooth_unavailable(exc)
        if why is not None:
            raise DeviceError(why) from exc
        raise DeviceError(f"Bluetooth scan failed: {exc}; check that Bluetooth is on "
                          "(bluetoothctl power on) and try again") from exc
    out = [_found(dev, adv, profiles) for dev, adv in seen.values()]
    return sorted(out, key=lambda f: -f.rssi)


def _found(dev: BLEDevice, adv: AdvertisementData, profiles: Sequence[Profile]) -> FoundDevice:
    name = adv.local_name or dev.name or ""
    services = tuple(adv.service_uuids)
    return FoundDevice(dev.address, name, adv.rssi, services,
                       match_profile(name, services, profiles), dev)


class _Fatal(DeviceError):
    """A problem reconnecting cannot fix (wrong device, wrong profile)."""


class BleSource(QueuedSource):
    """Packets from one or more BLE wearables, on one session clock.

    ``wait``: keep scanning until every device appears (service mode) instead of failing
    after ``scan_timeout``. ``on_status`` receives availability and battery changes.
    ``time_scale``: session seconds per wall-clock second — 1 for real sensors; N for a
    virtual wearable that plays its session N× faster than real time.
    """

    def __init__(
        self,
        targets: Sequence[DeviceTarget],
        *,
        scan_timeout: float = 10.0,
        wait: bool = False,
        queue_size: int = 8192,
        backoff: tuple[float, float] = (0.25, 10.0),
        connect_attempts: int = 4,
        reply_timeout: float = 3.0,
        on_status: Callable[[DeviceStatus], None] | None = None,
        time_scale: float = 1.0,
    ) -> None:
        super().__init__(queue_size)
        names = [t.name for t in targets]
        if not targets or len(set(names)) != len(names):
            raise ValueError(f"targets need unique names, got {names}")
        self.targets = tuple(targets)
        self.scan_timeout = scan_timeout
        self.wait = wait
        self.queue_size = queue_size
        self.backoff = backoff
        self.connect_attempts = connect_attempts
        self.reply_timeout = reply_timeout
        self.on_status = on_status
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, got {time_scale}")
        self.time_scale = time_scale
        self.stats = {t.name: DeviceStats() for t in targets}
        self._link_lock = asyncio.Lock()
        self._claimed: dict[str, str] = {}  # address → target name
        self._clients: dict[str, BleakClient] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._ready: dict[str, asyncio.Event] = {t.name: asyncio.Event() for t in targets}
        self._failed: asyncio.Future[None] | None = None
        self._start = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def profiles(self) -> Mapping[str, Profile]:
        return {t.name: t.profile for t in self.targets}

    def now(self) -> float:
        """Session time in seconds."""
        assert self._loop is not None
        return (self._loop.time() - self._start) * self.time_scale

    # ---- lifecycle

    async def __aenter__(self) -> BleSource:
        """Start the session clock and connect every device once (or fail clearly)."""
        self._loop = asyncio.get_running_loop()
        self._start = self._loop.time()
        self._failed = self._loop.create_future()
        for t in self.targets:
            self._tasks.append(asyncio.create_task(self._supervise(t), name=f"ble-{t.name}"))
        ready = asyncio.gather(*(e.wait() for e in self._ready.values()))
        try:
            waiting: set[asyncio.Future[Any]] = {ready, self._failed}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if self._failed.done():
                self._failed.result()
        except BaseException:
            ready.cancel()
            # a cancelled gather keeps a CancelledError that asyncio would log as "never
            # retrieved" (a traceback under the one-line error): retrieve it
            ready.add_done_callback(lambda f: f.cancelled() or f.exception())
            await self.close()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop commands, unsubscribe, disconnect; idempotent."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def notifications(self) -> NotificationQueue:
        assert self._failed is not None, "use 'async with BleSource(...)' first"
        return self._queue

    # ---- one device

    def report(self) -> list[str]:
        """What each link did: notifications, drops, reconnections, battery — never hidden."""
        lines = []
        for name, s in self.stats.items():
            battery = "-" if s.battery is None else f"{s.battery} %"
            lines.append(
                f"{name} {s.address}: {s.notifications} notifications, {s.dropped} dropped "
                f"(queue full), {s.connects} connection(s), {s.disconnects} lost, "
                f"battery {battery}")
        return lines

    async def write(self, device: str, characteristic: str, data: bytes) -> None:
        """Write to a connected device (e.g. a haptic cue); DeviceError when it is not
        connected now, so the caller can count the cue as not delivered."""
        client = self._clients.get(device)
        if client is None or not client.is_connected:
            raise DeviceError(f"{device} is not connected; the write to {characteristic} "
                              "was not sent")
        await client.write_gatt_char(characteristic, data, response=True)

    def _fail(self, exc: BaseException) -> None:
        if self._failed is not None and not self._failed.done():
            self._failed.set_exception(exc)
            self._queue.fail(exc)

    def _status(self, device: str, kind: str, **body: Any) -> None:
        if self.on_status is not None:
            try:
                self.on_status(DeviceStatus(device, kind, self.now(), body))
            except Exception:  # a sink's bug must not stop acquisition
                log.exception("device status handler failed")

    async def _supervise(self, target: DeviceTarget) -> None:
        stats = self.stats[target.name]
        delay = self.backoff[0]
        first = True
        while True:
            try:
                dev = await self._find(target, first)
                stats.address = dev.address
                link_lost = asyncio.Event()
                async with self._link_lock:
                    client = await self._connect(target, dev, link_lost)
                try:
                    await self._setup(target, client)
                    stats.online = True
                    stats.connects += 1
                    self._ready[target.name].set()
                    self._status(target.name, "availability", state="online",
                                 address=dev.address, connects=stats.connects)
                    delay = 0.0  # a link that worked is retried at once, then with backoff
                    first = False
                    await link_lost.wait()
                    stats.disconnects += 1
                    stats.last_error = "connection lost"
                finally:
                    await self._shutdown_client(target, client)
            except asyncio.CancelledError:
                stats.last_error = "session ended"
                raise
            except _Fatal as exc:
                stats.last_error = str(exc)
                self._fail(exc)
                return
            except (BleakError, DeviceError, TimeoutError, OSError) as exc:
                stats.connect_failures += 1
                why = bluetooth_unavailable(exc)
                if why is not None and not first:
                    # it worked before: the service (or a virtual device's bus) went away
                    why = ("the Bluetooth service stopped during the session (a virtual "
                           "device's bus goes when it exits); waiting for it to come back. "
                           f"If it does not: {why}")
                error = why or str(exc) or type(exc).__name__
                if first and not self.wait and (why is not None or isinstance(exc, DeviceError)):
                    stats.last_error = error
                    self._fail(DeviceError(why) if why is not None else exc)
                    return
                if error != stats.last_error:  # once per problem, not once per retry
                    log.warning("%s: %s; retrying", target.name, error)
                stats.last_error = error
            finally:
                if stats.online:
                    stats.online = False
                    with contextlib.suppress(Exception):
                        self._status(target.name, "availability", state="offline",
                                     reason=stats.last_error)
            await asyncio.sleep(delay)
            delay = min(max(delay * 2, self.backoff[0]), self.backoff[1])

    async def _find(self, target: DeviceTarget, first: bool) -> BLEDevice:
        """Scan for the target (a known address is re-found the same way after a drop)."""
        address = target.address or self._address_of(target.name)
        if first:  # the patient's page says to switch the sensor on while it is looked for
            self._status(target.name, "availability", state="connecting",
                         reason="looking for the sensor")

        def wanted(dev: BLEDevice, adv: AdvertisementData) -> bool:
            if address is not None:
                return dev.address.upper() == address.upper()
            if dev.address in self._claimed:
                return False
            name = adv.local_name or dev.name
            return match_profile(name, adv.service_uuids, [target.profile]) is not None

        while True:
            try:
                dev = await BleakScanner.find_device_by_filter(wanted, timeout=self.scan_timeout)
            except BleakError as exc:  # e.g. org.bluez.Error.InProgress from the adapter
                if bluetooth_unavailable(exc) is not None:
                    raise  # no Bluetooth at all: the supervisor says so (and maybe waits)
                log.info("%s: scan failed (%s); scanning again", target.name, exc)
                await asyncio.sleep(self.backoff[0])
                continue
            if dev is not None:
                self._claimed.setdefault(dev.address, target.name)
                return dev
            if first and not self.wait:
                what = (f"device {address}" if address else
                        f"device matching profile {target.profile.id!r} ("
                        + ", ".join([*(f"name {p}…" for p in target.profile.name_prefixes),
                                     *target.profile.advertised_services]) + ")")
                raise DeviceError(
                    f"no {what} found within {self.scan_timeout:g} s for {target.name!r}: "
                    "switch the sensor on and bring it close, or use --wait to keep scanning"
                )

    def _address_of(self, name: str) -> str | None:
        return next((a for a, n in self._claimed.items() if n == name), None)

    async def _connect(
        self, target: DeviceTarget, dev: BLEDevice, link_lost: asyncio.Event
    ) -> BleakClient:
        from bleak_retry_connector import establish_connection

        def lost(_: BleakClient) -> None:
            link_lost.set()

        try:
            return await establish_connection(
                BleakClient, dev, target.name, disconnected_callback=lost,
                max_attempts=self.connect_attempts, use_services_cache=False,
            )
        except BleakError as exc:
            raise DeviceError(f"could not connect to {target.name!r} ({dev.address}): {exc}") \
                from exc

    async def _setup(self, target: DeviceTarget, client: BleakClient) -> None:
        """Check the GATT table, subscribe, start streaming, read the battery."""
        profile = target.profile
        present = {c.uuid for s in client.services for c in s.characteristics}
        missing = [u for u in profile.expected_characteristics if u not in present]
        if missing:
            raise _Fatal(
                f"{target.name!r} ({client.address}) lacks characteristic(s) "
                f"{', '.join(missing)} that profile {profile.id!r} expects: is it the right "
                "device and firmware? Choose another profile or update the sensor"
            )
        self._clients[target.name] = client
        loop = asyncio.get_running_loop()
        queue, stats, name = self._queue, self.stats[target.name], target.name
        start, scale = self._start, self.time_scale

        def on_data(char: BleakGATTCharacteristic, data: bytearray) -> None:
            # only timestamp and enqueue: decoding happens in the pipeline
            t = (loop.time() - start) * scale
            if queue.put(Packet(name, char.uuid, bytes(data), t)):
                stats.notifications += 1
            else:
                stats.dropped += 1

        replies: dict[str, asyncio.Queue[bytes]] = {}
        for cmd in profile.start:
            if cmd.reply_characteristic and cmd.reply_characteristic not in replies:
                q: asyncio.Queue[bytes] = asyncio.Queue()
                replies[cmd.reply_characteristic] = q

                def on_reply(_c: BleakGATTCharacteristic, d: bytearray,
                             q: asyncio.Queue[bytes] = q) -> None:
                    q.put_nowait(bytes(d))

                await client.start_notify(cmd.reply_characteristic, on_reply)
        for uuid in profile.notify_characteristics:
            await client.start_notify(uuid, on_data)
        for cmd in profile.start:
            await self._command(target, client, cmd, replies)
        await self._battery(target, client)

    async def _command(
        self,
        target: DeviceTarget,
        client: BleakClient,
        cmd: CommandSpec,
        replies: Mapping[str, asyncio.Queue[bytes]],
    ) -> None:
        reply_q = replies.get(cmd.reply_characteristic or "")
        if reply_q is not None:
            while not reply_q.empty():
                reply_q.get_nowait()
        try:
            await client.write_gatt_char(cmd.characteristic, cmd.data, response=True)
        except BleakError as exc:
            raise _Fatal(
                f"{target.name!r} rejected start command {cmd.data.hex(' ')} on "
                f"{cmd.characteristic}: {exc}; the profile {target.profile.id!r} may not match "
                "this firmware"
            ) from exc
        if cmd.expect is not None and reply_q is not None:
            try:
                reply = await asyncio.wait_for(reply_q.get(), self.reply_timeout)
            except TimeoutError:
                raise DeviceError(f"{target.name!r} did not answer start command "
                                  f"{cmd.data.hex(' ')} within {self.reply_timeout:g} s") from None
            if not reply.startswith(cmd.expect):
                raise _Fatal(
                    f"{target.name!r} refused start command {cmd.data.hex(' ')}: replied "
                    f"{reply.hex(' ')}, expected {cmd.expect.hex(' ')}…; the profile "
                    f"{target.profile.id!r} may not match this firmware"
                )
        if cmd.delay_s:
            await asyncio.sleep(cmd.delay_s)

    async def _battery(self, target: DeviceTarget, client: BleakClient) -> None:
        uuid = target.profile.battery
        if uuid is None:
            return
        stats = self.stats[target.name]

        def publish(level: int) -> None:
            stats.battery = level
            self._status(target.name, "battery", level=level, unit="%")

        try:
            value = await client.read_gatt_char(uuid)
            if value:
                publish(value[0])
            char = client.services.get_characteristic(uuid)
            if char is not None and "notify" in char.properties:
                await client.start_notify(uuid, lambda _c, d: publish(d[0]) if d else None)
        except BleakError as exc:  # battery is nice to have, never a reason to stop
            log.info("%s: battery level unavailable: %s", target.name, exc)

    async def _shutdown_client(self, target: DeviceTarget, client: BleakClient) -> None:
        """Stop commands, unsubscribe, disconnect; each step may fail on a dead link."""
        self._clients.pop(target.name, None)
        if client.is_connected:
            for cmd in target.profile.stop:
                with contextlib.suppress(BleakError, TimeoutError, OSError):
                    await asyncio.wait_for(
                        client.write_gatt_char(cmd.characteristic, cmd.data, response=True), 2.0
                    )
            for uuid in target.profile.notify_characteristics:
                with contextlib.suppress(BleakError, TimeoutError, OSError, KeyError):
                    await asyncio.wait_for(client.stop_notify(uuid), 2.0)
        with contextlib.suppress(BleakError, TimeoutError, OSError):
            await asyncio.wait_for(client.disconnect(), 5.0)
