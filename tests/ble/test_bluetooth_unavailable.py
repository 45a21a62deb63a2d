"""No usable Bluetooth on this computer: one clear sentence saying what to do, at once,
instead of a cryptic error retried forever (service mode keeps trying, with the same
sentence as the reason)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from isofeedback.ble.private_bus import PrivateSystemBus
from isofeedback.ble.virtual_bluez import VirtualBluez, release_bleak_bluez_manager
from isofeedback.cli import main
from isofeedback.errors import DeviceError
from isofeedback.profiles.schema import find_profile
from isofeedback.sources.ble import BleSource, DeviceTarget, scan

MYO = find_profile("myo")


@pytest.fixture
async def no_system_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-such-bus")
    try:
        yield
    finally:
        await release_bleak_bluez_manager()


async def _source_error(wait: bool = False) -> str:
    with pytest.raises(DeviceError) as err:
        async with BleSource([DeviceTarget("arm", MYO)], scan_timeout=0.5, wait=wait):
            pass
    return str(err.value)


async def test_no_message_bus(no_system_bus: None) -> None:
    with pytest.raises(DeviceError, match=r"D-Bus\) is not running; start it with"):
        await scan(0.5, [MYO])
    assert "message bus (D-Bus) is not running" in await _source_error()


async def test_no_bluez_service(private_bus: PrivateSystemBus) -> None:
    with pytest.raises(DeviceError, match=r"Bluetooth service \(BlueZ\) is not running"):
        await scan(0.5, [MYO])
    assert "sudo systemctl start bluetooth" in await _source_error()


async def test_bluetooth_switched_off(private_bus: PrivateSystemBus) -> None:
    async with VirtualBluez(private_bus.address, powered=False):
        with pytest.raises(DeviceError, match="Bluetooth is switched off: turn it on"):
            await scan(0.5, [MYO])
        assert "switched off" in await _source_error()
        # service mode: not an error, the source keeps trying and says why
        source = BleSource([DeviceTarget("arm", MYO)], scan_timeout=0.3, wait=True)
        entering = asyncio.create_task(source.__aenter__())
        await asyncio.sleep(1.5)
        assert not entering.done()
        assert source.stats["arm"].last_error.startswith("Bluetooth is switched off")
        assert source.stats["arm"].connect_failures >= 2
        entering.cancel()
        with pytest.raises(asyncio.CancelledError):
            await entering


def test_scan_command_says_it_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-such-bus")
    assert main(["scan", "--timeout", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("isofeedback: error: Bluetooth is not available")
    assert err.count("\n") == 1 and "Traceback" not in err
