"""Decoder → signal chains → detectors → coach, pure and synchronous.

The pipeline is fed packets (from BLE, a recording or the simulated patient: it cannot tell
them apart) and returns, in order, the events and feedback they caused. It does no I/O and
reads no clock, which is what makes replay exact and the whole core testable.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from isofeedback.chunk_order import ChunkOrder, IntArray
from isofeedback.coach.calibration import Calibration
from isofeedback.coach.machine import Coach
from isofeedback.coach.phases import Phase
from isofeedback.coach.protocol import ExerciseProtocol
from isofeedback.coach.ticks import TickRun
from isofeedback.config import PipelineConfig
from isofeedback.control import Control
from isofeedback.detectors.factory import OnsetDetector, build_emg_detection
from isofeedback.detectors.movement import MovementDetector
from isofeedback.detectors.onset_release import OnsetReleaseDetector
from isofeedback.detectors.signal_quality import SignalQualityDetector, notched_hum_note
from isofeedback.dsp.emg_chain import CHANNELS as EMG_CHANNELS
from isofeedback.dsp.emg_chain import EmgChain, heartbeat_note
from isofeedback.dsp.exact import norm3, row_norms
from isofeedback.dsp.imu_chain import ImuChain
from isofeedback.dsp.tilt import TiltTracker, tilt_between, tilts_between
from isofeedback.errors import PacketError
from isofeedback.profiles.decoder import Decoder, StreamRun
from isofeedback.profiles.schema import Profile
from isofeedback.types import (
    Chunk,
    Event,
    EventType,
    Feedback,
    FloatArray,
    Packet,
    PacketColumns,
)

__all__ = ["SIGNAL_LOST_S", "DetectionOnly", "Output", "Pipeline", "PipelineStats",
           "activity_above_rest", "first_device_with"]

Output = Event | Feedback

# what a chunk is to a bulk pass (Pipeline._role_of)
_IGNORED, _EMG, _GYRO, _ACCEL = range(4)

SIGNAL_LOST_S = 1.0  # no EMG for this long: the coach pauses


def session_config(config: PipelineConfig | None,
                   protocol: ExerciseProtocol | None) -> PipelineConfig:
    """The settings a pipeline runs with: ``config``, else the defaults with the
    protocol's rest calibration and movement limit."""
    if config is not None:
        return config
    if protocol is None:
        return PipelineConfig()
    return PipelineConfig().updated(
        {"detector.rest.calibration_s": protocol.rest_calibration_s,
         "movement.max_deg": protocol.movement_max_deg}, "protocol")


@dataclass
class PipelineStats:
    packets: int = 0
    bad_packets: int = 0
    last_error: str = ""
    gaps: int = 0  # gaps in the session's EMG (the EMG device's ``emg`` stream)
    lost_s: float = 0.0  # seconds of that EMG lost in them
    by_device: dict[str, int] = field(default_factory=dict)
    #: what the notch the chain chose tells the clinician (notched_hum_note), or ""
    mains_note: str = ""
    #: what the band-pass edge the chain raised for heartbeats tells the clinician, or ""
    band_note: str = ""


def first_device_with(profiles: Mapping[str, Profile], stream: str) -> str | None:
    """The device whose profile first has ``stream``: the pipeline takes EMG from the first
    with ``emg`` and the joint from the first with ``gyro``."""
    return next((d for d, p in profiles.items() if any(s.name == stream for s in p.streams)),
                None)


class _BulkEmg:
    """The EMG packets of a bulk pass (:meth:`Pipeline.feed_many`), packet by packet, in
    parallel lists (an object per packet cost as much as the rest of its bookkeeping):
    what :meth:`Pipeline._tell_coach` needs to tell the coach about each as if it had come
    alone."""

    __slots__ = ("baseline", "level", "n", "onsets", "quality", "t_end")

    def __init__(self, n: int, t_end: list[float], level: list[float]) -> None:
        self.n = n  # samples per packet
        self.t_end = t_end  # session time just after each packet's last sample
        self.level = level  # the envelope at each packet's last sample
        # the onset detector's rest baseline after each packet
        self.baseline: list[float | None] = [None] * len(t_end)
        self.quality: dict[int, list[Event]] = {}  # signal-quality events, by packet
        self.onsets: dict[int, list[Event]] = {}  # the onset detector's events, by packet


class _BulkImu:
    """What the IMU chunks of a bulk pass (:meth:`Pipeline.feed_many`) tell the pipeline,
    computed for the whole window at once, chunk by chunk."""

    def __init__(self, gravity_before: FloatArray | None) -> None:
        self.calibrated: list[bool] = []  # the IMU chain knows its bias after the chunk
        self.rotation: list[tuple[float, float, float]] = []  # at the chunk's last sample
        self.angle: list[float] = []
        self.speed: list[float] = []  # the chunk's highest joint speed
        self.movement: list[list[Event]] = []  # the movement detector's events in the chunk
        # the tilt tracker's gravity after each accel chunk, and whether it is known
        self.gravity = np.zeros((0, 3))
        self.gravity_known: list[bool] = []
        self._before = gravity_before

    def gravity_at(self, a: int) -> FloatArray | None:
        """The tracker's gravity after ``a`` of the window's accel chunks."""
        if a == 0:
            return self._before
        return self.gravity[a - 1] if self.gravity_known[a - 1] else None

    def tilts(self, neutral: tuple[float, float, float]) -> list[float | None]:
        """:func:`tilt_between` the neutral pose and :meth:`gravity_at` each count of
        accel chunks (0 to all), the window's at once (the same bits as one at a time:
        each row's angle is computed on its own)."""
        g = self._before
        out = [None if g is None else tilt_between(np.asarray(neutral), g)]
        if self.gravity_known:
            angles = tilts_between(np.asarray(neutral), self.gravity).tolist()
            out += [a if ok else None
                    for a, ok in zip(angles, self.gravity_known, strict=True)]
        return out


class _Joint:
    """The joint as each EMG tick of a bulk pass had it one by one (:meth:`tick_inputs`: the
    ticks' inputs), and the pipeline's joint state after the packets consumed
    (:meth:`settle`), from the chunks' order (:class:`ChunkOrder`) and the bulk IMU
    results: one by one, a calibrated gyro chunk sets the pose and raises the speed the
    next tick reports (:meth:`Pipeline._joint_at`; the first one fixes the neutral pose if
    none is stored), an accel chunk moves the gravity the tilt is measured to, and a tick
    resets the speed."""

    def __init__(self, pipeline: Pipeline, imu: _BulkImu | None, order: ChunkOrder,
                 emg_at: IntArray, gyro_at: IntArray) -> None:
        self.p = pipeline
        self.imu = imu
        self.gyro_before = order.before(_GYRO, emg_at)  # gyro chunks before each tick
        self.accel_before = order.before(_ACCEL, emg_at)
        count = len(imu.calibrated) if imu is not None else 0
        # calibrated from this chunk on (the IMU chain's calibration only ends)
        self.first = next((k for k, c in enumerate(imu.calibrated) if c), count) if imu else 0
        # the gyro chunk that fixes the neutral pose, if this window does
        self.neutral_at: int | None = None
        self.neutral = pipeline.neutral_gravity
        if self.neutral is None and pipeline.tilt is not None and imu is not None:
            accel = order.before(_ACCEL, gyro_at).tolist()
            for k in range(self.first, count):
                g = imu.gravity_at(accel[k])
                if g is not None:
                    self.neutral_at, self.neutral = k, (float(g[0]), float(g[1]), float(g[2]))
                    break
        self.speeds = np.zeros(0)
        if imu is not None:
            self.speeds = np.asarray(imu.speed, dtype=np.float64).copy()
            self.speeds[: self.first] = -np.inf  # (not calibrated: not told)

    def tick_inputs(self, emg: _BulkEmg) -> TickRun:
        """Every EMG tick's inputs, as :meth:`Pipeline.process_chunk` gives them."""
        p, imu = self.p, self.imu
        count = len(emg.t_end)
        # (before the rest calibration ends there is no baseline: no activity yet)
        calibrating = next((j for j, rest in enumerate(emg.baseline) if rest is not None),
                           count)
        rests = emg.baseline[calibrating:]
        activity = [0.0] * calibrating
        if None in rests:  # (a baseline that went away again: each on its own)
            activity += [0.0 if rest is None else activity_above_rest(level, rest)
                         for level, rest in zip(emg.level[calibrating:], rests, strict=True)]
        else:
            activity += map(activity_above_rest, emg.level[calibrating:],
                            cast("list[float]", rests))
        last = (self.gyro_before - 1).tolist()  # the last gyro chunk before each tick
        rotation: list[tuple[float, float, float] | None]
        if imu is None:
            rotation, angle = [p.rotation] * count, [p.angle_deg] * count
        else:
            first, r0, a0 = self.first, p.rotation, p.angle_deg
            rotation = [imu.rotation[k] if k >= first else r0 for k in last]
            angle = [imu.angle[k] if k >= first else a0 for k in last]
        return TickRun(list(emg.t_end), activity, angle, self._speeds(count), rotation,
                       self._tilts(last), list(emg.baseline))

    def _speeds(self, count: int) -> list[float]:
        """The highest speed of the calibrated gyro chunks since the tick before (the
        pipeline's carried one for the first): ``max`` folded from it, which is numpy's
        ``fmax`` (a NaN never replaces a number)."""
        out = np.zeros(count)
        if count:
            out[0] = self.p.speed_dps
        gb = self.gyro_before
        if count and gb[-1] > 0:
            prev = np.concatenate(([0], gb[:-1]))
            new = gb > prev  # ticks with gyro chunks since the tick before
            out[new] = np.fmax(out[new], np.fmax.reduceat(self.speeds[: gb[-1]], prev[new]))
        return out.tolist()

    def _tilts(self, last: list[int]) -> list[float | None]:
        """The tilt from the neutral pose at each tick (:meth:`Pipeline._tilt_from_neutral`)."""
        p, imu = self.p, self.imu
        count = len(last)
        if p.tilt is None or self.neutral is None:
            return [None] * count
        if imu is None:
            return [p._tilt_from_neutral()] * count
        values = imu.tilts(self.neutral)
        accel = self.accel_before.tolist()
        if self.neutral_at is None:  # known before the window
            return [values[a] for a in accel]
        since = self.neutral_at
        return [values[a] if k >= since else None for a, k in zip(accel, last, strict=True)]

    def settle(self, gyro_taken: int, ticks_told: int) -> None:
        """The pipeline's joint state after the first ``gyro_taken`` gyro chunks and
        ``ticks_told`` ticks: the last calibrated chunk's pose, the speed since the last
        tick, the neutral pose if it was fixed."""
        p, imu = self.p, self.imu
        if imu is None:
            return
        if gyro_taken > self.first:
            k = gyro_taken - 1
            p.rotation, p.angle_deg = imu.rotation[k], imu.angle[k]
        since = int(self.gyro_before[ticks_told - 1]) if ticks_told else 0
        start = 0.0 if ticks_told else p.speed_dps
        if gyro_taken > since:
            p.speed_dps = float(np.fmax(start, np.fmax.reduce(self.speeds[since:gyro_taken])))
        else:
            p.speed_dps = start
        if self.neutral_at is not None and self.neutral_at < gyro_taken:
            p.neutral_gravity = self.neutral
        p._tilt_known = False  # (asked again: the same value, see _tilt_from_neutral)


class DetectionOnly(Coach):
    """Stands in for the coach when no protocol is applied: foreign data is analysed for
    detection only (onsets, releases, movement, signal quality), because a coach would end
    the analysis when its protocol is done and cut the rest of the file. It gives no
    feedback and never finishes, so the whole file is processed. (A :class:`Coach` with the
    default protocol underneath, so code reading a pipeline's coach keeps one type.)"""

    def __init__(self) -> None:
        super().__init__(ExerciseProtocol())
        self.phase = Phase.DETECTING

    @property
    def finished(self) -> bool:
        return False

    def on_event(self, ev: Event) -> list[Feedback]:
        return []

    def tick(self, t: float, activity: float, angle_deg: float, speed_dps: float = 0.0,
             rotation: tuple[float, float, float] | None = None,
             tilt_from_neutral_deg: float | None = None,
             rest_baseline: float | None = None) -> list[Feedback]:
        return []

    def tick_many(self, run: TickRun, until_finished: bool = False) -> tuple[list[Feedback], int]:
        return [], len(run)

    def pause(self, t: float) -> list[Feedback]:
        return []

    def resume(self, t: float) -> list[Feedback]:
        return []

    def command(self, name: str, t: float, value: float | None = None,
                origin: str = "") -> list[Feedback]:
        return []

    def summary(self) -> dict[str, Any]:
        return {"technique": None, "reps_done": 0, "reps_planned": 0, "mean_hold_s": 0.0,
                "violations": [], "complete": True}


class Pipeline:
    """One session's processing. ``profiles`` maps device name → firmware profile; the
    first device with an ``emg`` stream supplies EMG, the first with ``gyro`` the IMU.
    ``protocol`` None: detection only (no coach, see :class:`DetectionOnly`)."""

    def __init__(
        self,
        profiles: Mapping[str, Profile],
        protocol: ExerciseProtocol | None,
        config: PipelineConfig | None = None,
        mvc: float | None = None,
        calibration: Calibration | None = None,
        history: Sequence[Mapping[str, Any]] = (),
        chunk_invariant: bool = False,
    ) -> None:
        self.profiles = dict(profiles)
        # data read from files in chunks of any size (foreign files): every stage decides
        # by sample index and time, never by where a chunk ends, so the outputs are the
        # same to the bit for any chunk size (EmgChain, MovementDetector). Live sessions
        # and their recordings keep the packet order they were made with.
        self.chunk_invariant = chunk_invariant
        self.protocol = protocol
        self.config = session_config(config, protocol)
        self.mvc = mvc
        self.calibration = calibration
        self.history = list(history)
        self._reset()

    def _reset(self) -> None:
        cfg = self.config
        self.stats = PipelineStats()
        self.decoders = {dev: Decoder(p, dev) for dev, p in self.profiles.items()}
        self.emg_device = first_device_with(self.profiles, "emg")
        self.imu_device = first_device_with(self.profiles, "gyro")
        self.emg_chain: EmgChain | None = None
        self.onset: OnsetDetector | None = None
        self.signal_quality: SignalQualityDetector | None = None
        self.coach: Coach = (
            DetectionOnly() if self.protocol is None
            else Coach(self.protocol, self.mvc, self.calibration, self.history,
                       joint_measured=self.imu_device is not None))
        self._build_emg(self.coach.channels)
        self.tilt: TiltTracker | None = None
        self.neutral_gravity: tuple[float, float, float] | None = (
            self.calibration.neutral_gravity if self.calibration is not None else None
        )
        self.imu_chain: ImuChain | None = None
        self.movement: MovementDetector | None = None
        if self.imu_device is not None:
            gspec = self.profiles[self.imu_device].stream("gyro")
            self.imu_chain = ImuChain(gspec.fs, cfg.calibration_s)
            accel = [s for s in self.profiles[self.imu_device].streams if s.name == "accel"]
            if accel:
                self.tilt = TiltTracker(accel[0].fs)
            self.movement = MovementDetector(gspec.fs, cfg.movement.max_deg,
                                             at_sample_time=self.chunk_invariant)
        self.angle_deg = 0.0
        self.rotation = (0.0, 0.0, 0.0)  # rotation vector from the neutral pose, degrees
        self.speed_dps = 0.0  # highest joint speed since the coach's last tick
        self.contracting = False
        self.emg_last_t: float | None = None  # session time just after the last EMG sample
        self.signal_lost = False
        self._onset_n = 0  # samples the onset detector has seen (its block grid is on them)
        self._gyro_n = 0  # samples the movement detector has seen
        self._imu: _BulkImu | None = None  # during a bulk pass: its IMU results
        self._tilt: float | None = None  # _tilt_from_neutral's last answer, while still true
        self._tilt_known = False
        self._tilt_for: tuple[float, float, float] | None = None  # the neutral it was for

    def _build_emg(self, channels: tuple[int, ...]) -> None:
        """The EMG chain and detectors over ``channels`` (the coached muscle's; the config's
        when the protocol names none). Built again when the coach switches muscle (pain:
        reciprocal inhibition on the antagonist), which measures rest again."""
        cfg = self.config
        self.emg_channels = channels
        if self.emg_device is None:
            return
        spec = self.profiles[self.emg_device].stream("emg")
        chosen = tuple(channels) if channels else cfg.chain.channels
        self._onset_n = 0  # a new detector: its block grid starts at its first sample
        self.emg_chain, self.onset = build_emg_detection(
            spec.fs, len(spec.channels),
            dataclasses.replace(cfg, chain=dataclasses.replace(cfg.chain, channels=chosen)),
            chunk_invariant=self.chunk_invariant,
        )
        chain = self.emg_chain
        self.signal_quality = SignalQualityDetector(
            spec.fs, full_scale=cfg.chain.full_scale or None, mains_hz=cfg.chain.mains_hz,
            # the chain choosing its notch measures the hum: the watch says its choice
            # (notches off: nothing chosen, the watch measures and says a hum itself)
            chain_hum=(lambda: chain.hum) if chain.mains_auto and chain.mains_hz > 0 else None,
        )

    def idle(self, t: float) -> list[Output]:
        """Tell the pipeline that session time ``t`` has come with no new packet. Once the
        EMG has been silent for ``SIGNAL_LOST_S`` the coach pauses (at exactly that time
        after the last sample, so a replay, which only sees the gap when data resumes,
        produces the same feedback)."""
        if self.signal_lost or self.emg_last_t is None:
            return []
        if t - self.emg_last_t < SIGNAL_LOST_S:
            return []
        self.signal_lost = True
        return list(self.coach.pause(self.emg_last_t + SIGNAL_LOST_S))

    def sensor_gone_at(self, now: float) -> float | None:
        """The session time at which the silent sensor counts as gone for good (its last
        EMG + the protocol's ``sensor_wait_s``) once ``now`` has reached it, else None (data
        flows, no EMG yet, detection only, or the session is over). The service then stops
        the session with a recorded command (:data:`~isofeedback.coach.machine.SENSOR_GONE`):
        until then the link reconnects by itself and the session resumes."""
        coach = self.coach
        if (not self.signal_lost or self.emg_last_t is None or coach.finished
                or isinstance(coach, DetectionOnly)):
            return None
        at = self.emg_last_t + coach.protocol.sensor_wait_s
        return at if now >= at else None

    def control(self, command: Control) -> list[Output]:
        """Apply one control command (pause, resume, stop, skip_rep, pain, start) at its
        session time. The service records it with the packet count, so a replay calls this
        at the same point and reproduces the session (design contract 7)."""
        return list(self.coach.command(command.command, command.t, command.value,
                                       command.origin))

    def control_at(self, command: Control, now: float) -> list[Output]:
        """:meth:`control` while the session stands at ``now`` (its last packet's arrival,
        or an idle tick's time). A command stamped later than ``now`` is a recorded one
        that the live session applied on an idle tick, right after telling the pipeline
        that time had come (:meth:`idle`): a replay tells it too, so a sensor that fell
        silent more than a second before the command pauses the coach first, as it did
        live. A live command is stamped ``now``: nothing more happens."""
        out = self.idle(command.t) if command.t > now else []
        return out + self.control(command)

    def feed(self, packet: Packet) -> list[Output]:
        """Process one packet; malformed packets are counted and reported, never raised."""
        self.stats.packets += 1
        self.stats.by_device[packet.device] = self.stats.by_device.get(packet.device, 0) + 1
        decoder = self.decoders.get(packet.device)
        if decoder is None:
            self.stats.bad_packets += 1
            self.stats.last_error = f"packet from unknown device {packet.device!r}"
            return []
        try:
            chunks = decoder.decode(packet)
        except PacketError as exc:
            self.stats.bad_packets += 1
            self.stats.last_error = str(exc)
            return []
        out: list[Output] = []
        for chunk in chunks:
            out += self.process_chunk(chunk)
        return out

    def feed_many(self, packets: Sequence[Packet],
                  until_finished: bool = False) -> tuple[list[Output], int]:
        """Process many packets at once with exactly the outputs of :meth:`feed` on each in
        turn; returns them and how many packets were consumed (all, unless
        ``until_finished`` and the coach finished: then up to and including that packet).

        Why it is faster: the EMG samples of all the packets go through the chain and the
        detectors as one chunk (their results do not depend on the chunking, bit for bit),
        so numpy's per-call cost is paid once instead of once per 2-sample packet; the
        coach is still told about every packet, in order, with that packet's envelope and
        events. The onset detector takes the envelope in pieces cut at its blocks' ends,
        where its clock moves, and where its rest calibration ends (its rest statistics are
        of all the calibration's samples at once); another detector is given the packets'
        envelopes one by one. Anything unusual (a gap, a lost signal, an unknown or
        malformed packet) takes the packet-by-packet path, so nothing depends on this
        shortcut but speed."""
        out: list[Output] = []
        i = 0
        if self.coach.channels != self.emg_channels:  # the coach switched muscle (pain → RI)
            self._build_emg(self.coach.channels)
        while i < len(packets) and (self.signal_lost or (
                self.emg_chain is not None and not self.emg_chain.settled)):
            # until the signal is back, or the envelope's first window is full (its
            # chunking matters until then): packet by packet
            out += self.feed(packets[i])
            i += 1
            if until_finished and self.coach.finished:
                return out, i
        if i < len(packets):
            more, used = self._feed_bulk(packets[i:], until_finished)
            out += more
            i += used
        return out, i

    def _feed_bulk(self, window: Sequence[Packet],
                   until_finished: bool) -> tuple[list[Output], int]:
        packets = PacketColumns.of(window)  # (a replay's windows are columns already)
        runs = self._decode_runs(packets)
        if runs is not None:
            groups, by_role, chunks = runs
            if self._can_bulk(by_role, groups):
                return self._bulk(packets, groups, by_role, {}, until_finished)
            return self._each(packets, chunks(), until_finished, {})
        # a loss, a bad packet, several devices: each packet's chunks, then in bulk unless
        # something was lost
        decoded, errors = self._decode_many(packets)
        if not any(c.gap_before for cs in decoded if cs for c in cs):
            roles = [None if cs is None else tuple(self._role(c) for c in cs)
                     for cs in decoded]
            by_role = self._runs_of(decoded, roles)
            by_kind: dict[tuple[int, ...], list[int]] = {}
            for i, kind in enumerate(roles):
                if kind is not None:
                    by_kind.setdefault(kind, []).append(i)
            groups = list(by_kind.items())
            if self._can_bulk(by_role, groups):
                bad = {i: errors.get(i, f"packet from unknown device {packets[i].device!r}")
                       for i, kind in enumerate(roles) if kind is None}
                return self._bulk(packets, groups, by_role, bad, until_finished)
        return self._each(packets, decoded, until_finished, errors)

    def _can_bulk(self, by_role: dict[int, StreamRun],
                  groups: list[tuple[tuple[int, ...], list[int]]]) -> bool:
        """The EMG of a window (without gaps) goes through as one chunk (see
        :meth:`feed_many`), and every chunk the coach hears of has its role's run."""
        emg = by_role.get(_EMG)
        return (emg is not None and len(emg.starts) > 1 and self.onset is not None
                and not self.signal_lost
                and all(r in by_role for kind, _ in groups for r in kind if r != _IGNORED))

    def _decode_runs(self, packets: PacketColumns,
                     ) -> tuple[list[tuple[tuple[int, ...], list[int]]], dict[int, StreamRun],
                                Callable[[], list[list[Chunk]]]] | None:
        """The window decoded as runs (:meth:`Decoder.decode_runs`) when every packet's
        device is known and nothing was lost: each packet kind's roles (:meth:`_role`,
        worked out once per kind) with its packets' indices, the EMG, gyro and accel runs
        by role, and how to make the packets' chunks after all (for the packet-by-packet
        pass). None, with nothing decoded, otherwise."""
        devices = set(packets.devices)
        # one device (one decoder must not commit what another declines), a known one
        if len(devices) != 1 or not devices <= self.decoders.keys():
            return None
        got = self.decoders[devices.pop()].decode_runs(packets)
        if got is None:
            return None
        groups: list[tuple[tuple[int, ...], list[int]]] = []
        by_role: dict[int, StreamRun] = {}
        for kind, runs in got.runs.items():
            kind_roles = tuple(self._role_of(r.device, r.stream) for r in runs)
            for role, run in zip(kind_roles, runs, strict=True):
                if role != _IGNORED:
                    by_role[role] = run
            kind_roles = tuple(r for r in kind_roles if r != _IGNORED)  # (nothing to do)
            groups.append((kind_roles, got.members[kind]))
        return groups, by_role, got.chunks

    def _role(self, c: Chunk) -> int:
        """What one chunk is to a bulk pass (see :meth:`_role_of`)."""
        return self._role_of(c.device, c.stream)

    def _role_of(self, device: str, stream: str) -> int:
        """What a stream's chunks are to a bulk pass: ``_EMG``, ``_GYRO`` and ``_ACCEL``
        (the next of the bulk's EMG, gyro and accel results), else ``_IGNORED``: a chunk
        :meth:`process_chunk` ignores when nothing was lost before it. A packet kind's
        streams are the same in every packet and stream names are unique in a profile,
        so a kind's roles are worked out once."""
        if device == self.emg_device and stream == "emg":
            return _EMG
        if device == self.imu_device and stream == "gyro":
            return _GYRO
        if device == self.imu_device and stream == "accel" and self.tilt is not None:
            return _ACCEL
        return _IGNORED

    @staticmethod
    def _runs_of(decoded: list[list[Chunk] | None], roles: list[tuple[int, ...] | None],
                 ) -> dict[int, StreamRun]:
        """The decoded chunks of each role as one run (chunks of one stream come from one
        packet kind: one size); none for a role whose chunks differ in size."""
        chunks: dict[int, list[Chunk]] = {}
        for cs, kind in zip(decoded, roles, strict=True):
            for c, role in zip(cs or (), kind or (), strict=True):
                if role != _IGNORED:
                    chunks.setdefault(role, []).append(c)
        out = {}
        for role, cs in chunks.items():
            first = cs[0]
            n = first.n
            if all(c.n == n for c in cs):
                out[role] = StreamRun(first.stream, first.fs, first.channels, first.device, n,
                                      np.concatenate([c.data for c in cs]),
                                      [c.start_index for c in cs], [c.t_first for c in cs])
        return out

    def _bulk(self, packets: PacketColumns, groups: list[tuple[tuple[int, ...], list[int]]],
              by_role: dict[int, StreamRun], bad: dict[int, str],
              until_finished: bool) -> tuple[list[Output], int]:
        """The bulk pass: the EMG and IMU of the window at once, then the coach told about
        them in packet order (``bad``: the packets not decoded, with why)."""
        order = ChunkOrder(groups)
        emg_at = order.where(_EMG)
        per_packet = self._emg_bulk(by_role[_EMG])
        arming = self._arming(order.before(_GYRO, emg_at), per_packet)
        self._imu = self._imu_bulk(by_role.get(_GYRO), by_role.get(_ACCEL), arming)
        try:
            return self._tell_coach(packets, order, bad, per_packet, until_finished)
        finally:
            self._imu = None

    @staticmethod
    def _arming(gyro_before: IntArray, per_packet: _BulkEmg) -> list[tuple[int, Event]]:
        """The onsets and releases that arm and disarm the movement detector, each with
        the number of gyro chunks before it in packet order (``gyro_before``: before each
        EMG chunk)."""
        return [(int(gyro_before[j]), ev) for j in sorted(per_packet.onsets)
                for ev in per_packet.onsets[j]
                if ev.type in (EventType.ONSET, EventType.RELEASE)]

    def _tell_coach(self, packets: PacketColumns, order: ChunkOrder, bad: dict[int, str],
                    per_packet: _BulkEmg, until_finished: bool) -> tuple[list[Output], int]:
        """The bulk pass's results told to the coach in packet order, as one by one tells
        them: the EMG chunks' ticks in runs (:meth:`Coach.tick_many`) between the events (the
        EMG chunk's before its tick, the movement detector's at its gyro chunk), each tick
        with the joint and tilt it had one by one (:class:`_Joint`); then the pipeline's
        joint state after the last packet consumed, the packets counted (a packet not
        decoded as bad). ``until_finished``: the packet where the coach finished is the
        last, all of it (its events are outputs even after the coach's end)."""
        out: list[Output] = []
        coach = self.coach
        emg_at = order.where(_EMG)
        gyro_at = order.where(_GYRO)
        joint = _Joint(self, self._imu, order, emg_at, gyro_at)
        run = joint.tick_inputs(per_packet)
        # the events, in packet order: (position, tick they come before, EMG j / gyro k)
        events = [(int(emg_at[j]), j, j, False)
                  for j in sorted({*per_packet.quality, *per_packet.onsets})]
        if self._imu is not None and gyro_at.size:
            ticks_before = order.before(_EMG, gyro_at).tolist()
            events += [(int(gyro_at[k]), ticks_before[k], k, True)
                       for k, evs in enumerate(self._imu.movement) if evs]
            events.sort()
        told = 0  # ticks told
        limit = len(run)  # ticks that may be told (up to the packet the coach finished at)
        end_at = len(order.role)  # chunks that may be taken
        finished_at: int | None = None  # the packet the coach finished at

        def finish(packet: int) -> None:
            nonlocal finished_at, end_at, limit
            finished_at = packet
            end_at = order.end_of_packet(packet)
            limit = int(np.searchsorted(emg_at, end_at))

        def tell(upto: int) -> None:
            nonlocal told
            upto = min(upto, limit)
            if upto <= told:
                return
            more, n = coach.tick_many(run.part(told, upto), until_finished)
            out.extend(more)
            told += n
            self.emg_last_t = run.t[told - 1]
            if finished_at is None and until_finished and coach.finished:
                finish(int(order.packet[emg_at[told - 1]]))

        for at, before, index, gyro in events:
            tell(before)
            if at >= end_at:
                break
            if gyro:
                assert self._imu is not None
                out += self._movement_out(self._imu.movement[index])
            else:
                out += self._emg_events(per_packet, index)
            if finished_at is None and until_finished and coach.finished:
                finish(int(order.packet[at]))
        tell(limit)
        joint.settle(int(np.searchsorted(gyro_at, end_at)), told)
        used = len(packets) if finished_at is None else finished_at + 1
        stats = self.stats
        for i in (i for i in sorted(bad) if i < used):
            stats.bad_packets += 1
            stats.last_error = bad[i]
        stats.packets += used
        counts = stats.by_device
        for device, count in collections.Counter(packets.devices[:used]).items():
            counts[device] = counts.get(device, 0) + count
        return out, used

    def _each(self, packets: Sequence[Packet], decoded: Sequence[list[Chunk] | None],
              until_finished: bool, errors: dict[int, str]) -> tuple[list[Output], int]:
        """The window's decoded packets one by one, every chunk through
        :meth:`process_chunk` (a gap, a lost signal, too little EMG for a bulk pass)."""
        out: list[Output] = []
        for i, packet in enumerate(packets):
            self.stats.packets += 1
            self.stats.by_device[packet.device] = self.stats.by_device.get(packet.device, 0) + 1
            chunks = decoded[i]
            if packet.device not in self.decoders:
                self.stats.bad_packets += 1
                self.stats.last_error = f"packet from unknown device {packet.device!r}"
            elif chunks is None:
                self.stats.bad_packets += 1
                self.stats.last_error = errors[i]
            else:
                for chunk in chunks:
                    out += self.process_chunk(chunk)
            if until_finished and self.coach.finished:
                return out, i + 1
        return out, len(packets)

    def _imu_bulk(self, gyro: StreamRun | None, accel: StreamRun | None,
                  arming: list[tuple[int, Event]]) -> _BulkImu | None:
        """The window's IMU chunks at once: the gyroscope through the IMU chain as one
        chunk (exact under any chunking), each chunk's rotation, angle and speed read off
        it; the accelerometer through the tilt tracker (:meth:`TiltTracker.process_rows`);
        the movement detector over the runs of gyro chunks between the onsets and releases
        that arm and disarm it (``arming``: each with the gyro chunks before it; known:
        the onsets came in bulk), each run but its last chunk as one piece (when that
        cannot move the detector's time base) and the last alone, so an arming finds the
        last chunk where one by one would have left it."""
        chain, movement, device = self.imu_chain, self.movement, self.imu_device
        if chain is None or movement is None or device is None:
            return None
        imu = _BulkImu(self.tilt.gravity if self.tilt is not None else None)
        if self.tilt is not None and accel is not None:
            gravity, known = self.tilt.gravity_rows(accel.data,
                                                    [accel.frames] * len(accel.starts))
            imu.gravity, imu.gravity_known = gravity, known.tolist()
        joint: Chunk | None = None
        count = 0
        if gyro is not None:
            n = gyro.frames
            count = len(gyro.starts)
            ends = n * np.arange(1, count + 1)
            left = chain.calibration_left
            joint = chain.process(Chunk(gyro.stream, gyro.fs, gyro.starts[0], gyro.t_firsts[0],
                                        gyro.data, gyro.channels, gyro.device))
            last = joint.data[ends - 1, :3]
            imu.calibrated = (ends >= left).tolist()
            imu.rotation = [(r[0], r[1], r[2]) for r in last.tolist()]
            imu.angle = row_norms(last).tolist()
            imu.speed = np.maximum.reduceat(joint.data[:, 3], ends - n).tolist()
            imu.movement = [[] for _ in range(count)]
        lo = 0
        for g, ev in [*arming, (count, None)]:
            if joint is not None and gyro is not None:
                self._movement_run(joint, gyro, lo, g, imu.movement)
            lo = g
            if ev is not None and ev.type == EventType.ONSET:
                movement.arm(ev.t_decided)
            elif ev is not None:
                movement.disarm()
        return imu

    def _movement_run(self, joint: Chunk, gyro: StreamRun, lo: int, hi: int,
                      events: list[list[Event]]) -> None:
        """The movement detector over the joint chunks of gyro packets ``lo:hi``
        (``joint``: the whole window's), its events filed under the chunk holding their
        sample: in pieces, each as one chunk, cut where one by one would move the
        detector's time base (a chunk whose own start is more than a quarter sample off
        it: the detector's test, replayed chunk after chunk in its arithmetic; the piece
        starting there moves it to the same bits), and the run's last chunk alone, so an
        arming finds the last chunk where one by one would have left it."""
        movement = self.movement
        if movement is None or hi <= lo:
            return
        fs = movement.fs
        n = gyro.frames
        firsts = gyro.t_firsts
        count = hi - lo
        offsets = self._gyro_n + n * np.arange(count)  # each chunk's first sample
        own = np.asarray(firsts[lo:hi]) - offsets / fs  # each chunk's own time base
        tol = 0.25 / fs
        base = movement.time_base
        bases: dict[int, float] = {}  # the chunks that move it, and where to
        i = 0
        while i < count:
            if base is None:
                far_at = i
            else:
                far = np.flatnonzero(np.abs(own[i:] - base) > tol)
                if not far.size:
                    break
                far_at = i + int(far[0])
            base = bases[far_at] = float(own[far_at])
            i = far_at + 1
        cuts = sorted({0, *bases, count - 1, count})
        base = movement.time_base
        for p, q in itertools.pairwise(cuts):
            base = bases.get(p, base)
            k = lo + p
            piece = Chunk.trusted(joint.stream, gyro.fs, gyro.starts[k], firsts[k],
                                  joint.data[p * n + lo * n : q * n + lo * n],
                                  joint.channels, gyro.device)
            found = movement.process(piece)
            if q - p == 1:
                events[k] += found
            else:
                assert base is not None
                starts = base + offsets[p:q] / fs  # the detector's sample times
                for ev in found:
                    m = int(np.searchsorted(starts, ev.t, side="right")) - 1
                    events[k + max(m, 0)].append(ev)
            self._gyro_n += piece.n

    def _decode_many(self, packets: Sequence[Packet],
                     ) -> tuple[list[list[Chunk] | None], dict[int, str]]:
        """Each packet's chunks (None: unknown device or malformed, with the error by packet
        index), each device's packets decoded at once when they are plain
        (:meth:`Decoder.decode_many`), else one by one."""
        decoded: list[list[Chunk] | None] = [None] * len(packets)
        errors: dict[int, str] = {}
        by_device: dict[str, list[int]] = {}
        for i, packet in enumerate(packets):
            by_device.setdefault(packet.device, []).append(i)
        for device, members in by_device.items():
            decoder = self.decoders.get(device)
            if decoder is None:
                continue
            many = decoder.decode_many([packets[i] for i in members])
            if many is not None:
                for i, chunks in zip(members, many, strict=True):
                    decoded[i] = chunks
                continue
            for i in members:
                try:
                    decoded[i] = decoder.decode(packets[i])
                except PacketError as exc:
                    errors[i] = str(exc)
        return decoded, errors

    def _emg_bulk(self, emg: StreamRun) -> _BulkEmg:
        """The EMG packets through the signal-quality check and the chain as one chunk, and
        the onset detector, when it can be exact, in block-aligned pieces (else packet by
        packet); per packet, what :meth:`_tell_coach` needs to tell the coach as if it had
        come alone. All of it now rather than while telling the coach: nothing the coach
        does reaches the detectors, and the movement detector's arming must be known."""
        assert self.emg_chain is not None and self.onset is not None
        fs = emg.fs
        size = emg.frames
        count = len(emg.starts)
        big = Chunk(emg.stream, fs, emg.starts[0], emg.t_firsts[0], emg.data, emg.channels,
                    emg.device)
        env = self.emg_chain.process(big)  # first: the quality watch says its notch choice
        self._note_band(self.emg_chain)
        watch = self.signal_quality
        seen = watch.samples_seen if watch is not None else 0
        quality = watch.process(big) if watch is not None else []
        out = _BulkEmg(size, (np.asarray(emg.t_firsts) + size / fs).tolist(),
                       env.data[size - 1 :: size, 0].tolist())
        if quality:
            assert watch is not None
            for ev, index in zip(quality, watch.decided, strict=True):
                # the packet it was decided in, and the times that packet gives it
                k = min((index[0] - seen) // size, count - 1)
                out.quality.setdefault(k, []).append(
                    watch.retimed(ev, emg.t_firsts[k], seen + k * size, index))
        if not self._onset_blocks(emg.t_firsts, env, 0, out):
            for j in range(count):
                self._onset_one(emg, j, env, out)
        return out

    def _onset_one(self, emg: StreamRun, k: int, env: Chunk, bulk: _BulkEmg) -> None:
        """The onset detector over EMG packet ``k``'s envelope."""
        assert self.onset is not None
        n = bulk.n
        piece = Chunk(env.stream, env.fs, emg.starts[k], emg.t_firsts[k],
                      env.data[k * n : (k + 1) * n], env.channels, emg.device)
        events = self.onset.process(piece)
        if events:
            bulk.onsets[k] = events
        self._onset_n += n
        bulk.baseline[k] = self.onset.baseline

    def _onset_blocks(self, t_firsts: list[float], env: Chunk, k0: int, bulk: _BulkEmg) -> bool:
        """The onset detector over EMG packets ``k0:`` of ``bulk``, starting at ``t_firsts``
        (their envelope: ``env`` from packet ``k0``'s row) in pieces that end at its block
        boundaries: its rest baseline moves only there (absolute sample indices, see its
        module), so the baseline after a packet is the one after the last boundary the
        packet reached, and its events do not depend on the chunking. The one thing a
        chunk's start decides is the detector's time base (its session time of sample 0),
        which it moves when a chunk's own start is more than a quarter sample off it: the
        packets are replayed against it here, in the detector's arithmetic, and a piece also
        starts at each packet that moves it, with that packet's own start time, so the
        detector moves it there to the same bits (a 2 kHz BLE stream does, ~4 times a
        second; a piece starting elsewhere gets a start on the current line, which moves
        nothing). The same for the fused channel count, which the detector looks at where a
        chunk or block starts. False (nothing done) for another detector."""
        onset = self.onset
        if not isinstance(onset, OnsetReleaseDetector):
            return False
        t0 = getattr(onset, "_t0", None)
        if not isinstance(t0, float) or env.channels != EMG_CHANNELS:
            return False
        fs = env.fs
        n0 = self._onset_n
        size = bulk.n
        row0 = k0 * size
        first_rows = size * np.arange(len(t_firsts))  # each packet's first sample, from row0
        offsets: list[int] = first_rows.tolist()
        n = size * len(t_firsts)
        data = env.data[row0 : row0 + n]
        # the detector restarts its fused evidence where a chunk or block starts on a new
        # channel count (the chain's learnt weights): a piece starts at the packet after
        # each change as well; a packet of one channel's worth only (dof 1) is not looked
        # at, so a change to or from 1 goes one by one
        dof = data[:, 3]
        changed = (np.flatnonzero(dof[1:] != dof[:-1]) + 1).tolist()
        if changed and float(np.minimum.reduce(dof)) <= 1.0:
            return False
        cuts_at = {offsets[j] for j in (bisect.bisect_left(offsets, c) for c in changed)
                   if j < len(offsets)}
        # where one by one would move the time base: the detector's own test, in order
        tol = 0.25 / fs
        anchors: dict[int, float] = {}  # first sample (from row0) -> that packet's start
        moved = np.asarray(t_firsts) - (n0 + first_rows) / fs  # each packet's time base
        i = 0
        while i < len(offsets):  # (each packet that moves it moves it to its own)
            far = np.flatnonzero(np.abs(moved[i:] - t0) > tol)
            if not far.size:
                break
            i += int(far[0])
            t0 = float(moved[i])
            anchors[offsets[i]] = t_firsts[i]
            i += 1
        blk = max(1, int(round(onset.block_s * fs)))
        # while it calibrates its rest: a piece also ends where the calibration does, so
        # the baseline is known after the packet holding its last sample, as one by one
        # (the rest sums are of all the calibration's samples at once, in any chunking)
        calibrated = ({onset.rest.calibration_n - n0} if onset.baseline is None else set())
        cuts = sorted({*range((blk - n0 % blk) % blk or blk, n, blk), *anchors, *cuts_at,
                       *(c for c in calibrated if 0 < c < n), n} - {0})
        initial = onset.baseline
        baselines: list[float | None] = []
        lo = 0
        for hi in cuts:
            start = anchors.get(lo)
            if start is None:  # on the current line: the time base stays where it is
                base = getattr(onset, "_t0", None)
                assert isinstance(base, float)
                start = base + (n0 + lo) / fs
            piece = Chunk(env.stream, fs, env.start_index + row0 + lo, start, data[lo:hi],
                          env.channels, env.device)
            events = onset.process(piece)
            base = getattr(onset, "_t0", None)
            assert isinstance(base, float)
            baselines.append(onset.baseline)
            for ev in events:  # the packet holding the sample it was decided at
                k = int(round((ev.t_decided - base) * fs)) - n0
                j = k0 + max(bisect.bisect_right(offsets, k) - 1, 0)
                bulk.onsets.setdefault(j, []).append(ev)
            lo = hi
        self._onset_n += n
        # after each packet, the baseline of the last piece it reached
        reached = np.searchsorted(np.asarray(cuts), first_rows + size, side="right").tolist()
        bulk.baseline[k0:] = [baselines[j - 1] if j else initial for j in reached]
        return True

    def _emg_events(self, bulk: _BulkEmg, j: int) -> list[Output]:
        """What :meth:`process_chunk` gives for the events of a gap-free EMG chunk (signal
        present) whose signal quality and onsets came in bulk (EMG packet ``j``)."""
        out: list[Output] = []
        for ev in bulk.quality.get(j, ()):
            out.append(ev)
            out += self._on_quality(ev)
        for ev in bulk.onsets.get(j, ()):
            out.append(ev)
            out += self._on_emg_event(ev, arm=self._imu is None)
        return out

    def _note_band(self, chain: EmgChain) -> None:
        """Keep, once, what the chain's raised band edge tells the clinician (its rest
        showed heartbeats at the calibration's end)."""
        if chain.low_switched_from is not None and not self.stats.band_note:
            self.stats.band_note = heartbeat_note(chain)

    def _on_quality(self, ev: Event) -> list[Output]:
        """A signal-quality event told to the coach (and a notched hum noted)."""
        note = notched_hum_note([ev])
        if note is not None:
            self.stats.mains_note = note
        return list(self.coach.on_event(ev))

    def process_chunk(self, chunk: Chunk) -> list[Output]:
        """Route one decoded chunk through its chain, detectors and the coach."""
        out: list[Output] = []
        is_emg = chunk.device == self.emg_device and chunk.stream == "emg"
        if is_emg and self.coach.channels != self.emg_channels:
            self._build_emg(self.coach.channels)
        if (
            chunk.gap_before
            and chunk.device == self.emg_device
            and not self.signal_lost
            and self.emg_last_t is not None
            and chunk.t_first - self.emg_last_t >= SIGNAL_LOST_S
        ):
            # the device was silent and nobody called idle() (a replay): pause where the
            # live session did
            self.signal_lost = True
            out += self.coach.pause(self.emg_last_t + SIGNAL_LOST_S)
        if chunk.gap_before:
            lost = chunk.gap_before / chunk.fs
            if is_emg:
                # the session's signal: one link drop loses it once, not once per stream
                # of the device (a Myo's 1.6 s drop read "4 gaps, 6.35 s of signal lost")
                self.stats.gaps += 1
                self.stats.lost_s += lost
            if chunk.stream in ("emg", "gyro"):
                t = chunk.t_first
                gap = Event(
                    EventType.GAP,
                    t,
                    t,
                    chunk.device,
                    lost,
                    {"stream": chunk.stream, "samples": chunk.gap_before},
                )
                out.append(gap)
                out += self.coach.on_event(gap)
        if is_emg:
            assert self.emg_chain is not None and self.onset is not None
            env = self.emg_chain.process(chunk)  # first: the quality watch says its notch choice
            self._note_band(self.emg_chain)
            if self.signal_quality is not None:  # electrode off / saturation: not a contraction
                for ev in self.signal_quality.process(chunk):
                    out.append(ev)
                    out += self._on_quality(ev)
            if self.signal_lost and chunk.n:
                self.signal_lost = False
                out += self.coach.resume(chunk.t_first)
            self._onset_n += env.n
            for ev in self.onset.process(env):
                out.append(ev)
                out += self._on_emg_event(ev)
            if env.n:
                self.emg_last_t = env.t_end
                activity = 0.0
                if self.onset.baseline is not None:
                    activity = activity_above_rest(float(env.data[-1, 0]), self.onset.baseline)
                out += self.coach.tick(
                    env.t_end, activity, self.angle_deg, self.speed_dps, self.rotation,
                    tilt_from_neutral_deg=self._tilt_from_neutral(),
                    rest_baseline=self.onset.baseline,
                )
                self.speed_dps = 0.0
        elif chunk.device == self.imu_device and chunk.stream == "accel":
            if self.tilt is not None:
                self.tilt.process(chunk)
                self._tilt_known = False
        elif chunk.device == self.imu_device and chunk.stream == "gyro":
            assert self.imu_chain is not None and self.movement is not None
            joint = self.imu_chain.process(chunk)
            if joint.n and self.imu_chain.calibrated:
                # in floats: a live IMU packet is one row (its maximum is its value)
                last = joint.data[-1].tolist()
                self._joint_at((last[0], last[1], last[2]), norm3(last[0], last[1], last[2]),
                               last[3] if joint.n == 1 else float(joint.data[:, 3].max()))
            self._gyro_n += joint.n
            out += self._movement_out(self.movement.process(joint))
        return out

    def _joint_at(self, rotation: tuple[float, float, float], angle: float,
                  speed: float) -> None:
        """The joint's pose after a gyro chunk (the IMU chain calibrated) and its highest
        speed in it; the first such moment fixes the neutral pose if none was stored."""
        if self.neutral_gravity is None and self.tilt is not None:
            # the rest pose of the patient's first session
            g = self.tilt.gravity
            if g is not None:
                self.neutral_gravity = (float(g[0]), float(g[1]), float(g[2]))
        self.rotation = rotation
        self.angle_deg = angle
        self.speed_dps = max(self.speed_dps, speed)

    def _movement_out(self, events: list[Event]) -> list[Output]:
        out: list[Output] = []
        for ev in events:
            out.append(ev)
            out += self.coach.on_event(ev)
        return out

    def _tilt_from_neutral(self) -> float | None:
        """Degrees between the stored neutral pose's gravity and today's (None if unknown)."""
        if self.tilt is None or self.neutral_gravity is None:
            return None
        # the coach asks every EMG packet; accel data comes far less often
        if not self._tilt_known or self._tilt_for != self.neutral_gravity:
            g = self.tilt.gravity
            self._tilt = None if g is None else tilt_between(self.neutral_gravity, g)
            self._tilt_known, self._tilt_for = True, self.neutral_gravity
        return self._tilt

    def _on_emg_event(self, ev: Event, arm: bool = True) -> list[Output]:
        """``arm`` False: a bulk pass armed and disarmed the movement detector already."""
        if ev.type == EventType.ONSET:
            self.contracting = True
            if self.movement is not None and arm:
                self.movement.arm(ev.t_decided)
        elif ev.type == EventType.RELEASE:
            self.contracting = False
            if self.movement is not None and arm:
                self.movement.disarm(ev.t_decided)
        return list(self.coach.on_event(ev))


def activity_above_rest(envelope: float, baseline: float) -> float:
    """Muscle activity in envelope units: the rest noise removed in power, not in
    amplitude, because independent signals add as powers (an RMS envelope of signal plus
    noise is sqrt(s² + n²), not s + n). Subtracting amplitudes under-reads weak
    contractions, by ~15 % at 18 % MVC on a Myo.

    >>> activity_above_rest(5.0, 3.0), activity_above_rest(2.0, 3.0)
    (4.0, 0.0)
    """
    return float(max(envelope * envelope - baseline * baseline, 0.0) ** 0.5)
