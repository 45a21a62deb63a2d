"""A BlueZ-shaped D-Bus service that simulates BLE peripherals without a radio.

bleak's Linux backend never touches HCI itself: it only speaks to
``bluetoothd`` over D-Bus. By owning the name ``org.bluez`` on a private bus
(see :class:`isofeedback.ble.private_bus.PrivateSystemBus`) and exporting the
same objects, properties, methods and signals that BlueZ exports, the *real*
bleak code path - scanner, client, GATT, notifications, disconnect handling -
can be exercised deterministically in tests and benchmarks.

Only the part of the BlueZ API that bleak uses is modelled:

* ``/`` ObjectManager (``GetManagedObjects``, ``InterfacesAdded``,
  ``InterfacesRemoved``) - provided by dbus-fast for exported objects.
* ``org.bluez.Adapter1`` on ``/org/bluez/<adapter>``.
* ``org.bluez.Device1`` on ``.../dev_XX_XX_XX_XX_XX_XX``.
* ``org.bluez.GattService1`` / ``org.bluez.GattCharacteristic1`` on
  ``.../serviceXXXX`` / ``.../serviceXXXX/charXXXX`` - bleak parses the
  handle from the last four hex digits of these paths.

Notifications use the ``StartNotify`` model: each one is a
``PropertiesChanged`` signal for ``Value`` on the characteristic's path.
"""

# No ``from __future__ import annotations`` here: dbus-fast evaluates method
# annotations and would read a stringified ``-> None`` as an invalid signature.
import asyncio
import contextlib
import dataclasses
import logging
import re
import select
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Annotated, Any, Final

from dbus_fast import BusType, Message, MessageType, NameFlag, RequestNameReply, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusBytes,
    DBusDict,
    DBusInt16,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
    DBusUInt16,
)
from dbus_fast.constants import PropertyAccess
from dbus_fast.errors import DBusError
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

from isofeedback.profiles.schema import normalize_uuid

__all__ = [
    "BLUEZ_ERROR_DOES_NOT_EXIST",
    "BLUEZ_ERROR_FAILED",
    "BLUEZ_ERROR_IN_PROGRESS",
    "BLUEZ_ERROR_NOT_PERMITTED",
    "BLUEZ_ERROR_NOT_SUPPORTED",
    "GattCharacteristicSpec",
    "GattServiceSpec",
    "VirtualBluez",
    "VirtualDevice",
    "VirtualDeviceSpec",
    "VirtualGattError",
    "normalize_uuid",
    "release_bleak_bluez_manager",
]

_LOG = logging.getLogger(__name__)

BLUEZ_SERVICE: Final = "org.bluez"
ADAPTER_IFACE: Final = "org.bluez.Adapter1"
DEVICE_IFACE: Final = "org.bluez.Device1"
GATT_SERVICE_IFACE: Final = "org.bluez.GattService1"
GATT_CHAR_IFACE: Final = "org.bluez.GattCharacteristic1"
PROPERTIES_IFACE: Final = "org.freedesktop.DBus.Properties"

BLUEZ_ERROR_FAILED: Final = "org.bluez.Error.Failed"
BLUEZ_ERROR_IN_PROGRESS: Final = "org.bluez.Error.InProgress"
BLUEZ_ERROR_NOT_SUPPORTED: Final = "org.bluez.Error.NotSupported"
BLUEZ_ERROR_NOT_PERMITTED: Final = "org.bluez.Error.NotPermitted"
BLUEZ_ERROR_DOES_NOT_EXIST: Final = "org.bluez.Error.DoesNotExist"
BLUEZ_ERROR_NOT_READY: Final = "org.bluez.Error.NotReady"

# BlueZ's text for an LE connection that the controller gave up on; bleak
# treats exactly this text as "retry until the connect timeout".
LE_ABORT_BY_LOCAL: Final = "le-connection-abort-by-local"

_ADDRESS_RE: Final = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")

DBusStrList = Annotated[list[str], DBusSignature("as")]
DBusManufacturerData = Annotated[dict[int, Variant], DBusSignature("a{qv}")]
DBusServiceData = Annotated[dict[str, Variant], DBusSignature("a{sv}")]


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True, slots=True)
class GattCharacteristicSpec:
    """A characteristic: its UUID, BlueZ flag names and initial value.

    ``flags`` use BlueZ's spelling: ``"read"``, ``"write"``,
    ``"write-without-response"``, ``"notify"``, ``"indicate"``.
    """

    uuid: str
    flags: tuple[str, ...]
    value: bytes = b""


@dataclass(frozen=True, slots=True)
class GattServiceSpec:
    """A primary service and its characteristics."""

    uuid: str
    characteristics: tuple[GattCharacteristicSpec, ...]


@dataclass(frozen=True, slots=True)
class VirtualDeviceSpec:
    """Static description of a simulated peripheral.

    ``advertised_services``, ``rssi``, ``manufacturer_data`` and
    ``service_data`` are what a scan sees; ``services`` is the GATT table a
    connected client sees. ``mtu`` is the negotiated ATT MTU reported to
    bleak (it derives the write-without-response size from it).
    """

    address: str
    name: str
    services: tuple[GattServiceSpec, ...]
    advertised_services: tuple[str, ...] = ()
    rssi: int = -50
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    service_data: dict[str, bytes] = field(default_factory=dict)
    address_type: str = "public"
    mtu: int = 247


class VirtualGattError(Exception):
    """Raised by user callbacks to reject a GATT operation with a BlueZ error.

    ``error_name`` is the D-Bus error name (e.g. ``org.bluez.Error.NotPermitted``)
    and ``text`` its message; bleak maps some combinations to
    ``BleakGATTProtocolError`` (e.g. ``NotPermitted`` + ``"Write not permitted"``
    or ``Failed`` + ``"Operation failed with ATT error: 0x80"``).
    """

    def __init__(self, error_name: str, text: str = "") -> None:
        super().__init__(f"{error_name}: {text}" if text else error_name)
        self.error_name = error_name
        self.text = text


# ----------------------------------------------------------------- backpressure


class _Backpressure:
    """Keeps a signal producer from overrunning the bus.

    Two independent limits, both needed:

    1. *Local socket.* dbus-fast writes to a non-blocking socket and tears the
       whole connection down if a write ever fails with ``EAGAIN``. Before each
       signal we therefore require the socket to poll writable (for unix
       stream sockets that means it is at most a quarter to half full), which
       guarantees a small message is accepted in full.
    2. *End to end.* The daemon happily queues up to its memory limit for a
       slow reader, so latency would grow without bound. Every ``window / 2``
       signals we ``Ping`` each observer (every connection that called
       ``GetManagedObjects``, i.e. every bleak ``BlueZManager``). A peer
       answers the ping only after it has read everything queued before it,
       and we never have more than two pings outstanding, so at most
       ``window`` signals are ever in flight per observer.
    """

    def __init__(self, bus: MessageBus, window: int) -> None:
        self._bus = bus
        self._half = max(1, window // 2)
        self._since_ping = 0
        self._pending: asyncio.Task[None] | None = None
        self.observers: set[str] = set()
        self._poll = select.poll()
        fd = getattr(bus, "_fd", None)
        self._fd: int | None = fd if isinstance(fd, int) else None
        if self._fd is not None:
            self._poll.register(self._fd, select.POLLOUT)

    def _socket_has_room(self) -> bool:
        if self._fd is None:
            return True
        return bool(self._poll.poll(0))

    async def before_send(self) -> None:
        """Wait until one more signal may be sent; always yields once."""
        await asyncio.sleep(0)
        while not self._socket_has_room():
            await asyncio.sleep(0.0005)
        self._since_ping += 1
        if self._since_ping >= self._half:
            self._since_ping = 0
            if self._pending is not None:
                await self._pending
            self._pending = asyncio.create_task(self._ping_observers())

    async def drain(self) -> None:
        """Wait until every observer has read everything sent so far."""
        if self._pending is not None:
            await self._pending
        self._pending = None
        self._since_ping = 0
        await self._ping_observers()

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    async def _ping_observers(self) -> None:
        observers = list(self.observers)
        if not observers:
            return
        results = await asyncio.gather(*(self._ping(o) for o in observers), return_exceptions=True)
        for observer, ok in zip(observers, results, strict=True):
            if ok is not True:
                # gone or wedged: stop waiting for it, as BlueZ would
                self.observers.discard(observer)

    async def _ping(self, observer: str) -> bool:
        reply = await asyncio.wait_for(
            self._bus.call(
                Message(
                    destination=observer,
                    path="/",
                    interface="org.freedesktop.DBus.Peer",
                    member="Ping",
                )
            ),
            timeout=2.0,
        )
        return reply is not None and reply.message_type == MessageType.METHOD_RETURN


# ------------------------------------------------------------ D-Bus interfaces


class _AdapterInterface(ServiceInterface):
    """``org.bluez.Adapter1``: discovery sessions and device removal."""

    def __init__(self, owner: "VirtualBluez", address: str) -> None:
        super().__init__(ADAPTER_IFACE)
        self._owner = owner
        self._address = address
        self.discovering = False

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:
        return self._address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> DBusStr:
        return "public"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return f"isofeedback-virtual-{self._owner.adapter}"

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> DBusStr:
        return f"isofeedback-virtual-{self._owner.adapter}"

    @dbus_property(access=PropertyAccess.READ)
    def Powered(self) -> DBusBool:
        return self._owner.powered

    @dbus_property(access=PropertyAccess.READ)
    def Discoverable(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Pairable(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> DBusBool:
        return self.discovering

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> DBusStrList:
        return ["central", "peripheral"]

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> DBusStrList:
        return []

    @dbus_method()
    def SetDiscoveryFilter(self, properties: DBusDict) -> None:
        self._owner._check_failure("SetDiscoveryFilter")
        self._owner._discovery_filter = dict(properties)

    @dbus_method()
    def GetDiscoveryFilters(self) -> DBusStrList:
        return ["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable"]

    @dbus_method()
    def StartDiscovery(self) -> None:
        self._owner._check_failure("StartDiscovery")
        self._owner._start_discovery()

    @dbus_method()
    def StopDiscovery(self) -> None:
        self._owner._check_failure("StopDiscovery")
        self._owner._stop_discovery()

    @dbus_method()
    async def RemoveDevice(self, device: DBusObjectPath) -> None:
        async with self._owner._inflight():
            self._owner._check_failure("RemoveDevice")
            dev = self._owner._device_by_path(device)
            if dev is None:
                raise DBusError(BLUEZ_ERROR_DOES_NOT_EXIST, "Does Not Exist")
            await self._owner.remove_device(dev.spec.address)


class _DeviceInterface(ServiceInterface):
    """``org.bluez.Device1`` for one :class:`VirtualDevice`."""

    def __init__(self, device: "VirtualDevice") -> None:
        super().__init__(DEVICE_IFACE)
        self._dev = device

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:
        return self._dev.spec.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> DBusStr:
        return self._dev.spec.address_type

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return self._dev.spec.name

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> DBusStr:
        return self._dev.spec.name or self._dev.spec.address.replace(":", "-")

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> DBusObjectPath:
        return self._dev._owner.adapter_path

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> DBusBool:
        return self._dev.connected

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> DBusBool:
        return self._dev._services_resolved

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> DBusBool:
        return self._dev.paired

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> DBusBool:
        return self._dev.paired

    @dbus_property()
    def Trusted(self) -> DBusBool:
        return self._dev.trusted

    # bleak sets Trusted before Pair
    @Trusted.setter  # type: ignore[no-redef]
    def Trusted(self, value: DBusBool) -> None:
        self._dev.trusted = bool(value)

    @dbus_property(access=PropertyAccess.READ)
    def Blocked(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def LegacyPairing(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> DBusInt16:
        return self._dev.rssi

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> DBusStrList:
        return self._dev._uuids()

    @dbus_property(access=PropertyAccess.READ)
    def ManufacturerData(self) -> DBusManufacturerData:
        return {k: Variant("ay", bytes(v)) for k, v in self._dev.spec.manufacturer_data.items()}

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> DBusServiceData:
        return {
            normalize_uuid(k): Variant("ay", bytes(v))
            for k, v in self._dev.spec.service_data.items()
        }

    @dbus_method()
    async def Connect(self) -> None:
        async with self._dev._owner._inflight():
            await self._dev._handle_connect()

    @dbus_method()
    def Disconnect(self) -> None:
        self._dev._owner._check_failure("Disconnect")
        self._dev._teardown()

    @dbus_method()
    async def Pair(self) -> None:
        # BlueZ's Pair connects first if needed; bleak relies on that when
        # asked to pair, calling Pair *instead of* Connect.
        async with self._dev._owner._inflight():
            self._dev._owner._check_failure("Pair")
            if not self._dev.connected:
                await self._dev._handle_connect()
            if not self._dev.paired:
                self._dev.paired = True
                self.emit_properties_changed({"Paired": True, "Bonded": True})

    @dbus_method()
    def CancelPairing(self) -> None:
        pass


class _GattServiceInterface(ServiceInterface):
    """``org.bluez.GattService1``; exists only while connected, like BlueZ."""

    def __init__(self, uuid: str, device_path: str, handle: int) -> None:
        super().__init__(GATT_SERVICE_IFACE)
        self._uuid = uuid
        self._device_path = device_path
        self._handle = handle

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> DBusObjectPath:
        return self._device_path

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Handle(self) -> DBusUInt16:
        return self._handle


class _Characteristic(ServiceInterface):
    """``org.bluez.GattCharacteristic1`` plus the simulation state behind it."""

    def __init__(
        self, device: "VirtualDevice", spec: GattCharacteristicSpec, path: str, service_path: str
    ) -> None:
        super().__init__(GATT_CHAR_IFACE)
        self._dev = device
        self.uuid = normalize_uuid(spec.uuid)
        self.flags = list(spec.flags)
        self.path = path
        self._service_path = service_path
        self.value = bytes(spec.value)  # what ReadValue returns
        self.published = bytes(spec.value)  # last "Value" the bus has seen
        self.notifying = False

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> DBusObjectPath:
        return self._service_path

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> DBusBytes:
        return self.published

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> DBusBool:
        return self.notifying

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> DBusStrList:
        return list(self.flags)

    @dbus_property(access=PropertyAccess.READ)
    def MTU(self) -> DBusUInt16:
        return self._dev.spec.mtu

    @dbus_method()
    def ReadValue(self, options: DBusDict) -> DBusBytes:
        self._dev._owner._check_failure("ReadValue")
        if "read" not in self.flags:
            raise DBusError(BLUEZ_ERROR_NOT_PERMITTED, "Read not permitted")
        offset = int(options["offset"].value) if "offset" in options else 0
        value = self.value
        if value != self.published:
            # BlueZ caches a read result in "Value" and announces it, which
            # bleak then delivers as a notification if notifying - keep that
            # quirk so clients are tested against it.
            self.published = value
            self.emit_properties_changed({"Value": value})
        return value[offset:]

    @dbus_method()
    def WriteValue(self, value: DBusBytes, options: DBusDict) -> None:
        self._dev._owner._check_failure("WriteValue")
        if not {"write", "write-without-response"} & set(self.flags):
            raise DBusError(BLUEZ_ERROR_NOT_PERMITTED, "Write not permitted")
        data = bytes(value)
        self._dev.writes.append((self.uuid, data))
        callback = self._dev.on_write
        if callback is not None:
            _run_callback(callback, self.uuid, data)

    @dbus_method()
    def StartNotify(self) -> None:
        self._dev._owner._check_failure("StartNotify")
        if not {"notify", "indicate"} & set(self.flags):
            raise DBusError(BLUEZ_ERROR_NOT_SUPPORTED, "Operation is not supported")
        if self.notifying:
            return
        self.notifying = True
        self.emit_properties_changed({"Notifying": True})
        if self._dev.on_notify_change is not None:
            _run_callback(self._dev.on_notify_change, self.uuid, True)

    @dbus_method()
    def StopNotify(self) -> None:
        self._dev._owner._check_failure("StopNotify")
        if not self.notifying:
            return
        self.notifying = False
        self.emit_properties_changed({"Notifying": False})
        if self._dev.on_notify_change is not None:
            _run_callback(self._dev.on_notify_change, self.uuid, False)


def _run_callback(callback: Callable[..., None], *args: Any) -> None:
    """Run a user hook and turn its failure into a BlueZ-style D-Bus error."""
    try:
        callback(*args)
    except VirtualGattError as e:
        raise DBusError(e.error_name, e.text) from e
    except DBusError:
        raise
    except Exception as e:
        _LOG.exception("virtual peripheral hook %r failed", callback)
        raise DBusError(BLUEZ_ERROR_FAILED, f"Operation failed: {e}") from e


# ------------------------------------------------------------------ peripheral


class VirtualDevice:
    """One simulated peripheral, as seen from the test side.

    Hooks (all optional, called synchronously from the D-Bus handler):

    * ``on_write(char_uuid, data)`` - may raise :class:`VirtualGattError` to
      reject the write; bleak then raises in ``write_gatt_char``.
    * ``on_notify_change(char_uuid, enabled)`` - ``StartNotify`` /
      ``StopNotify``, and ``False`` when a connection ends while notifying.
    * ``on_connection_change(connected)``.
    """

    def __init__(self, owner: "VirtualBluez", spec: VirtualDeviceSpec) -> None:
        self._owner = owner
        self.spec = spec
        self.path = f"{owner.adapter_path}/dev_{spec.address.replace(':', '_')}"
        self.connected = False
        self.paired = False
        self.trusted = False
        self.rssi = spec.rssi
        self.connect_attempts = 0
        self.connect_delay = 0.0
        self.writes: list[tuple[str, bytes]] = []
        self.on_write: Callable[[str, bytes], None] | None = None
        self.on_notify_change: Callable[[str, bool], None] | None = None
        self.on_connection_change: Callable[[bool], None] | None = None
        self._services_resolved = False
        self._connectable = True
        self._connect_error = LE_ABORT_BY_LOCAL
        self._iface = _DeviceInterface(self)
        self._gatt_services: list[tuple[str, _GattServiceInterface]] = []
        self._chars: list[_Characteristic] = []
        self._build_gatt()

    # ---- public API

    def is_notifying(self, char_uuid: str) -> bool:
        """Whether a client currently has notifications enabled on the characteristic."""
        return self._char(char_uuid).notifying

    def set_value(self, char_uuid: str, data: bytes) -> None:
        """Set what the next ``ReadValue`` returns (no signal is sent now)."""
        self._char(char_uuid).value = bytes(data)

    def set_connectable(self, ok: bool, error_text: str = LE_ABORT_BY_LOCAL) -> None:
        """Make ``Connect`` fail with ``org.bluez.Error.Failed`` (``error_text``).

        With the default text the fake behaves like BlueZ >= 5.62 after a
        failed LE connection: ``Connected`` flips true then false before the
        error, and bleak keeps retrying until its connect timeout.
        """
        self._connectable = ok
        self._connect_error = error_text

    async def notify(self, char_uuid: str, data: bytes) -> bool:
        """Send one notification; ``False`` (dropped) if nobody is listening.

        Waits for bus capacity first (see :class:`_Backpressure`), so a
        producer calling this in a loop is paced by the consumer and never
        overflows the bus. Re-checks the connection after waiting, so a
        stream stops as soon as the link drops or notifications are disabled.
        """
        char = self._char(char_uuid)
        if not (self.connected and char.notifying):
            return False
        bp = self._owner._backpressure
        await bp.before_send()
        if not (self.connected and char.notifying):
            return False
        payload = bytes(data)
        char.value = char.published = payload
        self._owner._bus_or_raise().send(
            Message.new_signal(
                char.path,
                PROPERTIES_IFACE,
                "PropertiesChanged",
                "sa{sv}as",
                [GATT_CHAR_IFACE, {"Value": Variant("ay", payload)}, []],
            )
        )
        return True

    async def stream(
        self,
        char_uuid: str,
        payloads: Iterable[bytes] | AsyncIterable[bytes],
        rate_hz: float | None = None,
    ) -> int:
        """Notify each payload in turn, optionally at a fixed rate.

        Stops early (without error) when the client disables notifications
        or the connection ends, and returns how many were delivered to the
        bus. With ``rate_hz`` the schedule is absolute, so jitter does not
        accumulate; a late sender catches up rather than dropping samples.
        """
        loop = asyncio.get_running_loop()
        period = 1.0 / rate_hz if rate_hz else 0.0
        start = loop.time()
        sent = 0

        async def one(payload: bytes) -> bool:
            nonlocal sent
            if period:
                delay = start + sent * period - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            if not await self.notify(char_uuid, payload):
                return False
            sent += 1
            return True

        if isinstance(payloads, AsyncIterable):
            async for p in payloads:
                if not await one(p):
                    break
        else:
            for p in payloads:
                if not await one(p):
                    break
        return sent

    async def drop_connection(self) -> None:
        """Simulate the peripheral vanishing (out of range, battery pulled).

        BlueZ reports this as ``ServicesResolved=false``, ``Connected=false``
        and removal of the GATT objects; notifications stop.
        """
        self._teardown()
        await asyncio.sleep(0)

    # ---- internals

    def _char(self, char_uuid: str) -> _Characteristic:
        u = normalize_uuid(char_uuid)
        for c in self._chars:
            if c.uuid == u:
                return c
        raise KeyError(f"{self.spec.address} has no characteristic {char_uuid}")

    def _uuids(self) -> list[str]:
        uuids = [normalize_uuid(u) for u in self.spec.advertised_services]
        if self.connected:
            for s in self.spec.services:
                su = normalize_uuid(s.uuid)
                if su not in uuids:
                    uuids.append(su)
        return uuids

    def _build_gatt(self) -> None:
        handle = 0x000A
        for sspec in self.spec.services:
            spath = f"{self.path}/service{handle:04x}"
            self._gatt_services.append(
                (spath, _GattServiceInterface(normalize_uuid(sspec.uuid), self.path, handle))
            )
            handle += 1
            for cspec in sspec.characteristics:
                cpath = f"{spath}/char{handle:04x}"
                self._chars.append(_Characteristic(self, cspec, cpath, spath))
                # declaration + value, + CCCD when it can notify
                handle += 3 if {"notify", "indicate"} & set(cspec.flags) else 2
            handle += 1

    async def _handle_connect(self) -> None:
        owner = self._owner
        self.connect_attempts += 1
        owner._check_failure("Connect")
        if self.connected:
            return
        if not self._connectable:
            if self._connect_error == LE_ABORT_BY_LOCAL:
                self._iface.emit_properties_changed({"Connected": True})
                await asyncio.sleep(0.01)
                self._iface.emit_properties_changed({"Connected": False})
            raise DBusError(BLUEZ_ERROR_FAILED, self._connect_error)
        if self.connect_delay:
            await asyncio.sleep(self.connect_delay)
        self.connected = True
        self._iface.emit_properties_changed({"Connected": True})
        bus = owner._bus_or_raise()
        for spath, siface in self._gatt_services:
            bus.export(spath, siface)
        for char in self._chars:
            char.notifying = False
            char.published = char.value
            bus.export(char.path, char)
        self._services_resolved = True
        self._iface.emit_properties_changed({"ServicesResolved": True, "UUIDs": self._uuids()})
        if self.on_connection_change is not None:
            self.on_connection_change(True)

    def _teardown(self) -> None:
        """End the connection: stop notifications, retract GATT, report it."""
        if not self.connected:
            return
        for char in self._chars:
            if char.notifying:
                char.notifying = False
                if self.on_notify_change is not None:
                    with contextlib.suppress(Exception):
                        self.on_notify_change(char.uuid, False)
        self._services_resolved = False
        self.connected = False
        bus = self._owner._bus
        if bus is not None and bus.connected:
            self._iface.emit_properties_changed({"ServicesResolved": False})
            self._iface.emit_properties_changed({"Connected": False})
            for char in self._chars:
                bus.unexport(char.path, char)
            for spath, siface in self._gatt_services:
                bus.unexport(spath, siface)
        if self.on_connection_change is not None:
            with contextlib.suppress(Exception):
                self.on_connection_change(False)

    def _advertise(self) -> None:
        """Announce an advertisement the way BlueZ does: an RSSI update."""
        if not self.connected:
            self._iface.emit_properties_changed({"RSSI": self.rssi})


# --------------------------------------------------------------------- service


class VirtualBluez:
    """Owns ``org.bluez`` on a (private) bus and hosts virtual peripherals.

    ``async with VirtualBluez(bus.address) as bluez:`` must be entered before
    bleak's first call on that bus, because bleak reads the whole object tree
    once when its manager starts.

    While a discovery session is active, every unconnected device
    "advertises" every ``advertising_interval`` seconds (an ``RSSI``
    ``PropertiesChanged``, which is what triggers bleak's scanner callback).
    """

    def __init__(
        self,
        bus_address: str,
        adapter: str = "hci0",
        *,
        adapter_address: str = "00:1A:7D:DA:71:13",
        advertising_interval: float = 0.1,
        notify_window: int = 256,
        powered: bool = True,
        has_adapter: bool = True,
    ) -> None:
        self.bus_address = bus_address
        self.has_adapter = has_adapter  # False: BlueZ runs, but no adapter is plugged in
        self.adapter = adapter
        self.powered = powered  # False: an adapter whose Bluetooth is switched off
        self.adapter_path = f"/org/bluez/{adapter}"
        self.advertising_interval = advertising_interval
        self._notify_window = notify_window
        self._adapter_iface = _AdapterInterface(self, adapter_address)
        self._bus: MessageBus | None = None
        self._bp: _Backpressure | None = None
        self._devices: dict[str, VirtualDevice] = {}
        self._failures: dict[str, deque[tuple[str, str]]] = {}
        self._discovery_sessions = 0
        self._discovery_filter: dict[str, Variant] = {}
        self._advertiser: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self.calls: dict[str, int] = {}

    # ---- lifecycle

    async def __aenter__(self) -> "VirtualBluez":
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Connect, export the adapter and take the name ``org.bluez``."""
        bus = await MessageBus(bus_address=self.bus_address, bus_type=BusType.SYSTEM).connect()
        self._bus = bus
        bus.add_message_handler(self._observe)
        self._bp = _Backpressure(bus, self._notify_window)
        if self.has_adapter:
            bus.export(self.adapter_path, self._adapter_iface)
        reply = await bus.request_name(BLUEZ_SERVICE, NameFlag.DO_NOT_QUEUE)
        if reply not in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
            await self.close()
            raise RuntimeError(f"could not own {BLUEZ_SERVICE} on {self.bus_address}: {reply}")

    async def close(self) -> None:
        """Drop all devices and leave the bus."""
        # Let async D-Bus handlers (a Connect in its simulated delay) finish
        # first: dbus-fast sends their reply from a done-callback, which
        # fails noisily once the socket is closed.
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=2.0)
            await asyncio.sleep(0)
        if self._advertiser is not None:
            self._advertiser.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._advertiser
            self._advertiser = None
        for dev in list(self._devices.values()):
            dev._teardown()
        self._devices.clear()
        if self._bp is not None:
            self._bp.cancel()
        bus, self._bus = self._bus, None
        if bus is not None and bus.connected:
            bus.disconnect()
            with contextlib.suppress(Exception):
                await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]

    # ---- devices

    async def add_device(self, spec: VirtualDeviceSpec) -> VirtualDevice:
        """Make a peripheral known (``InterfacesAdded``) and let it advertise."""
        if not _ADDRESS_RE.match(spec.address.upper()):
            raise ValueError(f"address must look like AA:BB:CC:DD:EE:FF, got {spec.address!r}")
        if spec.address != spec.address.upper():
            # BlueZ always reports upper case; match it so bleak's lookups agree
            spec = dataclasses.replace(spec, address=spec.address.upper())
        if spec.address in self._devices:
            raise ValueError(f"device {spec.address} already exists")
        dev = VirtualDevice(self, spec)
        self._devices[spec.address] = dev
        self._bus_or_raise().export(dev.path, dev._iface)
        await asyncio.sleep(0)
        return dev

    async def remove_device(self, address: str) -> None:
        """Forget a peripheral (drops its connection first), like ``RemoveDevice``."""
        dev = self._devices.pop(address.upper(), None)
        if dev is None:
            raise KeyError(address)
        dev._teardown()
        bus = self._bus
        if bus is not None and bus.connected:
            bus.unexport(dev.path, dev._iface)
        await asyncio.sleep(0)

    def device(self, address: str) -> VirtualDevice:
        """The peripheral with ``address``."""
        return self._devices[address.upper()]

    # ---- fault injection

    def fail_next(
        self, method: str, error_name: str, times: int = 1, text: str = "Simulated failure"
    ) -> None:
        """Make the next ``times`` calls of D-Bus ``method`` raise ``error_name``.

        ``method`` is the BlueZ member name (``StartDiscovery``, ``Connect``,
        ``ReadValue``, ``WriteValue``, ``StartNotify``, ...), across all
        devices and characteristics.
        """
        q = self._failures.setdefault(method, deque())
        q.extend([(error_name, text)] * times)

    def _check_failure(self, method: str) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
        q = self._failures.get(method)
        if q:
            name, text = q.popleft()
            raise DBusError(name, text)

    # ---- internals

    @property
    def _backpressure(self) -> _Backpressure:
        if self._bp is None:
            raise RuntimeError("VirtualBluez is not started")
        return self._bp

    def _bus_or_raise(self) -> MessageBus:
        if self._bus is None:
            raise RuntimeError("VirtualBluez is not started")
        return self._bus

    async def drain(self) -> None:
        """Wait until every bleak manager has read all signals sent so far."""
        await self._backpressure.drain()

    @contextlib.asynccontextmanager
    async def _inflight(self) -> AsyncIterator[None]:
        """Track a running async D-Bus handler so ``close`` can wait for it."""
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._handlers.discard(task)

    def _observe(self, msg: Message) -> None:
        """Remember who reads our object tree: they receive our signals."""
        if (
            msg.message_type == MessageType.METHOD_CALL
            and msg.member == "GetManagedObjects"
            and msg.sender
            and self._bp is not None
        ):
            self._bp.observers.add(msg.sender)

    def _device_by_path(self, path: str) -> VirtualDevice | None:
        for dev in self._devices.values():
            if dev.path == path:
                return dev
        return None

    def _start_discovery(self) -> None:
        self._discovery_sessions += 1
        if self._discovery_sessions == 1:
            self._adapter_iface.discovering = True
            self._adapter_iface.emit_properties_changed({"Discovering": True})
            self._advertiser = asyncio.get_running_loop().create_task(self._advertise_loop())

    def _stop_discovery(self) -> None:
        if self._discovery_sessions == 0:
            raise DBusError(BLUEZ_ERROR_FAILED, "No discovery started")
        self._discovery_sessions -= 1
        if self._discovery_sessions == 0:
            if self._advertiser is not None:
                self._advertiser.cancel()
                self._advertiser = None
            self._adapter_iface.discovering = False
            self._adapter_iface.emit_properties_changed({"Discovering": False})

    async def _advertise_loop(self) -> None:
        # first round right after the StartDiscovery reply, so scans are quick
        await asyncio.sleep(0)
        while True:
            for dev in list(self._devices.values()):
                dev._advertise()
            await asyncio.sleep(self.advertising_interval)


async def release_bleak_bluez_manager() -> None:
    """Close bleak's BlueZ manager for the running loop, if it has one.

    bleak keeps one manager (and one D-Bus connection) per event loop and
    never closes it. When a private bus is about to go away, closing that
    connection first avoids bleak's "D-Bus connection to BlueZ was lost"
    handling and a leaked socket. This reaches into bleak internals on
    purpose and is a no-op if they change.
    """
    try:
        from bleak.backends.bluezdbus import manager as bluez_manager
    except ImportError:  # pragma: no cover - non-Linux
        return
    instances: Any = getattr(bluez_manager, "_global_instances", None)
    if not isinstance(instances, dict):
        return
    mgr = instances.pop(asyncio.get_running_loop(), None)
    if mgr is None:
        return
    # Cancelling the watcher first keeps bleak from treating our orderly close
    # as a lost bus. That also cancels the bus's shared disconnect future
    # (the watcher awaits it directly), so wait on ``connected`` instead.
    watcher: Any = getattr(mgr, "_bus_watcher_task", None)
    if isinstance(watcher, asyncio.Task):
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher
    bus: Any = getattr(mgr, "_bus", None)
    if isinstance(bus, MessageBus):
        bus.disconnect()
        for _ in range(200):
            if not bus.connected:
                break
            await asyncio.sleep(0.005)
