"""``isofeedback service``: run as the home gateway's always-on service, and install it.

``service run CONFIG``: what the systemd unit starts. Session after session: wait for the
wearable (as ``run --wait``), coach and record the session, then wait for the next one.
The output is the log (one line per event; ``--log-format json``); SIGTERM (``systemctl
stop``) ends the session in progress through the session's one stop path (recording
closed with its summary, history stored, summary and offline published) and exits 0.
Exit codes: 78 when the configuration is wrong (the unit does not restart for it), 75 for
a problem a restart may fix (e.g. the built-in broker's port taken), 0 on a clean stop.
A configured broker that is down is waited for (the publisher keeps trying and buffers),
and a wearable that is not there is scanned for, without a restart.

``service homeassistant CONFIG [--remove]``: publish (or remove) the Home Assistant MQTT
discovery configs (:mod:`isofeedback.sinks.homeassistant`); ``service run`` publishes them
at start when ``[service] home_assistant = true`` or ``--home-assistant``.

``service install [--user]``: write the systemd unit and, if there is none yet, a default
configuration; print the next steps. ``--dry-run`` prints what it would write.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from isofeedback.errors import ConfigError, IsofeedbackError
from isofeedback.gateway.config import (
    ServiceConfig,
    load_service_config,
    service_paths,
    web_token,
)
from isofeedback.gateway.logs import FORMATS, ConsoleLog, setup_logging
from isofeedback.gateway.systemd import UNIT_NAME, InstallPlan, plan_install

__all__ = ["EXIT_CONFIG", "EXIT_TEMPFAIL", "register", "run_homeassistant", "run_install",
           "run_service"]

log = logging.getLogger("isofeedback.service")

EXIT_CONFIG = 78  # sysexits EX_CONFIG: RestartPreventExitStatus in the unit
EXIT_TEMPFAIL = 75  # EX_TEMPFAIL: systemd restarts after RestartSec


def register(sub: Any) -> None:
    p = sub.add_parser(
        "service",
        help="run as the home gateway's service, or install it (systemd)",
        description="The always-on home gateway: 'service run CONFIG' serves session after "
        "session (what the systemd unit starts); 'service install' writes the unit.",
    )
    ssub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = ssub.add_parser("run", help="serve sessions until stopped (SIGTERM ends cleanly)")
    r.add_argument("config", type=Path, help="the service configuration file (TOML)")
    r.add_argument("--log-format", choices=FORMATS,
                   help="text (default; journal-friendly) or json, overriding the config")
    r.add_argument("--once", action="store_true", help="exit after one session")
    r.add_argument("--home-assistant", action="store_true",
                   help="publish Home Assistant MQTT discovery configs (as "
                   "[service] home_assistant = true)")
    r.set_defaults(run=run_service)
    w = ssub.add_parser("page", help="print the address and QR code of the patient's page "
                        "([service] web), to open on the patient's phone or tablet")
    w.add_argument("config", type=Path, help="the service configuration file (TOML)")
    w.set_defaults(run=run_page)
    h = ssub.add_parser("homeassistant",
                        help="publish (or --remove) the Home Assistant discovery configs")
    h.add_argument("config", type=Path, help="the service configuration file (TOML)")
    h.add_argument("--remove", action="store_true",
                   help="remove the patient's entities from Home Assistant again")
    h.set_defaults(run=run_homeassistant)
    i = ssub.add_parser("install", help="write the systemd unit and a default config")
    i.add_argument("--user", action="store_true",
                   help="a user service (~/.config/systemd/user, XDG data folders) instead "
                   "of the system service (/etc/systemd/system, /var/lib/isofeedback)")
    i.add_argument("--dry-run", action="store_true", help="print what would be written")
    i.add_argument("--root", type=Path, default=Path("/"),
                   help="write below this folder instead of / (packaging, tests)")
    i.set_defaults(run=run_install)


# ---- run

def run_service(args: argparse.Namespace) -> int:
    try:
        svc = load_service_config(args.config)
    except ConfigError as exc:
        setup_logging(args.log_format or "text")
        log.error("%s", exc)
        return EXIT_CONFIG
    broker = svc.run.broker
    setup_logging(args.log_format or svc.log_format,
                  secrets=[broker.password] if broker and broker.password else [],
                  level=logging.DEBUG if getattr(args, "verbose", 0) else logging.INFO)
    if svc.version_note:
        log.warning("%s", svc.version_note)
    if args.home_assistant:
        svc = replace(svc, home_assistant=True)
    try:
        return asyncio.run(_serve(svc, once=args.once))
    except ConfigError as exc:
        log.error("%s", exc)
        return EXIT_CONFIG
    except IsofeedbackError as exc:
        log.error("%s; systemd restarts the service shortly", exc)
        return EXIT_TEMPFAIL


def _check_data_dir(data_dir: Path | None) -> None:
    """The patients' folder exists (made if need be) and takes files, checked at start:
    found later, every stored history and every clinician's prescription was lost with
    one INFO line in the journal."""
    if data_dir is None:
        return
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / ".isofeedback-write-check"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"service.data_dir {str(data_dir)!r} cannot hold the patients' "
                          f"files: {exc.strerror or exc}") from None


async def _serve(svc: ServiceConfig, once: bool) -> int:
    """Session after session through the session's one stop path (``open_session``): a
    SIGTERM during a session stops it the normal way (coach stopped, recording closed with
    its summary, history stored, summary and offline published) and ends the service;
    between sessions (connecting to the broker) it ends the service at once."""
    from isofeedback.commands.run import live_plan
    from isofeedback.session import open_session

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    stop_signal: list[str] = []

    def stop(name: str) -> None:  # only between sessions: a session installs its own
        if not stop_signal:
            stop_signal.append(name)
            task.cancel()

    def listen() -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop, sig.name)

    _check_data_dir(svc.data_dir)
    console = Console(file=ConsoleLog(), force_terminal=False, no_color=True,  # type: ignore[arg-type]
                      width=10_000, soft_wrap=True)
    log.info("isofeedback service started: patient %s, config %s", svc.run.patient,
             svc.run.path)
    listen()
    if svc.home_assistant:
        await _home_assistant(svc, remove=False)
    sessions = 0
    pages = contextlib.AsyncExitStack()
    try:
        if svc.web is not None:  # one page for every session: the patient's bookmark
            try:
                web = await pages.enter_async_context(_page(svc))
                log.info("the patient's page is served on %s:%d ('service page' prints its "
                         "address and QR code)", web.host, web.port)
            except ConfigError as exc:  # the sessions still run, with their spoken cues
                log.error("no patient's page: %s ([service] web in %s)", exc, svc.run.path)
        while True:
            outcome = await open_session(live_plan(svc.run, console, wait=True, view=False,
                                                   record=True, data_dir=svc.data_dir))
            listen()  # the session's stop handlers are gone: ours again
            if outcome.stopped_by.startswith("signal:"):
                log.info("stopped cleanly on %s after %d complete session(s)%s",
                         outcome.stopped_by.removeprefix("signal:"), sessions,
                         " (the one under way was ended and kept)" if outcome.started else "")
                return 0
            sessions += 1
            log.info("session %d ended (%s, exit %d); waiting for the next one", sessions,
                     outcome.stopped_by or "end of protocol", outcome.exit_code)
            if once:
                return outcome.exit_code
    except asyncio.CancelledError:
        if not stop_signal:
            raise
        log.info("stopped cleanly on %s after %d complete session(s)", stop_signal[0], sessions)
        return 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await pages.aclose()


def _page(svc: ServiceConfig) -> Any:
    """The service's page server (not started): the sessions' broker, the kept token."""
    from isofeedback.sinks.mqtt import BrokerSettings
    from isofeedback.web import WebServer

    assert svc.web is not None
    host, port = svc.web
    # the sessions' broker: the configured one, else the one on this computer
    broker = svc.run.broker or BrokerSettings()
    return WebServer(broker, patient=svc.run.patient, host=host, port=port,
                     token=web_token(svc.data_dir))


def run_page(args: argparse.Namespace) -> int:
    """``service page CONFIG``: the page's address and QR code, for the clinician who sets
    the gateway up (the token is the one the service keeps)."""
    from isofeedback.web import print_url

    svc = load_service_config(args.config)
    if svc.web is None:
        raise ConfigError(f"{args.config}: no page configured: add web = \"0.0.0.0:8080\" to "
                          "its [service] table and restart the service")
    print_url(_page(svc).url)
    return 0


# ---- Home Assistant

async def _home_assistant(svc: ServiceConfig, remove: bool) -> bool:
    """Publish (or remove) the discovery configs on the configured broker (else the local
    one); a failure is logged, never fatal: the session matters more than the dashboard."""
    import aiomqtt

    from isofeedback.sinks import homeassistant as ha
    from isofeedback.sinks.mqtt import BrokerSettings

    names = [d.name for d in svc.run.devices]
    make = ha.removal_messages if remove else ha.discovery_messages
    msgs = make(svc.run.patient, names, svc.discovery_prefix)
    broker = svc.run.broker or BrokerSettings()
    try:
        await asyncio.wait_for(ha.publish(broker, msgs), 15)
    except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
        log.warning("Home Assistant discovery not %s on %s: %s", "removed" if remove
                    else "published", broker.address, exc)
        return False
    log.info("Home Assistant discovery: %d entities %s under %s/ on %s", len(msgs),
             "removed" if remove else "published", svc.discovery_prefix, broker.address)
    return True


def run_homeassistant(args: argparse.Namespace) -> int:
    svc = load_service_config(args.config)
    setup_logging("text", secrets=[svc.run.broker.password]
                  if svc.run.broker and svc.run.broker.password else [], stream=sys.stdout,
                  env={})
    return 0 if asyncio.run(_home_assistant(svc, args.remove)) else 1


# ---- install

def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(mode)
    tmp.replace(path)


def _under(root: Path, path: Path) -> Path:
    return root / path.relative_to("/") if root != Path("/") else path


def _next_steps(plan: InstallPlan) -> list[str]:
    ctl = "systemctl --user" if plan.user else "sudo systemctl"
    unit = UNIT_NAME.removesuffix(".service")
    steps = [
        f"1. edit {plan.config_path} (patient, devices; [broker] if the broker is elsewhere)",
        f"2. the broker password, if any: ISOFEEDBACK_MQTT_PASSWORD=... in {plan.env_file} "
        "(chmod 600)",
        f"3. check the setup: isofeedback doctor {plan.config_path} --env-file "
        f"{plan.env_file}",
        f"4. start it now and at every boot: {ctl} daemon-reload && {ctl} enable --now {unit}",
        f"5. follow it: journalctl {'--user ' if plan.user else ''}-u {unit} -f",
    ]
    if plan.user:
        steps.append("6. to run without anyone logged in: sudo loginctl enable-linger "
                     f"{os.environ.get('USER', '$USER')}")
    return steps


def run_install(args: argparse.Namespace) -> int:
    paths = service_paths(args.user)
    plan = plan_install(paths, args.user)
    root: Path = args.root
    unit_path, config_path = _under(root, plan.unit_path), _under(root, plan.config_path)
    keep_config = config_path.exists()
    if args.dry_run:
        print(f"would write {unit_path}:\n{plan.unit}")
        if keep_config:
            print(f"would keep the existing {config_path}")
        else:
            print(f"would write {config_path}:\n{plan.config}")
        return 0
    if not args.user and root == Path("/") and os.geteuid() != 0:
        raise ConfigError("installing the system service needs root: run it with sudo, or "
                          "use 'isofeedback service install --user' for a user service")
    try:
        _write(unit_path, plan.unit, 0o644)
        if keep_config:
            print(f"kept the existing configuration {config_path}")
        else:
            _write(config_path, plan.config, 0o644 if not args.user else 0o600)
            print(f"wrote {config_path}")
        if args.user:
            for folder in (paths.recordings, paths.patients):
                _under(root, folder).mkdir(mode=0o700, parents=True, exist_ok=True)
            _under(root, paths.data).chmod(0o700)
    except OSError as exc:
        raise ConfigError(f"cannot write the service files: {exc}") from None
    print(f"wrote {unit_path}")
    print("next steps:")
    for step in _next_steps(plan):
        print(f"  {step}")
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return 0
