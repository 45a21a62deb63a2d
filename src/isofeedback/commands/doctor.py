"""``isofeedback doctor``: is this computer ready to serve a patient's sensor?

One line per check (status, what was found, what to do), exit status 0 when nothing failed
and 1 otherwise; ``--json`` prints the same as one JSON document for scripts. The checks
themselves live in :mod:`isofeedback.gateway.doctor`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

from isofeedback.checks import choice, cli_number
from isofeedback.coach.calibration_store import default_data_dir
from isofeedback.commands.common import add_data_dir
from isofeedback.commands.run import default_recordings_folder
from isofeedback.errors import ConfigError
from isofeedback.gateway.config import load_service_config, read_env_file
from isofeedback.gateway.doctor import CHECKS, Check, check_secret_file, exit_status, run_checks

__all__ = ["register", "run"]


def _only(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    try:
        return [choice(n, "--only", CHECKS) for n in names]
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: Any) -> None:
    p = sub.add_parser(
        "doctor",
        help="check that this computer can run the service (Bluetooth, broker, disk, clock)",
        description="Check D-Bus, BlueZ, the adapter, permission to scan, the wearable, the "
        "broker (credentials, TLS), the data folders, the clock and the patient's "
        "calibration; one line per check with what to do. Exit status 1 when a check fails.",
    )
    p.add_argument("config", nargs="?", type=Path,
                   help="the service's (or run's) configuration file (TOML)")
    p.add_argument("--json", action="store_true", help="one JSON document instead of lines")
    p.add_argument("--env-file", type=Path, metavar="FILE",
                   help="read the secrets the systemd unit gets (its EnvironmentFile, e.g. "
                   "/etc/isofeedback/secrets.env) before checking the broker")
    p.add_argument("--only", type=_only, metavar="CHECK[,CHECK]",
                   help=f"run only these checks ({', '.join(CHECKS)})")
    p.add_argument("--scan-timeout", type=cli_number("--scan-timeout", low=0.1, high=120.0),
                   default=5.0,
                   help="seconds to look for the wearable (default: 5)")
    p.add_argument("--recordings", type=Path, help="recordings folder (default: the config's)")
    add_data_dir(p, "patients' calibration and history (default: the config's, else "
                    "~/.local/share/isofeedback/patients)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    extra: list[Check] = []
    if args.env_file is not None:
        os.environ.update(read_env_file(args.env_file))
        extra.append(check_secret_file(args.env_file))
    service = load_service_config(args.config) if args.config is not None else None
    cfg = service.run if service else None
    data_dir = Path(args.data_dir) if args.data_dir else (
        (service.data_dir if service else None) or default_data_dir())
    recordings = args.recordings or (cfg.recording_folder if cfg else None) \
        or default_recordings_folder()
    checks = extra + asyncio.run(run_checks(cfg, data_dir, recordings, args.only or CHECKS,
                                            scan_timeout=args.scan_timeout))
    status = exit_status(checks)
    if args.json:
        print(json.dumps({"ok": status == 0, "checks": [c.as_dict() for c in checks]},
                         indent=2))
    else:
        for c in checks:
            print(c.line())
        failed = sum(c.status == "fail" for c in checks)
        print(f"{failed} check(s) failed" if failed else "ready: no check failed")
    return status
