"""Lab Streaming Layer outlets: lab software (LabRecorder) records isofeedback beside others.

Optional (``pip install 'isofeedback[lsl]'``): pylsl is imported only when an outlet is
opened, so the core never needs it. One :class:`LslOutlet` publishes two streams:

``isofeedback <patient> level`` (type ``Biofeedback``, 20 Hz nominal, float32)
    The level the patient is shown, one sample per ``level`` feedback item (the coach
    makes one every 50 ms of EMG; after a signal loss or at the session end there are
    none). Channels: ``intensity`` (EMG envelope above rest, in the protocol's unit:
    ``%ref`` — % of the gentle reference contraction — or ``%MVC``, and ``x_rest`` —
    multiples of the rest noise — while no reference or MVC is known: the markers say
    which, see ``level_unit`` below), ``angle`` (joint rotation from the neutral pose, degrees; only
    when a device has a gyroscope), ``in_band`` (1 when the intensity is inside the target
    band, else 0) and ``rep`` (repetition number). The raw EMG is in the recording.

``isofeedback <patient> markers`` (type ``Markers``, irregular rate, one string channel)
    Every other output in session order, one JSON document per marker: events (onset,
    release, movement, gap …), phases, cues, repetitions, the summary — the same documents
    as the MQTT payloads (``docs/mqtt.md``: ``kind``, ``patient``, ``session``, ``t`` in
    session seconds, ``wall``, ``seq`` …). A ``level_unit`` marker
    (``{"kind": "level_unit", "unit": …, "t": …}``) comes before the first level sample
    and whenever the intensity unit changes (e.g. once the reference or MVC is measured).

Stream names and ``source_id`` (``isofeedback/<patient>/<session>/level|markers``) carry
the pseudonymous patient and the session id; the stream info's ``desc`` holds the channel
labels, units and types, the target band and the time origin.

Timestamps: a sample's LSL timestamp is ``t0 + t``, where ``t`` is its session time (for
an event ``t_decided``, when the detector knew it: markers stay in order; the back-dated
``t_event`` is in the JSON) and ``t0`` is the LSL clock (``pylsl.local_clock()``) at
session time 0, fixed once by :meth:`LslOutlet.anchor`: a live source tells its session
time, so ``t0 = local_clock() − source.now()``; a simulated or replayed session starts its
time when it starts, so ``t0 = local_clock()`` just before it. Every marker carries its
session time ``t``, so a consumer gets ``t0`` as any marker's timestamp minus its ``t``.
At a speed other than real time session time runs faster than the LSL clock: the two
streams stay consistent with each other but not with other devices' streams.

``submit`` never blocks (pushing a sample only copies it into liblsl's send buffer) and
never raises into the session: a failing push is counted and logged. Samples not yet sent
when an outlet is destroyed are lost, so ``close`` waits ``linger_s`` while a consumer is
connected (:meth:`aclose` waits without blocking the event loop).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from isofeedback import __version__
from isofeedback.coach.machine import LEVEL_PERIOD_S
from isofeedback.coach.protocol import ExerciseProtocol
from isofeedback.errors import ConfigError
from isofeedback.pipeline import first_device_with
from isofeedback.profiles.schema import Profile
from isofeedback.sinks.messages import Serializer
from isofeedback.types import Event, Feedback

__all__ = ["LEVEL_RATE_HZ", "LslOutlet", "LslStats", "has_joint_angle", "import_pylsl"]

log = logging.getLogger(__name__)

LEVEL_RATE_HZ = 1.0 / LEVEL_PERIOD_S  # the coach's level messages: 20 per second

INSTALL_HINT = "pip install 'isofeedback[lsl]'"


def import_pylsl() -> Any:
    """pylsl, or a :class:`ConfigError` saying how to install it (one line for the CLI)."""
    try:
        import pylsl
    except ImportError:
        raise ConfigError(f"--lsl needs pylsl, which is not installed: {INSTALL_HINT}") from None
    except (RuntimeError, OSError) as exc:  # pylsl present but its liblsl is not loadable
        reason = " ".join(str(exc).split())
        raise ConfigError(f"--lsl: pylsl cannot load liblsl ({reason}); reinstall it with "
                          f"{INSTALL_HINT}") from None
    return pylsl


def has_joint_angle(profiles: Mapping[str, Profile]) -> bool:
    """Whether the pipeline will measure a joint angle (a device with a ``gyro`` stream)."""
    return first_device_with(profiles, "gyro") is not None


@dataclass
class LslStats:
    levels: int = 0
    markers: int = 0
    failed: int = 0


class LslOutlet:
    """The level and marker outlets of one session (see the module docstring).

    Use as ``with LslOutlet(...) as lsl:``; call :meth:`anchor` just before the session
    starts, then give it to ``run_session`` as a sink.
    """

    def __init__(
        self,
        patient: str,
        session_id: str,
        protocol: ExerciseProtocol,
        *,
        angle: bool,
        wall_start: float | None = None,
        linger_s: float = 1.0,
    ) -> None:
        self.patient = patient
        self.session_id = session_id
        self.protocol = protocol
        self.angle = angle
        self.linger_s = linger_s
        self.serializer = Serializer(patient, session_id,
                                     time.time() if wall_start is None else wall_start)
        self.stats = LslStats()
        self.t0: float | None = None
        self._unit: str | None = None
        self._lsl = import_pylsl()
        base = f"isofeedback/{patient}/{session_id}"
        self.level_source_id = f"{base}/level"
        self.marker_source_id = f"{base}/markers"
        self.level_name = f"isofeedback {patient} level"
        self.marker_name = f"isofeedback {patient} markers"
        self._level_outlet: Any = self._lsl.StreamOutlet(self._level_info())
        self._marker_outlet: Any = self._lsl.StreamOutlet(self._marker_info())

    # -- stream descriptions ---------------------------------------------------------------
    @property
    def channels(self) -> list[tuple[str, str, str]]:
        """(label, unit, type) of the level stream's channels, in order."""
        chans = [("intensity", self.protocol.intensity_unit, "EMG")]
        if self.angle:
            chans.append(("angle", "degrees", "Angle"))
        chans += [("in_band", "boolean", "Flag"), ("rep", "count", "Count")]
        return chans

    def _common_desc(self, info: Any) -> None:
        desc = info.desc()
        acq = desc.append_child("acquisition")
        acq.append_child_value("manufacturer", "isofeedback")
        acq.append_child_value("model", f"isofeedback {__version__}")
        session = desc.append_child("session")
        session.append_child_value("patient", self.patient)
        session.append_child_value("session", self.session_id)
        session.append_child_value("protocol", self.protocol.technique)
        session.append_child_value(
            "time", "LSL timestamp = t0 + session time (s); t0 = LSL clock at session "
            "time 0 = any marker's timestamp minus its t")

    def _level_info(self) -> Any:
        lsl = self._lsl
        chans = self.channels
        info = lsl.StreamInfo(self.level_name, "Biofeedback", len(chans), LEVEL_RATE_HZ,
                              lsl.cf_float32, self.level_source_id)
        self._common_desc(info)
        desc = info.desc()
        node = desc.append_child("channels")
        for label, unit, kind in chans:
            ch = node.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", unit)
            ch.append_child_value("type", kind)
        band = desc.append_child("target_band")
        band.append_child_value("low", f"{self.protocol.intensity_low:g}")
        band.append_child_value("high", f"{self.protocol.intensity_high:g}")
        band.append_child_value("unit", self.protocol.intensity_unit)
        desc.append_child_value(
            "note", "intensity is the EMG envelope above rest as shown to the patient; its "
            "unit is x_rest (multiples of the rest noise) while no MVC is known: see the "
            "level_unit markers")
        return info

    def _marker_info(self) -> Any:
        lsl = self._lsl
        info = lsl.StreamInfo(self.marker_name, "Markers", 1, lsl.IRREGULAR_RATE,
                              lsl.cf_string, self.marker_source_id)
        self._common_desc(info)
        ch = info.desc().append_child("channels").append_child("channel")
        ch.append_child_value("label", "marker")
        ch.append_child_value("unit", "json")
        ch.append_child_value("type", "Marker")
        return info

    # -- lifecycle -------------------------------------------------------------------------
    def anchor(self, session_now: float = 0.0) -> float:
        """Fix ``t0``, the LSL time of session time 0, given the session time now (0 for a
        session that is about to start); returns it. Without a call, the first output
        anchors at session time 0."""
        self.t0 = float(self._lsl.local_clock()) - session_now
        return self.t0

    @property
    def has_consumers(self) -> bool:
        return bool(self._level_outlet.have_consumers()
                    and self._marker_outlet.have_consumers())

    async def wait_for_consumers(self, timeout: float) -> bool:
        """Wait (without blocking the event loop) until both streams have a consumer, e.g.
        LabRecorder recording them; False if ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        while not self.has_consumers:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def __enter__(self) -> LslOutlet:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _lingering(self) -> bool:
        return self.linger_s > 0 and self._level_outlet is not None and bool(
            self._level_outlet.have_consumers() or self._marker_outlet.have_consumers())

    async def aclose(self) -> None:
        """:meth:`close` without blocking the event loop while lingering."""
        if self._lingering():
            await asyncio.sleep(self.linger_s)
        self.close(linger=False)

    def close(self, linger: bool = True) -> None:
        """Destroy the outlets, first giving connected consumers ``linger_s`` to receive the
        last samples (liblsl drops what is unsent when an outlet goes away)."""
        if self._level_outlet is None:
            return
        if linger and self._lingering():
            time.sleep(self.linger_s)
        self._level_outlet = self._marker_outlet = None

    # -- the sink --------------------------------------------------------------------------
    def submit(self, item: Event | Feedback) -> None:
        """Push one output: a level sample or a marker. Never blocks, never raises."""
        if self._level_outlet is None:
            return
        if self.t0 is None:
            self.anchor()
        try:
            if isinstance(item, Feedback) and item.kind == "level":
                self._push_level(item)
            else:
                doc = self.serializer.message(item).payload.decode()
                t = item.t_decided if isinstance(item, Event) else item.t
                self._push_marker(doc, t)
        except Exception as exc:  # an LSL problem must not end the session
            self.stats.failed += 1
            log.warning("LSL sample not sent: %s", exc)

    def _push_level(self, item: Feedback) -> None:
        p = item.payload
        unit = str(p.get("unit", self.protocol.intensity_unit))
        if unit != self._unit:
            self._unit = unit
            doc = self.serializer.envelope("level_unit", item.t, {"unit": unit})
            self._push_marker(self.serializer.encode(doc).decode(), item.t)
        sample = [float(p.get("intensity", 0.0))]
        if self.angle:
            sample.append(float(p.get("angle_deg", 0.0)))
        sample += [1.0 if p.get("in_band") else 0.0, float(p.get("rep", 0))]
        assert self.t0 is not None
        self._level_outlet.push_sample(sample, self.t0 + item.t)
        self.stats.levels += 1

    def _push_marker(self, doc: str, t: float) -> None:
        assert self.t0 is not None
        self._marker_outlet.push_sample([doc], self.t0 + t)
        self.stats.markers += 1
