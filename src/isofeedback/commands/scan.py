"""``isofeedback scan``: nearby BLE devices, their signal strength and matching profile."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from rich.console import Console
from rich.table import Table

from isofeedback.checks import cli_number
from isofeedback.profiles.schema import available_profiles, load_profile
from isofeedback.sources.ble import FoundDevice, scan

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "scan",
        help="list nearby Bluetooth devices and the firmware profile each matches",
        description="Scan for Bluetooth LE devices and show name, address, signal strength "
        "(RSSI, dBm: closer to 0 is stronger) and which firmware profile matches. Use the "
        "address or 'auto' in a run configuration.",
    )
    p.add_argument(
        "--timeout",
        type=cli_number("--timeout", low=0.0, low_open=True, high=3600.0),
        default=5.0, help="seconds to scan (default: 5)")
    p.add_argument("--all", action="store_true", help="also list devices no profile matches")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    profiles = [load_profile(p) for p in available_profiles().values()]
    found = asyncio.run(scan(args.timeout, profiles))
    shown = [f for f in found if args.all or f.profile is not None]
    console = Console()
    if not shown:
        others = f" ({len(found)} other device(s) seen; --all lists them)" if found else ""
        console.print(f"No supported sensor found in {args.timeout:g} s{others}. Switch the "
                      "sensor on, bring it within a metre and scan again.")
        return 1
    console.print(table(shown))
    return 0


def table(found: list[FoundDevice]) -> Table:
    t = Table(title="Bluetooth LE devices")
    for col in ("address", "name", "RSSI dBm", "profile"):
        t.add_column(col)
    for f in found:
        t.add_row(f.address, f.name or "-", str(f.rssi),
                  f"{f.profile.id} ({f.profile.name})" if f.profile else "-")
    return t
