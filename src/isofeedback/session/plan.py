"""What a session is made of, as data: the one thing every command builds.

``demo``, ``run`` (and the patient's page, the gateway service) differ only in their
source and a few options; they describe the session as a :class:`SessionPlan` and hand it
to :func:`isofeedback.session.open_session`, which wires it and owns the one stop path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from isofeedback.coach.calibration import Calibration
from isofeedback.coach.protocol import ExerciseProtocol
from isofeedback.session.lsl import LslOptions
from isofeedback.sinks.mqtt import BrokerSettings
from isofeedback.sources.base import PacketSource, SourceStatus

__all__ = ["RecordingPlan", "SessionPlan", "SourceContext", "SourceOpener", "StorePlan"]


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What a source needs from the session when it is opened: the stored calibration,
    where to report device status, and the protocol this session runs (the plan's, with
    the hold the progression rule chose; a simulated patient follows its timing)."""

    calibration: Calibration | None
    on_status: Callable[[SourceStatus], None]
    protocol: ExerciseProtocol | None = None


#: Opens the session's packet source (BLE connects here; a simulation builds its script).
SourceOpener = Callable[[SourceContext], contextlib.AbstractAsyncContextManager[PacketSource]]


@dataclass(frozen=True, slots=True)
class RecordingPlan:
    """Record the session into ``folder`` (``<session id>.isorec``)."""

    folder: Path
    source: str = "ble"
    simulated: bool = False
    extra_meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StorePlan:
    """Keep the patient's calibration and session history in ``folder``; the calibration
    belongs to the EMG sensor (``profile`` id and ``device`` address or name)."""

    folder: Path
    profile: str
    device: str


@dataclass(frozen=True)
class SessionPlan:
    """One session: where the packets come from and where everything goes.

    ``broker`` None with ``broker_explicit`` False: a local broker if one runs, else the
    built-in one (``listen`` puts that on an address). ``view``: the live panel, or one
    plain line per phase and cue (logs, screen readers). ``keyboard``: space pauses, q
    stops, p reports pain (when standard input is a terminal). ``wait``: service mode, where
    a sensor or broker that is not there yet is waited for instead of failing fast."""

    patient: str
    protocol: ExerciseProtocol
    open_source: SourceOpener
    console: Console
    title: str
    source_kind: str = "ble"
    broker: BrokerSettings | None = None
    broker_explicit: bool = False
    listen: tuple[str, int] | None = None
    # owner-only file with the built-in broker's passwords when ``listen`` is not loopback
    listen_password_file: str | None = None
    recording: RecordingPlan | None = None
    store: StorePlan | None = None
    lsl: LslOptions | None = None
    view: Literal["live", "plain"] = "live"
    keyboard: bool = False
    wait: bool = False  # service mode: wait for devices and broker instead of failing fast
    # serve the patient's page (and MQTT over WebSockets for it) on (address, port)
    web: tuple[str, int] | None = None
    speak: bool = False  # say every cue on this machine (espeak-ng), for no screen at all
    # says where the live feed is: (console, broker settings, description, topic filter)
    intro: Callable[[Console, BrokerSettings, str, str], None] | None = None
