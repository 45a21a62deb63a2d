"""The coach: a pure state machine that turns detections into guidance.

calibrating → [mvc → mvc_contracting → recovering] → waiting → contracting → holding →
releasing → relaxing → stretching → waiting (next rep) … → done. ``paused`` while the
sensor is silent; ``stopped`` when the patient gave up or calibration failed.

It is driven by detector events (``on_event``), by ``tick`` calls carrying the current
muscle activity, joint angle and angular speed, and by ``pause``/``resume`` when the
sensor falls silent and comes back. Time comes only from those calls, so the coach runs
identically live and in replay. Violations are reported the moment they are known.

Intensity numbers: ``activity`` is the EMG envelope above rest in the device's units; the
MVC is the highest 1 s mean activity of the maximal contraction (the usual definition of
an MVC reference), and hold intensity is the mean of the hold; peaks are the highest
0.5 s mean, because a single envelope sample is mostly noise.

Range of motion: the stretch phase measures how far the joint moved from where the stretch
began (the barrier reached in this repetition); ``rom_deg`` adds these up from the first
barrier of the session, so a slow drift of the gyroscope between stretches does not count
as progress. ``rom_gain_deg`` is the gain over the previous repetition. Without a motion sensor
(``joint_measured`` false) all of these are None: unknown, not 0°.
``barrier_from_neutral_deg`` is the tilt at the end of the stretch from the neutral pose
stored at the patient's first calibration (accelerometer): the one figure that compares
across sessions, when the sensor is worn the same way.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from isofeedback.coach.arbiter import CueArbiter
from isofeedback.coach.calibration import Calibration, mvc_problem, rest_problem
from isofeedback.coach.phases import ACTIVE, REP_PHASES, Phase
from isofeedback.coach.progress import progress_report
from isofeedback.coach.protocol import ExerciseProtocol
from isofeedback.coach.relaxation import noise_reading, relaxed_limit
from isofeedback.coach.ticks import Keeping, Now, Pose, Reach, TickRun, TickView, Watch, turn
from isofeedback.errors import ConfigError
from isofeedback.types import Event, EventType, Feedback, FloatArray

__all__ = ["Coach", "RepResult", "window_peak_mean"]

LEVEL_PERIOD_S = 0.05  # live level messages at 20 per second
MVC_WINDOW_S = 1.0
PEAK_WINDOW_S = 0.5
RECOVER_S = 2.0  # rest after the MVC before the first repetition
MVC_ATTEMPTS = 3
CALM_S = 1.0  # a new movement violation needs this long without movement first
LEVEL_ONSET_S = 0.3  # in band this long while waiting starts a rep without an onset event
LEVEL_RELEASE_S = 0.3  # below the band this long after "release now" counts as let go
# a "contraction" released sooner than this after its onset is a false start (a heartbeat
# in trunk-muscle EMG, a twitch), not an attempt released early: the coach goes back to
# waiting without a violation or a repetition, and the waiting timeouts keep running
FALSE_START_S = 0.5
# with breathing cues (the protocol's ``breathing``): in on the contraction, out on the stretch
_BREATHING = {"contract": "contract_breathe", "stretch": "stretch_breathe"}
REFERENCE_MIN_X_REST = 3.0  # a gentle reference contraction must stand this far out of rest
RAMP_S = 0.5  # the reference contraction's ramps, left out of its level
BACK_IN_BAND_S = 0.5  # in the band this long ends a "gentler"/"stronger" warning
RELAXED_CONFIRM_S = 1.0  # at rest this long confirms the relaxation before the stretch


#: the origin of the stop command the service applies when the sensor stayed silent for
#: the protocol's ``sensor_wait_s`` (recorded like any command, so a replay ends there too)
SENSOR_GONE = "sensor gone"


def stop_reason(origin: str) -> str:
    """The summary's words for a stop command from ``origin``: only the patient's own
    (the app, the keyboard) is "stopped by the patient"; a clinician's report must not
    read a service shutdown or the end of the data as the patient giving up.

    >>> for origin in ("mqtt", "signal:SIGTERM", "end of data", "fault: x", SENSOR_GONE):
    ...     print(stop_reason(origin))
    stopped by the patient
    stopped by the service (SIGTERM)
    the data ended
    ended by a fault: x
    the sensor did not come back
    """
    if origin == SENSOR_GONE:
        return "the sensor did not come back"
    if origin in ("", "mqtt", "keyboard"):
        return "stopped by the patient"
    if origin.startswith("signal:"):
        return f"stopped by the service ({origin.partition(':')[2]})"
    if origin == "end of data":
        return "the data ended"
    if origin.startswith("fault: "):
        return f"ended by a fault: {origin.partition(': ')[2]}"
    return f"stopped ({origin})"


def window_peak_mean(times: Sequence[float], values: Sequence[float], window_s: float) -> float:
    """Highest mean of ``values`` over any ``window_s`` span of ``times`` (all of them when
    they span less).

    >>> window_peak_mean([0, 1, 2, 3], [1.0, 5.0, 5.0, 1.0], 1.0)
    5.0
    """
    if not values:
        return 0.0
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t[-1] - t[0] < window_s:
        return float(v.mean())
    csum = np.concatenate([[0.0], np.cumsum(v)])
    ends = np.arange(1, v.size + 1)
    starts = np.searchsorted(t, t - window_s + 1e-9, side="left")
    full = t - t[0] >= window_s - 1e-9
    means = (csum[ends] - csum[starts]) / (ends - starts)
    return float(means[full].max())


_FINISHED = (Phase.DONE, Phase.STOPPED)
_NOT_JUDGING = (Phase.DONE, Phase.STOPPED, Phase.PAUSED)  # a tick changes no phase
_LEVEL_DUE = LEVEL_PERIOD_S - 1e-9  # since the last level message: the next one
_HOLDING, _CONTRACTING = Phase.HOLDING, Phase.CONTRACTING
_STRENGTH_WARNINGS = ("gentler", "stronger")


# what every tick sets from its inputs (the last ones win) or refreshes for its level
# message: left out when judging whether a tick changed the coach's state (Coach.tick_many)
_PER_TICK = ("_tilt", "_angle", "_pose", "_last_level_t", "_band_count", "_rest")


class _Watching:
    """Makes a tick's view a :class:`~isofeedback.coach.ticks.Watch` and keeps it (the
    view's factory for ``Coach._tick``, used by ``Coach.tick_many``)."""

    __slots__ = ("coach", "watch")

    def __init__(self, coach: Coach) -> None:
        self.coach = coach
        self.watch: Watch | None = None

    def __call__(self, t: float, x: float, elapsed: float, speed: float, pose: Pose,
                 activity: float) -> Watch:
        self.watch = Watch(t, x, elapsed, speed, pose, activity, self.coach._phase_t)
        return self.watch


@dataclass
class RepResult:
    rep: int
    onset_t: float
    hold_s: float = 0.0
    mean_intensity: float = 0.0
    peak_intensity: float = 0.0
    in_band: float = 0.0  # fraction of the hold inside the intensity band
    violations: list[str] = field(default_factory=list)
    relax_residual: float | None = None
    # the relaxed limit, when the rest's noise raised it above relaxed_below
    relax_limit: float | None = None
    stretch_deg: float | None = None
    rom_deg: float | None = None
    rom_gain_deg: float | None = None
    barrier_from_neutral_deg: float | None = None  # absolute, comparable across sessions
    max_movement_deg: float = 0.0
    skipped: bool = False  # the patient skipped it (control command): not done
    hold_in_band_s: float = 0.0  # hold time inside the intensity band: what is credited
    credited: bool = False  # held long enough in the band without moving the joint

    def as_dict(self) -> dict[str, Any]:
        def r(v: float | None, n: int = 2) -> float | None:
            return None if v is None else round(v, n)

        return {
            "rep": self.rep,
            "onset_t": round(self.onset_t, 3),
            "hold_s": round(self.hold_s, 3),
            "hold_in_band_s": round(self.hold_in_band_s, 3),
            "credited": self.credited,
            "mean_intensity": round(self.mean_intensity, 2),
            "peak_intensity": round(self.peak_intensity, 2),
            "in_band": round(self.in_band, 3),
            "violations": list(self.violations),
            "relax_residual": r(self.relax_residual),
            # only when raised, so sessions judged by relaxed_below read (and replay) as before
            **({} if self.relax_limit is None else {"relax_limit": r(self.relax_limit)}),
            "stretch_deg": r(self.stretch_deg),
            "rom_deg": r(self.rom_deg),
            "rom_gain_deg": r(self.rom_gain_deg),
            "barrier_from_neutral_deg": r(self.barrier_from_neutral_deg),
            "max_movement_deg": round(self.max_movement_deg, 2),
            # only when it happened, so sessions without it read (and replay) as before
            **({"skipped": True} if self.skipped else {}),
        }


class Coach:
    """Guides one session of ``protocol``.

    ``mvc`` (activity units) forces a known MVC; ``calibration`` is the patient's stored
    calibration, reused when today's resting signal fits it; ``history`` holds earlier
    session summaries of the patient, for the progress message at the end.
    """

    def __init__(
        self,
        protocol: ExerciseProtocol,
        mvc: float | None = None,
        calibration: Calibration | None = None,
        history: Sequence[Mapping[str, Any]] = (),
        joint_measured: bool = True,
    ) -> None:
        has_mvc = mvc is not None or (calibration is not None and calibration.mvc is not None)
        if protocol.intensity_unit == "%MVC" and not has_mvc and not protocol.mvc_capture:
            raise ConfigError(
                "the protocol's intensity is in % MVC but there is no MVC: enable mvc_capture "
                "in the protocol or calibrate an MVC first"
            )
        self.protocol = protocol
        self.initial_mvc = mvc
        self.calibration = calibration
        self.history = list(history)
        # a wearable without a motion sensor: the stretch is not measured, so a rep's range
        # of motion is unknown (None), not 0.0° (which read as "no range gained" on the
        # page, in the report and in the patient's progress)
        self.joint_measured = joint_measured
        self._reset()

    def _reset(self) -> None:
        self.phase = Phase.CALIBRATING
        self.arbiter = CueArbiter()
        self._tick_handlers = self._handlers()
        self.mvc = self.initial_mvc
        self.mvc_source = "given" if self.mvc is not None else ""
        self.noise: float | None = None
        self.baseline: float | None = None
        self.rep = 0
        self.results: list[RepResult] = []
        self.violations: list[dict[str, Any]] = []
        self.interruptions = 0
        self.stop_reason = ""
        self._phase_t = 0.0
        self._waiting_t = 0.0  # when the current wait for a contraction began
        self._wait_t = 0.0
        self._started = False
        self._last_level_t = -np.inf
        self._mvc_t: list[float] = []
        self._mvc_x: list[float] = []
        self._mvc_attempts = 0
        self._current: RepResult | None = None
        self._hold_t: list[float] = []
        self._hold_cue_due = False  # "hold" waits until a false start is ruled out
        self._hold_x: list[float] = []
        # _in_band_fraction's count so far: (the list counted, ticks counted, in the band,
        # the band); the list is replaced, never emptied, when a hold ends
        self._band_count: tuple[list[float] | None, int, int, tuple[float, float]] = (
            None, 0, 0, (0.0, 0.0))
        self._relax_values: list[float] = []
        self._above_since: float | None = None
        self._below_since: float | None = None
        self._in_band_since: float | None = None
        self._confirm_t: float | None = None  # relaxation not confirmed yet: since when
        self._last_strength_cue = -np.inf
        self._pose: Pose = (0.0, 0.0, 0.0)
        self._onset_pose: Pose = (0.0, 0.0, 0.0)
        self._cond_since: float | None = None
        self._wait_saw_low = False
        self._cond_phase_t = -np.inf
        self._last_move_t = -np.inf
        self._reach = Reach((0.0, 0.0, 0.0))  # how far the stretch has reached
        self._tilt: float | None = None  # degrees from the stored neutral pose (accelerometer)
        self._paused_from = Phase.CALIBRATING
        self._angle = 0.0
        self._rest: float | None = None  # the rest baseline now (activity's), when told
        # the residual above which the patient is not relaxed, set at the relax judgement
        self._relax_limit = self.protocol.relaxed_below
        # a pause the patient asked for (control command), distinct from the sensor's:
        # when it began, the phase it froze, and whether the rep under way must be repeated
        self._held_t: float | None = None
        self._held_phase = Phase.CALIBRATING
        self._signal_lost = False
        self.pain: list[dict[str, Any]] = []
        self.skipped = 0
        self.reference: float | None = None  # gentle reference contraction, activity units
        self.reciprocal = self.protocol.reciprocal  # the antagonist contracts (RI)
        self.switched_t: float | None = None  # pain switched PIR/MET to the antagonist
        self.early_end = ""  # why the set ended before its planned repetitions

    # -- helpers -----------------------------------------------------------------------
    @property
    def unit(self) -> str:
        if self.protocol.intensity_unit == "%MVC" and self.mvc is not None:
            return "%MVC"
        if self.protocol.intensity_unit == "%ref" and self.reference is not None:
            return "%ref"
        return "x_rest"

    @property
    def channels(self) -> tuple[int, ...]:
        """EMG channels over the muscle that contracts now (the antagonist's for reciprocal
        inhibition); empty: all. The pipeline measures these."""
        p = self.protocol
        return p.antagonist_channels if self.reciprocal else p.channels

    @property
    def finished(self) -> bool:
        return self.phase in _FINISHED

    @overload
    def intensity(self, activity: float) -> float: ...
    @overload
    def intensity(self, activity: FloatArray) -> FloatArray | float: ...

    def intensity(self, activity: float | FloatArray) -> float | FloatArray:
        """Activity (envelope above rest) in the protocol's unit (of each, for an array:
        :meth:`tick_many`)."""
        if self.protocol.intensity_unit == "%MVC" and self.mvc:
            return 100.0 * activity / self.mvc
        if self.protocol.intensity_unit == "%ref" and self.reference:
            return 100.0 * activity / self.reference
        return activity / self.noise if self.noise else 0.0

    def _enter(self, phase: Phase, t: float) -> list[Feedback]:
        self.phase = phase
        self._wait_saw_low = False
        self._phase_t = t
        return [self._phase_message(phase, t)]

    def _phase_message(self, phase: Phase, t: float, **extra: Any) -> Feedback:
        payload: dict[str, Any] = {
            "phase": phase.value, "rep": self.rep, "reps": self.protocol.reps
        }
        duration = {
            Phase.HOLDING: self.protocol.hold_s,
            Phase.RELAXING: self.protocol.relax_s,
            Phase.STRETCHING: self.protocol.stretch_s,
        }.get(phase)
        if duration is not None:
            payload["duration_s"] = duration
        payload.update(extra)
        return Feedback("phase", t, payload)

    def _cue(self, cue_id: str, t: float, severity: str = "info", **extra: Any) -> Feedback:
        p = self.protocol
        values = {k: format(v, "g") for k, v in extra.items() if isinstance(v, float)}
        text = p.cue(_BREATHING.get(cue_id, cue_id) if p.breathing else cue_id, **values)
        if cue_id == "setup" and p.setup:
            text = p.setup_text()
        return Feedback(
            "cue",
            t,
            {
                "id": cue_id,
                "text": text,
                "severity": severity,
                "rep": self.rep,
                **extra,
            },
        )

    def _progression_cue(self, t: float) -> list[Feedback]:
        """Announce a hold lengthened or shortened by the progression rule (decided when
        the session was built: ``protocol.progression``)."""
        prog = self.protocol.progression
        change = prog.get("change")
        if change not in ("longer", "shorter"):
            return []
        cue_id = "hold_longer" if change == "longer" else "hold_shorter"
        return [self._cue(cue_id, t, hold_s=prog["hold_s"], previous_s=prog["previous_s"])]

    def _violation(self, kind: str, cue_id: str, t: float, **extra: Any) -> list[Feedback]:
        record = {"violation": kind, "t": round(t, 3), "rep": self.rep, **extra}
        self.violations.append(record)
        if self._current is not None and kind not in self._current.violations:
            self._current.violations.append(kind)
        return [self._cue(cue_id, t, "warning", violation=kind, **extra)]

    # -- inputs --------------------------------------------------------------------------
    def on_event(self, ev: Event) -> list[Feedback]:
        """React to a detection."""
        if self.finished or self.phase == Phase.PAUSED or self._held_t is not None:
            return []
        t = ev.t_decided
        out: list[Feedback] = []
        if ev.type == EventType.CALIBRATED and ev.source == "emg":
            if self.phase == Phase.CALIBRATING:
                out = self._calibrated(ev, t)
        elif ev.type == EventType.ONSET:
            out = self._on_onset(self.phase, ev.t, t)
        elif ev.type == EventType.RELEASE:
            out = self._on_release(self.phase, ev.t, t)
        elif ev.type == EventType.MOVEMENT and self.phase in (Phase.CONTRACTING, Phase.HOLDING):
            out = self._moved(t, float(ev.value or 0.0))
        elif ev.type == EventType.MOVEMENT_END:
            self._last_move_t = -np.inf
            out = self.arbiter.clear(["keep_still"], t, self.rep)  # the joint is still again
        return self._settle(out)

    def _on_onset(self, phase: Phase, onset_t: float, t: float) -> list[Feedback]:
        if phase in (Phase.MVC, Phase.REFERENCE):
            self._mvc_t, self._mvc_x = [], []
            self.phase = (Phase.MVC_CONTRACTING if phase == Phase.MVC
                          else Phase.REFERENCE_CONTRACTING)
        elif phase == Phase.WAITING:
            return self._contraction_started(onset_t, t)
        return []

    def _on_release(self, phase: Phase, release_t: float, t: float) -> list[Feedback]:
        if phase == Phase.MVC_CONTRACTING:
            return self._mvc_done(t)
        if phase == Phase.REFERENCE_CONTRACTING:
            return self._reference_done(t)
        if self._false_start(release_t):
            self._current = None
            out = self._enter(Phase.WAITING, t)
            self._phase_t = self._waiting_t  # the no-contraction timeout runs on
            return out
        if phase in (Phase.CONTRACTING, Phase.HOLDING):
            out = self._finish_hold(t)
            out += self._violation("released_early", "released_early", t)
            return out + self._enter(Phase.RELAXING, t)
        if phase == Phase.RELEASING:
            return self._enter(Phase.RELAXING, t)
        return []

    def _settle(self, out: list[Feedback]) -> list[Feedback]:
        """Every output leaves through the cue arbiter (one input = one instant)."""
        return self.arbiter.settle(out, self.rep) if out else out

    def tick(
        self,
        t: float,
        activity: float,
        angle_deg: float,
        speed_dps: float = 0.0,
        rotation: tuple[float, float, float] | None = None,
        tilt_from_neutral_deg: float | None = None,
        rest_baseline: float | None = None,
    ) -> list[Feedback]:
        """Advance to session time ``t`` with the current activity, joint angle (degrees
        from the neutral pose), the highest angular speed since the last tick and, when
        known, the rotation vector from the neutral pose (degrees): distances between poses
        are measured on it, since the angle alone cannot tell directions apart. And when
        known, the rest baseline the activity was measured above (the sensor's noise now:
        :meth:`relaxed_limit`)."""
        return self._tick(t, activity, angle_deg, speed_dps, rotation, tilt_from_neutral_deg,
                          Now, rest_baseline)

    def _tick(self, t: float, activity: float, angle_deg: float, speed_dps: float,
              rotation: Pose | None, tilt_from_neutral_deg: float | None,
              view: Callable[[float, float, float, float, Pose, float], TickView],
              rest_baseline: float | None = None) -> list[Feedback]:
        """:meth:`tick`, its handler seeing the tick through ``view(t, x, elapsed, speed,
        pose, activity)`` (:class:`~isofeedback.coach.ticks.Now` live)."""
        # (called for every EMG packet, 100 to 200 times a second, and most ticks change
        # nothing but the last inputs: the phases are compared with module constants, a
        # pose is the tuple it came as, and nothing is settled when nothing came out)
        if tilt_from_neutral_deg is not None:
            self._tilt = tilt_from_neutral_deg
        self._rest = rest_baseline
        out: list[Feedback] = [] if self._started else self._start(t)
        phase = self.phase
        if phase in _NOT_JUDGING or self._held_t is not None:
            return self._settle(out)
        x = self.intensity(activity)
        self._angle = angle_deg
        self._pose = pose = rotation if rotation is not None else (angle_deg, 0.0, 0.0)
        handler = self._tick_handlers.get(phase)
        if handler is not None:
            out += handler(view(t, x, t - self._phase_t, speed_dps, pose, activity))
        if t - self._last_level_t >= _LEVEL_DUE and self.phase not in _FINISHED:
            self._last_level_t = t
            level = self._level(t, x, angle_deg)
            if not out:  # (the arbiter passes a level message as it is)
                return [level]
            out.append(level)
        return self.arbiter.settle(out, self.rep) if out else out

    def tick_many(self, run: TickRun, until_finished: bool = False) -> tuple[list[Feedback], int]:
        """:meth:`tick` on each of ``run``'s ticks in turn, with the same outputs and the
        same state after; returns the outputs and how many ticks were taken (all, unless
        ``until_finished`` and the coach finished: up to and including that tick).

        Why: a replay tells the coach 100 to 200 ticks a second, and most of them change
        nothing but what the phase keeps (the hold's intensities, the stretch's reach) and
        give a level message every 50 ms. A tick runs for real with a
        :class:`~isofeedback.coach.ticks.Watch` as its handler's view; when it was quiet,
        the ticks after it that its questions cover are applied at once (their kept
        values, their level messages, their last inputs), so each phase's rules stay in
        its handler only (:mod:`isofeedback.coach.ticks` says why that is exact)."""
        n = len(run)
        ts = run.t
        if type(self).tick is not Coach.tick or not all(map(operator.le, ts, ts[1:])):
            # a tick() that does more (a subclass), or times that go back: one by one
            out: list[Feedback] = []
            for k in range(n):
                out += self.tick(ts[k], run.activity[k], run.angle[k], run.speed[k],
                                 run.rotation[k], run.tilt[k], run.rest_at(k))
                if until_finished and self.finished:
                    return out, k + 1
            return out, n
        watching = _Watching(self)
        speeds = np.asarray(run.speed, dtype=np.float64)
        activities = np.asarray(run.activity, dtype=np.float64)
        out = []
        i = 0
        while i < n:
            quiet = self._watched_tick(run, i, watching, out)
            i += 1
            if until_finished and self.finished:
                return out, i
            if quiet is not None and i < n:
                watch, judging = quiet
                end = watch.covers(run, i, self._intensities, speeds, activities)
                if end > i:
                    self._quiet_ticks(run, i, end, watch, judging,
                                      self._intensities(activities[i:end]).tolist(), out)
                    i = end
        return out, n

    def _watched_tick(self, run: TickRun, i: int, watching: _Watching,
                      out: list[Feedback]) -> tuple[Watch, bool] | None:
        """Tick ``i`` of ``run`` for real, its outputs added to ``out``; when it was quiet
        (nothing out but a level message, none of the coach's state changed but
        ``_PER_TICK`` and what it kept, no input read but through the view's questions),
        its :class:`~isofeedback.coach.ticks.Watch` and whether it judged (reached the
        level message: a paused or finished coach only takes the tilt)."""
        before = dict(vars(self))
        started = self._started
        watching.watch = None
        got = self._tick(run.t[i], run.activity[i], run.angle[i], run.speed[i],
                         run.rotation[i], run.tilt[i], watching, run.rest_at(i))
        out += got
        if not started or any(f.kind != "level" for f in got) or self._changed(before):
            return None
        judging = self.phase not in _NOT_JUDGING and self._held_t is None
        watch = watching.watch
        if watch is None:  # no handler (or not judging): nothing asked, nothing kept
            return Watch(run.t[i], 0.0, 0.0, 0.0, run.pose(i), 0.0, self._phase_t), judging
        places = [id(where) for _, where in watch.kept]
        if watch.raw or len(set(places)) != len(places):
            return None
        return watch, judging

    def _changed(self, before: dict[str, Any]) -> bool:
        """Whether any attribute but ``_PER_TICK``'s is another object than in ``before``
        (a copy of ``vars(self)``): a tick that changed one took a path that the next
        ticks may not take. (By identity: a quiet tick keeps what it had, and a value
        written again is the same object; a list a tick appends to stays the same list.)"""
        now = vars(self)
        if len(now) != len(before):
            return True
        for name in _PER_TICK:
            del before[name]
        return any(map(operator.is_not, before.values(), map(now.__getitem__, before)))

    def _quiet_ticks(self, run: TickRun, lo: int, hi: int, watch: Watch, judging: bool,
                     xs: list[float], out: list[Feedback]) -> None:
        """Ticks ``lo:hi`` of ``run``, covered by ``watch`` (``xs``: their intensities):
        what each keeps, the level messages due among them (each when one by one would
        give it, with what was kept up to it), the last inputs."""
        ts = run.t
        keep = Keeping(watch.kept, run, lo, hi, xs)
        if judging:
            last = self._last_level_t
            for k in range(lo, hi):
                if ts[k] - last >= _LEVEL_DUE:  # (tick()'s test)
                    keep.upto(k + 1)  # the level sees what was kept up to its tick
                    self._pose = run.pose(k)
                    self._last_level_t = last = ts[k]
                    out.append(self._level(last, xs[k - lo], run.angle[k]))
        keep.upto(hi)
        self._rest = run.rest_at(hi - 1)
        if judging:
            self._angle = run.angle[hi - 1]
            self._pose = run.pose(hi - 1)
        tilt = next((v for v in reversed(run.tilt[lo:hi]) if v is not None), None)
        if tilt is not None:
            self._tilt = tilt

    def _intensities(self, activities: FloatArray) -> FloatArray:
        """:meth:`intensity` of each of ``activities`` (the same arithmetic, element by
        element, so the same doubles)."""
        x = self.intensity(activities)
        return x if isinstance(x, np.ndarray) else np.full(activities.shape, x)

    def _start(self, t: float) -> list[Feedback]:
        """The first tick: calibration of the rest begins."""
        self._started = True
        out = self._enter(Phase.CALIBRATING, t)
        if self.protocol.setup:
            out.append(self._cue("setup", t))
        out += self._progression_cue(t)
        out.append(self._cue("calibrate_rest", t))
        return out

    # -- one handler per phase: what a tick means there ----------------------------------
    def _handlers(self) -> dict[Phase, Callable[[TickView], list[Feedback]]]:
        return {
            Phase.MVC: self._tick_mvc,
            Phase.MVC_CONTRACTING: self._tick_mvc_contracting,
            Phase.REFERENCE: self._tick_mvc,
            Phase.REFERENCE_CONTRACTING: self._tick_mvc_contracting,
            Phase.RECOVERING: self._tick_recovering,
            Phase.WAITING: self._tick_waiting,
            Phase.CONTRACTING: self._tick_contracting,
            Phase.HOLDING: self._tick_holding,
            Phase.RELEASING: self._tick_releasing,
            Phase.RELAXING: self._tick_relaxing,
            Phase.STRETCHING: self._tick_stretching,
        }

    def _tick_mvc(self, now: TickView) -> list[Feedback]:
        if now.waited(self.protocol.abandon_after_s):
            what = "maximal" if self.phase == Phase.MVC else "gentle reference"
            return self._stop(now.t, f"no {what} contraction for the calibration")
        return []

    def _tick_mvc_contracting(self, now: TickView) -> list[Feedback]:
        now.keep_activity(self._mvc_t, self._mvc_x)
        return []

    def _tick_recovering(self, now: TickView) -> list[Feedback]:
        return self._start_rep(now.t) if now.waited(RECOVER_S) else []

    def _tick_waiting(self, now: TickView) -> list[Feedback]:
        p = self.protocol
        out: list[Feedback] = []
        if now.after(self._wait_t, p.abandon_after_s):
            t = now.t
            self.stop_reason = "no contraction"
            out += self._enter(Phase.STOPPED, t)
            out.append(self._cue("session_stopped", t, "warning"))
            out += self._end(t)
        elif now.waited(p.no_contraction_timeout_s):
            out += self._violation("no_contraction", "no_contraction", now.t)
            self._phase_t = now.t
        elif now.x_below(p.intensity_low):
            self._wait_saw_low = True
        elif self._wait_saw_low and self._sustained(True, now, LEVEL_ONSET_S):
            # the detector still holds an unreleased contraction (incomplete
            # relaxation): the level rising into the band starts the repetition
            out += self._contraction_started(now.t, now.t)
        return out

    def _tick_contracting(self, now: TickView) -> list[Feedback]:
        out = self._check_speed(now)
        if now.x_at_least(self.protocol.intensity_low) or now.waited(1.0):
            out += self._enter(Phase.HOLDING, now.t)
            self._hold_cue_due = True
            out += self._hold_cue(now)
        return out

    def _hold_cue(self, now: TickView) -> list[Feedback]:
        """"Hold", once the contraction can no longer be a false start (its onset
        ``FALSE_START_S`` ago): a heartbeat in a trunk muscle's EMG crosses the band for a
        tenth of a second, and the patient heard "hold" at every beat while waiting to
        contract. The hold itself counts from reaching the band, as before."""
        onset = self._current.onset_t if self._current is not None else now.t
        if not self._hold_cue_due or now.before(onset, FALSE_START_S - 1e-9):
            return []
        self._hold_cue_due = False
        return [self._cue("hold", now.t)]

    def _tick_holding(self, now: TickView) -> list[Feedback]:
        now.keep(self._hold_t, self._hold_x)
        out = self._hold_cue(now) if self._hold_cue_due else []
        if now.fast(self.protocol.movement_max_dps):  # (_check_speed's test, first)
            out += self._check_speed(now)
        out += self._check_strength(now)
        if now.waited(self.protocol.hold_s):
            t = now.t
            out += self._finish_hold(t)
            out += self._enter(Phase.RELEASING, t)
            out.append(self._cue("release", t, haptic=True))
        return out

    def _tick_releasing(self, now: TickView) -> list[Feedback]:
        p = self.protocol
        if self._sustained(now.x_below(p.intensity_low), now, LEVEL_RELEASE_S):
            return self._enter(Phase.RELAXING, now.t)  # let go, even if not down to rest
        if now.waited(p.release_timeout_s):
            t = now.t
            return self._violation("no_release", "release", t) + self._enter(Phase.RELAXING, t)
        return []

    def _tick_relaxing(self, now: TickView) -> list[Feedback]:
        """Relax for ``relax_s``; the stretch begins only once the EMG confirms the muscle
        let go (below ``relaxed_below``). If it is still tense the patient is told, and
        given ``relax_confirm_s`` to let go for ``RELAXED_CONFIRM_S``; after that the
        stretch is left out of this repetition: a guarding muscle is not stretched."""
        p = self.protocol
        if self._confirm_t is not None:
            if self._sustained(now.x_at_most(self._relax_limit), now, RELAXED_CONFIRM_S):
                t = now.t
                return self.arbiter.clear(["relax_fully"], t, self.rep) + self._stretch(t)
            if now.after(self._confirm_t, p.relax_confirm_s):
                t = now.t
                out = self.arbiter.clear(["relax_fully"], t, self.rep)
                out.append(self._cue("no_stretch", t))
                return out + self._finish_rep(t, stretched=False)
            return []
        if now.waited(p.relax_s / 2):
            now.keep_x(self._relax_values)
        if now.waited(p.relax_s):
            return self._finish_relax(now.t)
        return []

    def _tick_stretching(self, now: TickView) -> list[Feedback]:
        now.reach(self._reach)
        if now.waited(self.protocol.stretch_s):
            return self._finish_rep(now.t)
        return []

    def pause(self, t: float) -> list[Feedback]:
        """The sensor has been silent: stop judging. A repetition whose contraction was
        under way cannot be measured any more and will be repeated after ``resume``."""
        return self._settle(self._signal_pause(t))

    def _signal_pause(self, t: float) -> list[Feedback]:
        if self.finished or self._signal_lost:
            return []
        self._signal_lost = True
        if self._held_t is not None:  # the patient's pause goes on; only say what happened
            return [self._cue("signal_lost", t, "warning")]
        self._paused_from = self.phase
        self._abandon_rep()
        out = self._enter(Phase.PAUSED, t)
        out.append(self._cue("signal_lost", t, "warning"))
        return out

    def resume(self, t: float) -> list[Feedback]:
        """Data flows again: pick up where it makes sense."""
        return self._settle(self._signal_resume(t))

    def _signal_resume(self, t: float) -> list[Feedback]:
        if not self._signal_lost:
            return []
        self._signal_lost = False
        out = self.arbiter.clear(["signal_lost"], t, self.rep)
        out.append(self._cue("signal_back", t))
        if self._held_t is not None:  # still paused by the patient: carry on after theirs
            if self._held_phase == Phase.PAUSED:
                self._held_phase = self._paused_from
            return out
        return out + self._continue(self._paused_from, t, frozen=False)

    def _abandon_rep(self) -> None:
        """A contraction under way cannot be measured across a pause: drop it (the rep is
        repeated when the session continues)."""
        if self.phase in ACTIVE:
            self.interruptions += 1
            self._current = None
            self._hold_t, self._hold_x = [], []
            self._above_since = self._below_since = self._in_band_since = None

    def _continue(self, was: Phase, t: float, *, frozen: bool) -> list[Feedback]:
        """Go on in phase ``was`` after a pause. A contraction is repeated; after the
        sensor's pause a relaxation or stretch starts again (what happened in the gap is
        unknown); after the patient's pause (``frozen``) the timers carry on where they
        stopped, since the timers were frozen."""
        out: list[Feedback] = []
        if was in ACTIVE:
            out += self._enter(Phase.WAITING, t)
            self._wait_t = t
            out.append(self._cue("repeat_rep", t))
            out.append(self._cue(self._contract_cue, t))
        elif was == Phase.MVC_CONTRACTING:
            out += self._enter(Phase.MVC, t)
            out.append(self._cue("mvc", t))
        elif was == Phase.REFERENCE_CONTRACTING:
            out += self._enter(Phase.REFERENCE, t)
            out.append(self._cue(self._reference_cue, t))
        elif frozen:
            self.phase = was
            out.append(self._phase_message(was, t))
        elif was == Phase.RELAXING:
            self._relax_values = []
            out += self._enter(Phase.RELAXING, t)
        elif was == Phase.WAITING:
            out += self._enter(Phase.WAITING, t)
            self._wait_t = t
            out.append(self._cue(self._contract_cue, t))
        else:
            out += self._enter(was, t)
        return out

    # -- control commands (the patient, from the page, the terminal or MQTT) ------------------
    def command(self, name: str, t: float, value: float | None = None,
                origin: str = "") -> list[Feedback]:
        """A control command at session time ``t``: ``start`` (nothing to do once the coach
        runs), ``pause``/``resume`` (the patient's pause: every timer and the phase
        machine freeze; a contraction under way is repeated afterwards, because a muscle
        cannot be frozen), ``skip_rep``, ``pain`` (``value`` 0–10) and ``stop``.

        The service validates commands before they get here; an unknown name or a pain
        value outside 0–10 is a ``ValueError``. ``origin``: who asked (``mqtt``,
        ``keyboard``, ``signal:SIGTERM``, ``end of data``…): a stop says so in the summary."""
        return self._settle(self._command(name, t, value, origin))

    def _command(self, name: str, t: float, value: float | None,
                 origin: str = "") -> list[Feedback]:
        if name == "start":
            return []
        if name == "pause":
            return self._hold(t)
        if name == "resume":
            return self._unhold(t)
        if name == "skip_rep":
            return self._skip_rep(t)
        if name == "pain":
            if value is None or not 0 <= value <= 10:
                raise ValueError(f"pain must be rated 0–10, got {value!r}")
            return self._pain(t, float(value))
        if name == "stop":
            return self._stop_by_patient(t, origin)
        raise ValueError(f"unknown control command {name!r}")

    def _hold(self, t: float) -> list[Feedback]:
        if self.finished or self._held_t is not None:
            return []
        self._held_t = t
        self._held_phase = self.phase
        self._abandon_rep()
        self.phase = Phase.PAUSED
        return [self._phase_message(Phase.PAUSED, t, reason="patient"), self._cue("paused", t)]

    def _unhold(self, t: float) -> list[Feedback]:
        if self._held_t is None:
            return []
        self._shift_timers(t - self._held_t)
        self._held_t = None
        was = self._held_phase
        out = [self._cue("resumed", t)]
        if self._signal_lost:  # the sensor is still silent: its pause takes over
            if was != Phase.PAUSED:
                self._paused_from = was
            self.phase = Phase.PAUSED
            return [*out, self._phase_message(Phase.PAUSED, t)]
        return out + self._continue(was, t, frozen=True)

    def _shift_timers(self, dt: float) -> None:
        """Move every time the coach measures from by ``dt``: the paused time never
        counts towards a timeout, a hold or a phase's length."""
        self._phase_t += dt
        self._cond_phase_t += dt
        self._wait_t += dt
        self._waiting_t += dt
        self._last_strength_cue += dt
        self._last_move_t += dt
        for name in ("_cond_since", "_above_since", "_below_since", "_in_band_since",
                     "_confirm_t"):
            v = getattr(self, name)
            if v is not None:
                setattr(self, name, v + dt)

    def _skip_rep(self, t: float) -> list[Feedback]:
        """The patient skips the repetition under way: it is reported as skipped (not
        done) and the set goes on with the next one."""
        if self.finished or self.phase == Phase.PAUSED or self.phase not in REP_PHASES:
            return []
        res = self._current or RepResult(rep=self.rep, onset_t=t)
        res.skipped = True
        self._current = None
        self._hold_t, self._hold_x, self._relax_values = [], [], []
        self._above_since = self._below_since = self._in_band_since = None
        self.skipped += 1
        self.results.append(res)
        out = [Feedback("rep", t, res.as_dict()), self._cue("rep_skipped", t)]
        return out + self._after_rep(t)

    def _pain(self, t: float, value: float) -> list[Feedback]:
        """Pain means stop: the repetition ends at once; with no other rule in the
        protocol the session stops with a clear cue. A rating of 0 is only recorded."""
        self.pain.append({"t": round(t, 3), "value": value, "rep": self.rep})
        if value <= 0 or self.finished:
            return []
        self._held_t = None
        self._abandon_rep()
        p = self.protocol
        if p.pain_rule == "antagonist" and not self.reciprocal:
            # PIR/MET is contraindicated when contracting hurts: the antagonist works
            # instead (reciprocal inhibition); rest is measured again on its channels
            self.reciprocal = True
            self.switched_t = t
            self.rep = max(self.rep - 1, 0)  # the repetition under way is done again
            self.reference = None
            self._current = None
            out = [self._cue("pain_switch", t, "warning", pain=value)]
            out += self._enter(Phase.CALIBRATING, t)
            out.append(self._cue("calibrate_rest", t))
            return out
        self.stop_reason = f"pain {value:g}/10 reported"
        out = self._enter(Phase.STOPPED, t)
        out.append(self._cue("pain_stop", t, "warning", pain=value))
        return out + self._end(t)

    def _stop_by_patient(self, t: float, origin: str = "") -> list[Feedback]:
        if self.finished:
            return []
        self._held_t = None
        self._abandon_rep()
        self.stop_reason = stop_reason(origin)
        out = self._enter(Phase.STOPPED, t)
        if origin == SENSOR_GONE:  # why it ended, and what to do: the patient did nothing
            out.append(self._cue("sensor_gone", t, "warning"))
        else:
            out.append(self._cue("session_ended", t))
        return out + self._end(t)

    # -- transitions ---------------------------------------------------------------------
    def _calibrated(self, ev: Event, t: float) -> list[Feedback]:
        p = self.protocol
        self.noise = float(ev.detail.get("noise", 0.0)) or None
        self.baseline = float(ev.detail.get("baseline", ev.value or 0.0))
        out: list[Feedback] = []
        cal = self.calibration
        if self.mvc is None and cal is not None and cal.mvc is not None:
            problem = rest_problem(cal.rest_noise, self.noise or 0.0) or mvc_problem(
                cal.mvc, self.noise or 0.0
            )
            if problem is None:
                self.mvc, self.mvc_source = cal.mvc, "stored"
                out.append(self._cue("calibration_reused", t))
            else:
                out.append(self._cue("recalibrate", t, "warning", reason=problem))
        if p.intensity_unit == "%MVC" and self.mvc is None:
            if not p.mvc_capture:
                return out + self._stop(t, "stored MVC unusable and the protocol forbids capture")
            out += self._enter(Phase.MVC, t)
            out.append(self._cue("mvc", t))
            return out
        if p.intensity_unit == "%ref" and self.reference is None:
            self._mvc_attempts = 0
            out += self._enter(Phase.REFERENCE, t)
            out.append(self._cue(self._reference_cue, t))
            return out
        return out + self._start_rep(t)

    def _reference_done(self, t: float) -> list[Feedback]:
        """The gentle reference contraction: its median level (the ramps left out) is
        100 % of the intensity scale. It must stand out of rest (REFERENCE_MIN_X_REST)."""
        self._mvc_attempts += 1
        x = np.asarray(self._mvc_x)
        times = np.asarray(self._mvc_t)
        if times.size:
            mid = x[(times >= times[0] + RAMP_S) & (times <= times[-1] - RAMP_S)]
            x = mid if mid.size else x
        level = float(np.median(x)) if x.size else 0.0
        ratio = level / self.noise if self.noise else 0.0
        if ratio >= REFERENCE_MIN_X_REST:
            self.reference = level
            out = [self._cue("reference_done", t, reference=round(level, 4))]
            return out + self._enter(Phase.RECOVERING, t)
        problem = (f"reference contraction {ratio:.1f}x the resting noise "
                   f"(need at least {REFERENCE_MIN_X_REST:g}x)")
        if self._mvc_attempts >= MVC_ATTEMPTS:
            return self._stop(t, problem)
        out = self._enter(Phase.REFERENCE, t)
        out.append(self._cue("reference_retry", t, "warning", reason=problem))
        return out

    def _mvc_done(self, t: float) -> list[Feedback]:
        self._mvc_attempts += 1
        mvc = window_peak_mean(self._mvc_t, self._mvc_x, MVC_WINDOW_S)
        problem = mvc_problem(mvc, self.noise or 0.0)
        if problem is None:
            self.mvc, self.mvc_source = mvc, "captured"
            out = [self._cue("mvc_done", t, mvc=round(mvc, 4))]
            return out + self._enter(Phase.RECOVERING, t)
        if self._mvc_attempts >= MVC_ATTEMPTS:
            return self._stop(t, problem)
        out = self._enter(Phase.MVC, t)
        out.append(self._cue("mvc_retry", t, "warning", reason=problem))
        return out

    def _stop(self, t: float, reason: str) -> list[Feedback]:
        self.stop_reason = reason
        out = self._enter(Phase.STOPPED, t)
        out.append(self._cue("calibration_failed", t, "warning", reason=reason))
        return out + self._end(t)

    @property
    def _reference_cue(self) -> str:
        """The gentle reference is shown by the muscle that will work: the antagonist's
        for reciprocal inhibition (named, so the patient does not tense the target)."""
        return "reference_antagonist" if self.reciprocal else "reference"

    @property
    def _contract_cue(self) -> str:
        return "contract_antagonist" if self.reciprocal else "contract"

    def _start_rep(self, t: float, again: bool = False) -> list[Feedback]:
        """Wait for the next repetition's contraction; ``again``: the same number again,
        because the last attempt broke a rule."""
        if not again:
            self.rep += 1
        out = self._enter(Phase.WAITING, t)
        self._wait_t = t
        if again:
            out.append(self._cue("repeat_broken", t))
        elif self.rep > 1:
            out.append(self._cue("next_rep", t))
        out.append(self._cue(self._contract_cue, t))
        return out

    def _sustained(self, condition: bool, now: TickView, duration: float) -> bool:
        """``condition`` has held on every tick for ``duration`` (one timer, reset on
        every phase change)."""
        if not condition or self._cond_phase_t != self._phase_t:
            self._cond_since = now.t if condition else None
            self._cond_phase_t = self._phase_t
            return False
        if self._cond_since is None:
            self._cond_since = now.t
        return now.after(self._cond_since, duration - 1e-9)

    def _false_start(self, release_t: float) -> bool:
        """A release this soon after the onset: no attempt at a hold."""
        return (self.phase in (Phase.CONTRACTING, Phase.HOLDING) and self._current is not None
                and release_t - self._current.onset_t < FALSE_START_S)

    def _contraction_started(self, onset_t: float, t: float) -> list[Feedback]:
        self._waiting_t = self._phase_t
        self._current = RepResult(rep=self.rep, onset_t=onset_t)
        self._onset_pose = self._pose
        self._last_move_t = -np.inf
        return self._enter(Phase.CONTRACTING, t)

    def _moved(self, t: float, angle: float) -> list[Feedback]:
        out: list[Feedback] = []
        if self._current is not None:
            self._current.max_movement_deg = max(self._current.max_movement_deg, angle)
        if t - self._last_move_t > CALM_S:
            out += self._violation("moved", "keep_still", t, angle_deg=round(angle, 1))
        self._last_move_t = t
        return out

    def _check_speed(self, now: TickView) -> list[Feedback]:
        if not now.fast(self.protocol.movement_max_dps):
            return []
        return self._moved(now.t, turn(self._pose, self._onset_pose))

    def _check_strength(self, now: TickView) -> list[Feedback]:
        p = self.protocol
        out: list[Feedback] = []
        # (``or now.t``: the time is read only when a condition starts)
        above = now.x_above(p.intensity_high)
        self._above_since = (self._above_since or now.t) if above else None
        below = now.x_below(p.intensity_low)
        self._below_since = (self._below_since or now.t) if below else None
        in_band = self._above_since is None and self._below_since is None
        self._in_band_since = (self._in_band_since or now.t) if in_band else None
        if (self._in_band_since is not None and now.after(self._in_band_since, BACK_IN_BAND_S)
                and self.arbiter.any_active(_STRENGTH_WARNINGS)):
            out += self.arbiter.clear(_STRENGTH_WARNINGS, now.t, self.rep)
        if now.before(self._last_strength_cue, 2.0):
            return out
        if self._above_since is not None and now.after(self._above_since, 0.5):
            t = now.t
            out += self._violation("too_strong", "gentler", t, intensity=round(now.x, 1))
            self._last_strength_cue = t
        elif self._below_since is not None and now.after(self._below_since, 1.0):
            t = now.t
            out += self._violation("too_weak", "stronger", t, intensity=round(now.x, 1))
            self._last_strength_cue = t
        return out

    def _finish_hold(self, t: float) -> list[Feedback]:
        if self._current is not None and self.phase == Phase.HOLDING:
            self._current.hold_s = t - self._phase_t
            if self._hold_x:
                x = np.asarray(self._hold_x)
                self._current.mean_intensity = float(x.mean())
                self._current.peak_intensity = window_peak_mean(
                    self._hold_t, self._hold_x, PEAK_WINDOW_S
                )
                self._current.in_band = self._in_band_fraction()
                self._current.hold_in_band_s = self._current.in_band * self._current.hold_s
        self._hold_t, self._hold_x = [], []
        self._above_since = self._below_since = self._in_band_since = None
        return []

    def _in_band_fraction(self) -> float:
        """The fraction of the hold's ticks so far inside the band: times the hold's
        length, the hold time that is credited (and counted down).

        Counted as the hold grows, not again at every level message: the count of ticks
        in the band over their number is exactly what numpy's mean of the booleans gives
        (it sums them in float64, exact for whole numbers, and divides once)."""
        xs = self._hold_x
        if not xs:
            return 0.0
        p = self.protocol
        low, high = p.intensity_low, p.intensity_high
        of, seen, count, band = self._band_count
        if of is not xs or band != (low, high) or seen > len(xs):
            seen, count = 0, 0
        for v in xs[seen:]:
            if low <= v <= high:
                count += 1
        self._band_count = (xs, len(xs), count, (low, high))
        return count / len(xs)

    def _finish_relax(self, t: float) -> list[Feedback]:
        out: list[Feedback] = []
        residual = float(np.median(self._relax_values)) if self._relax_values else 0.0
        if self._current is not None:
            self._current.relax_residual = residual
        self._relax_values = []
        limit = self._relax_limit = self.relaxed_limit()
        raised = limit != self.protocol.relaxed_below
        if raised and self._current is not None:
            self._current.relax_limit = limit
        if residual > limit:
            self._confirm_t = t
            self._cond_since = None
            noise = {"limit": round(limit, 1)} if raised else {}
            return self._violation("not_relaxed", "relax_fully", t, residual=round(residual, 1),
                                   **noise)
        return out + self._stretch(t)

    def relaxed_limit(self) -> float:
        """The residual intensity above which the patient is not relaxed now:
        ``relaxed_below``, or the rest noise's own level when that is higher
        (:mod:`isofeedback.coach.relaxation` says why): the calibration's baseline and
        noise in the protocol's unit, times the rest baseline's rise since then (told
        with the ticks)."""
        p = self.protocol
        if not (p.relaxed_over_noise and self.noise and self.baseline and self._rest):
            return p.relaxed_below
        reading = float(self.intensity(noise_reading(self.baseline, self.noise)))
        return relaxed_limit(p.relaxed_below, p.intensity_low, reading,
                             self._rest / self.baseline)

    def _stretch(self, t: float) -> list[Feedback]:
        self._confirm_t = None
        self._reach = Reach(self._pose)
        out = self._enter(Phase.STRETCHING, t)
        chronic = self.protocol.stretch_mode == "chronic"
        out.append(self._cue("stretch_hold" if chronic else "stretch", t))
        return out

    def _finish_rep(self, t: float, stretched: bool = True) -> list[Feedback]:
        out: list[Feedback] = []
        self._confirm_t = None
        res = self._current or RepResult(rep=self.rep, onset_t=t)
        p = self.protocol
        res.credited = (res.hold_in_band_s >= p.credit_in_band * p.hold_s - 1e-9
                        and "moved" not in res.violations)
        if stretched and self.joint_measured:
            prev = next((r.rom_deg for r in reversed(self.results) if r.rom_deg is not None),
                        0.0)
            res.stretch_deg = self._reach.farthest
            res.rom_deg = (prev or 0.0) + self._reach.farthest
            res.rom_gain_deg = res.rom_deg - (prev or 0.0)
            res.barrier_from_neutral_deg = self._tilt
        self.results.append(res)
        self._current = None
        out.append(Feedback("rep", t, res.as_dict()))
        return out + self._after_rep(t)

    def _after_rep(self, t: float) -> list[Feedback]:
        """The next repetition, the same one again (it broke a rule and the protocol says
        to repeat it), or the end: all repetitions done, the attempts used up, or the range
        of motion no longer improving."""
        p = self.protocol
        last = self.results[-1]
        again = p.repeat_broken and not last.credited and not last.skipped
        if self._plateau():
            self.early_end = (f"range of motion gained less than {p.rom_plateau_deg:g}° over "
                              f"the last {p.rom_plateau_reps} repetitions")
            out = self._enter(Phase.DONE, t)
            out.append(self._cue("rom_plateau", t))
            return out + self._end(t)
        if (self.rep >= p.reps and not again) or len(self.results) >= p.attempts_max:
            out = self._enter(Phase.DONE, t)
            out.append(self._cue("done", t))
            return out + self._end(t)
        return self._start_rep(t, again=again)

    def _plateau(self) -> bool:
        """The last ``rom_plateau_reps`` stretched repetitions gained less than
        ``rom_plateau_deg`` together (Lewit: repeat until no further gain)."""
        p = self.protocol
        if p.rom_plateau_deg <= 0:
            return False
        gains = [r.rom_gain_deg for r in self.results if r.rom_gain_deg is not None]
        window = gains[-p.rom_plateau_reps:]
        return len(window) == p.rom_plateau_reps and sum(window) < p.rom_plateau_deg

    def _end(self, t: float) -> list[Feedback]:
        summary = self.summary()
        out = [Feedback("summary", t, summary)]
        out.append(Feedback("progress", t, progress_report([*self.history, summary])))
        return out

    def _level(self, t: float, x: float, angle: float) -> Feedback:
        p = self.protocol
        payload: dict[str, Any] = {
            "intensity": round(x, 2),
            "unit": self.unit,
            "band": [p.intensity_low, p.intensity_high],
            "in_band": p.intensity_low <= x <= p.intensity_high,
            "angle_deg": round(angle, 2),
            "phase": self.phase,
            "rep": self.rep,
        }
        phase = self.phase
        if phase == _HOLDING:
            # the hold counts in the band only: the countdown stands still outside it, and
            # what is left at "release now" is the part of the hold not credited
            elapsed = t - self._phase_t
            if p.countdown_in_band:
                in_band_s = self._in_band_fraction() * elapsed
                payload["hold_remaining_s"] = round(max(p.hold_s - in_band_s, 0.0), 2)
                payload["hold_in_band_s"] = round(in_band_s, 2)
            else:
                payload["hold_remaining_s"] = round(max(p.hold_s - elapsed, 0.0), 2)
        if phase in (_HOLDING, _CONTRACTING):
            # what the movement check judges: the turn from the pose at the contraction's
            # start (not the angle from session start), against the protocol's limit
            payload["joint_deviation_deg"] = round(turn(self._pose, self._onset_pose), 2)
            payload["joint_limit_deg"] = p.movement_max_deg
        return Feedback("level", t, payload)

    def summary(self) -> dict[str, Any]:
        """What the session achieved: per-rep results and the figures progress is made of.

        ``hold_quality`` (0–1) is the mean over repetitions of the fraction of the
        prescribed hold time that was held inside the intensity band."""
        p = self.protocol
        reps = [r.as_dict() for r in self.results]
        done = [r for r in self.results if not r.skipped]
        credited = [r for r in done if r.credited]
        holds = [r.hold_s for r in done]
        quality = [min(r.hold_s / p.hold_s, 1.0) * r.in_band for r in done]
        rom = done[-1].rom_deg if done else None
        return {
            "technique": p.technique,
            "muscle": p.muscle,
            "side": p.side,
            "reps_done": len(done),
            "reps_credited": len(credited),
            "variant": "reciprocal_inhibition" if self.reciprocal else p.variant,
            "stretch_mode": p.stretch_mode,
            "mean_hold_in_band_s": (round(float(np.mean([r.hold_in_band_s for r in done])), 2)
                                    if done else 0.0),
            "reps_planned": p.reps,
            "mean_hold_s": round(float(np.mean(holds)), 2) if holds else 0.0,
            "hold_target_s": p.hold_s,
            "hold_quality": round(float(np.mean(quality)), 3) if quality else None,
            "rom_deg": None if rom is None else round(rom, 2),
            "barrier_from_neutral_deg": (
                None if not done or done[-1].barrier_from_neutral_deg is None
                else round(done[-1].barrier_from_neutral_deg, 2)
            ),
            "violations": [v["violation"] for v in self.violations],
            "interrupted_reps": self.interruptions,
            "mvc": self.mvc,
            "mvc_source": self.mvc_source,
            "unit": self.unit,
            "reps": reps,
            "complete": self.phase == Phase.DONE,
            "stop_reason": self.stop_reason,
            # only when there are some, so sessions without them read as before
            **({"reps_skipped": self.skipped} if self.skipped else {}),
            **({"pain": list(self.pain)} if self.pain else {}),
            **({"reference": round(self.reference, 4)} if self.reference is not None else {}),
            **({"switched_to_antagonist_t": round(self.switched_t, 3)}
               if self.switched_t is not None else {}),
            **({"early_end": self.early_end} if self.early_end else {}),
            **({"hold_progression": dict(p.progression)} if p.progression else {}),
        }
