"""The virtual BlueZ on a private D-Bus, for the end-to-end BLE tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from isofeedback.ble.private_bus import PrivateSystemBus
from isofeedback.ble.virtual_bluez import VirtualBluez, release_bleak_bluez_manager


@pytest.fixture
async def bluez() -> AsyncIterator[VirtualBluez]:
    async with PrivateSystemBus() as bus:
        try:
            async with VirtualBluez(bus.address, advertising_interval=0.05) as b:
                yield b
        finally:
            await release_bleak_bluez_manager()
