"""Fixtures that run bleak's real BlueZ backend against a virtual BlueZ.

Each test gets its own dbus-daemon and its own fake ``org.bluez``. bleak
keeps one ``BlueZManager`` per event loop; pytest-asyncio gives every test a
fresh loop, so every test also gets a fresh manager bound to *its* bus. The
``private_bus`` teardown closes that manager's connection before the daemon
goes away, so bleak never sees a "lost" bus and no socket leaks across tests.

If dbus-daemon cannot start, the fixtures raise: these tests must fail, not
skip, when their infrastructure is missing.
"""

from collections.abc import AsyncIterator

import pytest

from isofeedback.ble.private_bus import PrivateSystemBus
from isofeedback.ble.virtual_bluez import VirtualBluez, release_bleak_bluez_manager


@pytest.fixture
async def private_bus() -> AsyncIterator[PrivateSystemBus]:
    async with PrivateSystemBus() as bus:
        try:
            yield bus
        finally:
            await release_bleak_bluez_manager()


@pytest.fixture
async def virtual_bluez(private_bus: PrivateSystemBus) -> AsyncIterator[VirtualBluez]:
    async with VirtualBluez(private_bus.address, advertising_interval=0.05) as bluez:
        yield bluez
