"""The systemd unit and default configuration the package ships, filled in for this computer.

Templates live in ``isofeedback/data/deploy`` (package data, so an upgrade brings the new
unit; ``service install`` rewrites the unit but never an existing config file). The system
unit runs as a transient user (``DynamicUser``) in the ``bluetooth`` group with its data in
``/var/lib/isofeedback`` (``StateDirectory``, mode 0700); the ``--user`` unit runs as the
user who installed it, with XDG folders.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from isofeedback.gateway.config import ServicePaths

__all__ = ["UNIT_NAME", "InstallPlan", "exec_start", "plan_install", "template"]

UNIT_NAME = "isofeedback.service"

_SYSTEM_IDENTITY = """\
# a transient user made at each start, in the group BlueZ lets use Bluetooth
DynamicUser=yes
SupplementaryGroups=bluetooth
# /var/lib/isofeedback, owner-only; kept across upgrades and restarts
StateDirectory=isofeedback
StateDirectoryMode=0700
ConfigurationDirectory=isofeedback
ConfigurationDirectoryMode=0755
# a crash report (traceback, owner-only) goes here, not to the read-only home
Environment=XDG_STATE_HOME=%S/isofeedback/state
# /var/cache/isofeedback: the filter designs, so a start does not import scipy.signal
CacheDirectory=isofeedback
Environment=XDG_CACHE_HOME=%C/isofeedback"""

_SYSTEM_HARDENING = """\
PrivateDevices=yes
ProtectClock=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
CapabilityBoundingSet="""

_USER_HARDENING = """\
# (a user service cannot use systemd's other sandboxing options without user namespaces;
# it runs with this user's rights, its data owner-only in its XDG folders)"""


def template(name: str) -> str:
    """A shipped deploy template's text."""
    return resources.files("isofeedback").joinpath("data", "deploy", name).read_text("utf-8")


def _quote(arg: str) -> str:
    """One ExecStart argument (systemd's quoting: double quotes, backslash escapes)."""
    if arg and not any(c in arg for c in ' \t"\'\\$%;'):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") \
        .replace("$", "$$") + '"'


def exec_start(config: Path, python: str | None = None) -> str:
    """The command the unit runs: this Python (so a virtualenv install works) and config."""
    args = [python or sys.executable, "-m", "isofeedback", "service", "run", str(config)]
    return " ".join(_quote(a) for a in args)


@dataclass(frozen=True, slots=True)
class InstallPlan:
    """What ``service install`` writes: path → text (the config only when absent)."""

    unit_path: Path
    unit: str
    config_path: Path
    config: str
    env_file: Path
    user: bool


def plan_install(paths: ServicePaths, user: bool, python: str | None = None) -> InstallPlan:
    unit = template("isofeedback.service").format(
        exec_start=exec_start(paths.config, python),
        env_file=paths.env_file,
        identity=("" if user else _SYSTEM_IDENTITY),
        system_hardening=_USER_HARDENING if user else _SYSTEM_HARDENING,
        wanted_by="default.target" if user else "multi-user.target",
    )
    config = template("service.toml").format(
        env_file=paths.env_file, recordings=paths.recordings, patients=paths.patients,
        config=paths.config)
    return InstallPlan(paths.unit_dir / UNIT_NAME, unit, paths.config, config,
                       paths.env_file, user)
