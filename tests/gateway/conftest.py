"""Fixtures for the gateway tests: a private system bus (for the virtual BlueZ) and a
service configuration file writer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from isofeedback.ble.private_bus import PrivateSystemBus
from isofeedback.ble.virtual_bluez import release_bleak_bluez_manager


@pytest.fixture
async def private_bus() -> AsyncIterator[PrivateSystemBus]:
    async with PrivateSystemBus() as bus:
        try:
            yield bus
        finally:
            await release_bleak_bluez_manager()


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """``write_config(broker={...}, service={...}, address=..., version=1)`` → a service
    TOML in tmp_path (one myo device, recordings and patient data under tmp_path)."""

    def write(broker: dict[str, Any] | None = None, service: dict[str, Any] | None = None,
              address: str = "auto", version: int | None = 1, patient: str = "p01",
              name: str = "service.toml") -> Path:
        lines = [f"version = {version}"] if version is not None else []
        lines += [f'patient = "{patient}"', 'protocol = "pir"', "",
                  "[[devices]]", 'name = "arm"', f'address = "{address}"', 'profile = "myo"',
                  "", "[recording]", f"folder = {toml_value(str(tmp_path / 'recordings'))}"]
        if broker is not None:
            lines += ["", "[broker]"] + [f"{k} = {toml_value(v)}" for k, v in broker.items()]
        svc = {"data_dir": str(tmp_path / "patients"), **(service or {})}
        lines += ["", "[service]"] + [f"{k} = {toml_value(v)}" for k, v in svc.items()]
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n")
        return path

    return write
