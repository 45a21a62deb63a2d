"""Real bleak (BlueZ D-Bus backend) against the virtual BlueZ - no mocks.

Every test talks to bleak's public API only; the fake sits behind D-Bus
exactly where bluetoothd would be.
"""

import asyncio
import os
import time

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import (
    BleakDBusError,
    BleakError,
    BleakGATTProtocolError,
    BleakGATTProtocolErrorCode,
)

from isofeedback.ble.private_bus import PrivateSystemBus
from isofeedback.ble.virtual_bluez import (
    BLUEZ_ERROR_FAILED,
    BLUEZ_ERROR_IN_PROGRESS,
    BLUEZ_ERROR_NOT_PERMITTED,
    BLUEZ_ERROR_NOT_SUPPORTED,
    GattCharacteristicSpec,
    GattServiceSpec,
    VirtualBluez,
    VirtualDevice,
    VirtualDeviceSpec,
    VirtualGattError,
)

HR_SERVICE = "0000180d-0000-1000-8000-00805f9b34fb"
HR_MEASUREMENT = "00002a37-0000-1000-8000-00805f9b34fb"
HR_CONTROL_POINT = "00002a39-0000-1000-8000-00805f9b34fb"
HANG_GUARD_S = 30.0  # fails a test that hangs; never a bound on how fast things are
EMG_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
EMG_COMMAND = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
EMG_STREAM = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
ADDRESS = "AA:BB:CC:DD:EE:01"
NAME = "iso-virtual-emg"


def sensor_spec(address: str = ADDRESS, name: str = NAME) -> VirtualDeviceSpec:
    """A wearable shaped like the ones the service talks to: HR + EMG stream."""
    return VirtualDeviceSpec(
        address=address,
        name=name,
        services=(
            GattServiceSpec(
                HR_SERVICE,
                (
                    GattCharacteristicSpec(HR_MEASUREMENT, ("notify", "read"), b"\x00\x48"),
                    GattCharacteristicSpec(HR_CONTROL_POINT, ("write",)),
                ),
            ),
            GattServiceSpec(
                EMG_SERVICE,
                (
                    GattCharacteristicSpec(EMG_STREAM, ("notify",)),
                    GattCharacteristicSpec(EMG_COMMAND, ("write", "write-without-response")),
                ),
            ),
        ),
        advertised_services=(EMG_SERVICE,),
        rssi=-42,
        manufacturer_data={0xFFFF: b"\x01\x02"},
    )


def frame(seq: int, size: int = 20) -> bytes:
    """A notification payload whose first 4 bytes carry its sequence number."""
    return seq.to_bytes(4, "little") + bytes(size - 4)


def seqs(frames: list[bytes]) -> list[int]:
    return [int.from_bytes(f[:4], "little") for f in frames]


@pytest.fixture
async def sensor(virtual_bluez: VirtualBluez) -> VirtualDevice:
    return await virtual_bluez.add_device(sensor_spec())


async def scan_for(address: str = ADDRESS) -> BLEDevice:
    device = await BleakScanner.find_device_by_address(address, timeout=3.0)
    assert device is not None, f"{address} not seen by scan"
    return device


# ------------------------------------------------------------------ scanning


async def test_discover_reports_name_rssi_and_advertised_services(sensor: VirtualDevice) -> None:
    found = await BleakScanner.discover(timeout=0.3, return_adv=True)

    assert ADDRESS in found
    device, adv = found[ADDRESS]
    assert device.name == NAME
    assert adv.local_name == NAME
    assert adv.rssi == -42
    assert adv.service_uuids == [EMG_SERVICE]
    assert adv.manufacturer_data == {0xFFFF: b"\x01\x02"}


async def test_find_device_by_name_and_added_while_scanning(virtual_bluez: VirtualBluez) -> None:
    async def add_later() -> None:
        await asyncio.sleep(0.2)
        await virtual_bluez.add_device(sensor_spec("AA:BB:CC:DD:EE:02", "late-sensor"))

    adder = asyncio.create_task(add_later())
    device = await BleakScanner.find_device_by_name("late-sensor", timeout=3.0)
    await adder
    assert device is not None
    assert device.address == "AA:BB:CC:DD:EE:02"


async def test_start_discovery_in_progress_is_raised_not_retried(
    virtual_bluez: VirtualBluez, sensor: VirtualDevice
) -> None:
    # bleak maps StartDiscovery errors straight to BleakDBusError; it only
    # retries InProgress on *StopDiscovery*. The next scan works again.
    virtual_bluez.fail_next("StartDiscovery", BLUEZ_ERROR_IN_PROGRESS)
    with pytest.raises(BleakDBusError) as info:
        await BleakScanner.discover(timeout=0.2)
    assert info.value.dbus_error == BLUEZ_ERROR_IN_PROGRESS

    assert ADDRESS in {d.address for d in await BleakScanner.discover(timeout=0.3)}


# -------------------------------------------------------- connect / GATT I/O


async def test_connect_services_read_write_disconnect(sensor: VirtualDevice) -> None:
    writes: list[tuple[str, bytes]] = []
    links: list[bool] = []
    sensor.on_write = lambda uuid, data: writes.append((uuid, data))
    sensor.on_connection_change = links.append
    sensor.set_value(HR_MEASUREMENT, b"\x00\x50")

    client = BleakClient(ADDRESS, timeout=5.0)
    await client.connect()
    try:
        assert client.is_connected
        assert sensor.connected
        services = {s.uuid: {c.uuid: c for c in s.characteristics} for s in client.services}
        assert services.keys() == {HR_SERVICE, EMG_SERVICE}
        assert services[HR_SERVICE].keys() == {HR_MEASUREMENT, HR_CONTROL_POINT}
        assert services[EMG_SERVICE].keys() == {EMG_STREAM, EMG_COMMAND}
        assert sorted(services[EMG_SERVICE][EMG_COMMAND].properties) == [
            "write",
            "write-without-response",
        ]
        assert services[EMG_SERVICE][EMG_COMMAND].max_write_without_response_size == 244

        assert await client.read_gatt_char(HR_MEASUREMENT) == b"\x00\x50"

        await client.write_gatt_char(HR_CONTROL_POINT, b"\x01", response=True)
        await client.write_gatt_char(EMG_COMMAND, b"\x02\x03", response=False)
        # write-without-response returns before the peer handled it: sync up
        for _ in range(100):
            if len(writes) == 2:
                break
            await asyncio.sleep(0.01)
        assert writes == [(HR_CONTROL_POINT, b"\x01"), (EMG_COMMAND, b"\x02\x03")]
    finally:
        await client.disconnect()

    assert not client.is_connected
    assert not sensor.connected
    assert links == [True, False]


async def test_read_not_permitted_maps_to_gatt_protocol_error(sensor: VirtualDevice) -> None:
    async with BleakClient(await scan_for()) as client:
        with pytest.raises(BleakGATTProtocolError) as info:
            await client.read_gatt_char(EMG_STREAM)  # notify-only
        assert info.value.code == BleakGATTProtocolErrorCode.READ_NOT_PERMITTED


async def test_read_in_progress_is_retried_by_bleak(
    virtual_bluez: VirtualBluez, sensor: VirtualDevice
) -> None:
    async with BleakClient(await scan_for()) as client:
        virtual_bluez.fail_next("ReadValue", BLUEZ_ERROR_IN_PROGRESS, times=3)
        before = virtual_bluez.calls.get("ReadValue", 0)
        assert await client.read_gatt_char(HR_MEASUREMENT) == b"\x00\x48"
        assert virtual_bluez.calls["ReadValue"] - before == 4


async def test_rejected_writes_surface_as_bleak_errors(sensor: VirtualDevice) -> None:
    rejection: list[VirtualGattError] = []

    def on_write(uuid: str, data: bytes) -> None:
        if rejection:
            raise rejection.pop()

    sensor.on_write = on_write
    async with BleakClient(await scan_for()) as client:
        rejection.append(VirtualGattError(BLUEZ_ERROR_NOT_PERMITTED, "Write not permitted"))
        with pytest.raises(BleakGATTProtocolError) as gatt_info:
            await client.write_gatt_char(HR_CONTROL_POINT, b"\x09", response=True)
        assert gatt_info.value.code == BleakGATTProtocolErrorCode.WRITE_NOT_PERMITTED

        rejection.append(
            VirtualGattError(BLUEZ_ERROR_FAILED, "Operation failed with ATT error: 0x80")
        )
        with pytest.raises(BleakGATTProtocolError) as att_info:
            await client.write_gatt_char(HR_CONTROL_POINT, b"\x09", response=True)
        assert att_info.value.code == 0x80

        rejection.append(VirtualGattError(BLUEZ_ERROR_FAILED, "sensor busy"))
        with pytest.raises(BleakDBusError) as dbus_info:
            await client.write_gatt_char(HR_CONTROL_POINT, b"\x09", response=True)
        assert dbus_info.value.dbus_error == BLUEZ_ERROR_FAILED
        assert dbus_info.value.dbus_error_details == "sensor busy"

        # the link survives a rejected write
        await client.write_gatt_char(HR_CONTROL_POINT, b"\x0a", response=True)
    assert sensor.writes[-1] == (HR_CONTROL_POINT, b"\x0a")


async def test_connect_failure_raises_and_next_connect_works(
    virtual_bluez: VirtualBluez, sensor: VirtualDevice
) -> None:
    device = await scan_for()
    virtual_bluez.fail_next("Connect", BLUEZ_ERROR_FAILED, text="Software caused connection abort")
    with pytest.raises(BleakDBusError) as info:
        await BleakClient(device, timeout=5.0).connect()
    assert info.value.dbus_error == BLUEZ_ERROR_FAILED
    assert not sensor.connected

    async with BleakClient(device, timeout=5.0) as client:
        assert client.is_connected


async def test_unconnectable_device_makes_bleak_retry_until_timeout(
    sensor: VirtualDevice,
) -> None:
    # "le-connection-abort-by-local" is the one error bleak retries on.
    device = await scan_for()
    sensor.set_connectable(False)

    async def connect_until_bleak_gives_up() -> None:
        with pytest.raises(TimeoutError):
            await BleakClient(device, timeout=1.0).connect()

    started = time.monotonic()
    # the guard only catches a hang: if it fires, the inner attempt is cancelled (not a
    # TimeoutError from bleak) and wait_for's own TimeoutError fails the test
    await asyncio.wait_for(connect_until_bleak_gives_up(), timeout=HANG_GUARD_S)
    assert time.monotonic() - started >= 0.9  # kept retrying for its whole 1 s timeout
    assert sensor.connect_attempts > 1
    assert not sensor.connected


async def test_start_notify_not_supported_is_a_dbus_error(
    virtual_bluez: VirtualBluez, sensor: VirtualDevice
) -> None:
    async with BleakClient(await scan_for()) as client:
        virtual_bluez.fail_next("StartNotify", BLUEZ_ERROR_NOT_SUPPORTED)
        with pytest.raises(BleakDBusError) as info:
            await client.start_notify(EMG_STREAM, lambda c, d: None)
        assert info.value.dbus_error == BLUEZ_ERROR_NOT_SUPPORTED
        assert not sensor.is_notifying(EMG_STREAM)


# ------------------------------------------------------------- notifications


async def test_notifications_at_200_hz_arrive_in_order(
    virtual_bluez: VirtualBluez, sensor: VirtualDevice
) -> None:
    received: list[bytes] = []
    changes: list[tuple[str, bool]] = []
    sensor.on_notify_change = lambda uuid, on: changes.append((uuid, on))

    def on_data(_: BleakGATTCharacteristic, data: bytearray) -> None:
        received.append(bytes(data))

    async with BleakClient(await scan_for()) as client:
        await client.start_notify(EMG_STREAM, on_data)
        assert sensor.is_notifying(EMG_STREAM)

        started = time.monotonic()
        sent = await sensor.stream(EMG_STREAM, (frame(i) for i in range(200)), rate_hz=200)
        elapsed = time.monotonic() - started
        await virtual_bluez.drain()

        assert sent == 200
        assert seqs(received) == list(range(200))
        assert elapsed > 0.9  # paced at 200/s, not sent as one burst

        await client.stop_notify(EMG_STREAM)
        assert not sensor.is_notifying(EMG_STREAM)
        assert await sensor.notify(EMG_STREAM, frame(999)) is False

    assert changes == [(EMG_STREAM, True), (EMG_STREAM, False)]
    assert len(received) == 200


async def test_notification_burst_is_lossless(
    virtual_bluez: VirtualBluez, sensor: VirtualDevice
) -> None:
    burst = 5000
    received: list[bytes] = []
    done = asyncio.Event()

    def on_data(_: BleakGATTCharacteristic, data: bytearray) -> None:
        received.append(bytes(data))
        if len(received) == burst:
            done.set()

    async with BleakClient(await scan_for()) as client:
        await client.start_notify(EMG_STREAM, on_data)
        sent = await sensor.stream(EMG_STREAM, (frame(i, 16) for i in range(burst)))
        await asyncio.wait_for(done.wait(), timeout=HANG_GUARD_S)

    assert sent == burst
    assert seqs(received) == list(range(burst))
    assert all(len(r) == 16 for r in received)


async def test_drop_connection_while_streaming_then_reconnect(
    virtual_bluez: VirtualBluez, sensor: VirtualDevice
) -> None:
    dropped = asyncio.Event()
    dropped_at: list[float] = []
    received: list[bytes] = []

    def on_disconnect(_: BleakClient) -> None:
        dropped_at.append(time.monotonic())
        dropped.set()

    client = BleakClient(await scan_for(), disconnected_callback=on_disconnect)
    await client.connect()
    await client.start_notify(EMG_STREAM, lambda _, d: received.append(bytes(d)))

    streamer = asyncio.create_task(
        sensor.stream(EMG_STREAM, (frame(i) for i in range(1_000_000)), rate_hz=200)
    )
    await asyncio.sleep(0.2)
    assert not dropped.is_set() and client.is_connected
    t_drop = time.monotonic()
    await sensor.drop_connection()
    # bleak is told, once, because of the drop (the timeout only guards against a hang)
    await asyncio.wait_for(dropped.wait(), timeout=HANG_GUARD_S)
    assert len(dropped_at) == 1 and dropped_at[0] >= t_drop
    assert not client.is_connected
    # the fake stops its own stream when the link goes away (it would run for 5000 s)
    sent = await asyncio.wait_for(streamer, timeout=HANG_GUARD_S)
    assert 0 < sent < 1_000_000
    assert seqs(received) == list(range(len(received)))
    assert not sensor.is_notifying(EMG_STREAM)
    await client.disconnect()  # releases the client's bus; no-op on the link

    # the peripheral comes back: a fresh scan + connect + notify works
    received.clear()
    async with BleakClient(await scan_for()) as again:
        await again.start_notify(EMG_STREAM, lambda _, d: received.append(bytes(d)))
        assert await sensor.stream(EMG_STREAM, (frame(i) for i in range(50))) == 50
        await virtual_bluez.drain()
        assert seqs(received) == list(range(50))


async def test_remove_device_disconnects_client(
    virtual_bluez: VirtualBluez, sensor: VirtualDevice
) -> None:
    dropped = asyncio.Event()
    client = BleakClient(await scan_for(), disconnected_callback=lambda _: dropped.set())
    await client.connect()
    await virtual_bluez.remove_device(ADDRESS)
    await asyncio.wait_for(dropped.wait(), timeout=HANG_GUARD_S)
    await client.disconnect()
    with pytest.raises(BleakError):
        await BleakClient(ADDRESS, timeout=0.5).connect()


# --------------------------------------------------------------- private bus


async def test_private_bus_sets_and_restores_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent")
    async with PrivateSystemBus() as bus:
        assert bus.running
        assert bus.address.startswith("unix:path=")
        assert os.environ["DBUS_SYSTEM_BUS_ADDRESS"] == bus.address
    assert not bus.running
    assert os.environ["DBUS_SYSTEM_BUS_ADDRESS"] == "unix:path=/nonexistent"


async def test_private_bus_without_dbus_daemon_fails_loudly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    monkeypatch.setenv("PATH", os.fspath(tmp_path))
    with pytest.raises(RuntimeError, match="install the Debian package dbus"):
        async with PrivateSystemBus():
            pass


# ------------------------------------------------------------- BlueZ quirks


async def test_read_while_notifying_is_also_delivered_as_notification(
    virtual_bluez: VirtualBluez, sensor: VirtualDevice
) -> None:
    # BlueZ caches a read result in "Value" and signals it; with StartNotify
    # bleak cannot tell that apart from a notification. Clients must cope.
    received: list[bytes] = []
    async with BleakClient(await scan_for()) as client:
        await client.start_notify(HR_MEASUREMENT, lambda _, d: received.append(bytes(d)))
        sensor.set_value(HR_MEASUREMENT, b"\x00\x61")
        assert await client.read_gatt_char(HR_MEASUREMENT) == b"\x00\x61"
        await virtual_bluez.drain()
    assert received == [b"\x00\x61"]


async def test_connect_with_pairing_sets_trusted_and_paired(sensor: VirtualDevice) -> None:
    async with BleakClient(await scan_for(), pair=True) as client:
        assert client.is_connected
    assert sensor.trusted
    assert sensor.paired
