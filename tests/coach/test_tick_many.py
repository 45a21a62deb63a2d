"""``Coach.tick_many`` gives exactly what ``Coach.tick`` gives on each tick in turn: the
same outputs and the same state after, whatever the runs, while running few ticks for
real (the rest are covered by a watched tick: ``coach/ticks.py``)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from isofeedback.coach.machine import Coach
from isofeedback.coach.protocol import ExerciseProtocol, find_protocol
from isofeedback.coach.ticks import Reach, TickRun, Watch
from isofeedback.recording.format import encode_output
from isofeedback.types import Event, EventType, Feedback
from tests.coach.driver import gentle_protocol

Tick = tuple[float, float, float, float, tuple[float, float, float] | None, float | None]
# a session: ticks, with what else the coach is told before some of them
Step = tuple[str, Any]


def state(coach: Coach) -> list[tuple[str, str]]:
    """Everything the coach holds, as text (a Reach by its contents)."""
    out = []
    for name, value in vars(coach).items():
        if name == "_tick_handlers":
            continue
        if isinstance(value, Reach):
            value = (value.start, value.farthest)
        elif name == "arbiter":
            value = dict(value.active)
        out.append((name, repr(value)))
    return out


def docs(outputs: list[Feedback]) -> list[str]:
    return [encode_output(o)[2] for o in outputs]


def one_by_one(coach: Coach, steps: list[Step]) -> list[Feedback]:
    out: list[Feedback] = []
    for kind, item in steps:
        if kind == "tick":
            out += coach.tick(*item)
        elif kind == "event":
            out += coach.on_event(item)
        else:
            out += coach.command(*item)
    return out


def in_runs(coach: Coach, steps: list[Step], cut: Callable[[], bool]) -> list[Feedback]:
    """The ticks between other inputs told as runs, each also cut where ``cut()`` says."""
    out: list[Feedback] = []
    run = TickRun()

    def tell() -> None:
        nonlocal run
        if run.t:
            more, used = coach.tick_many(run)
            assert used == len(run)
            out.extend(more)
            run = TickRun()

    for kind, item in steps:
        if kind != "tick":
            tell()
            out += coach.on_event(item) if kind == "event" else coach.command(*item)
            continue
        t, activity, angle, speed, rotation, tilt = item
        run.t.append(t)
        run.activity.append(activity)
        run.angle.append(angle)
        run.speed.append(speed)
        run.rotation.append(rotation)
        run.tilt.append(tilt)
        if cut():
            tell()
    tell()
    return out


def random_session(rng: random.Random, seconds: float = 80.0, dt: float = 0.01) -> list[Step]:
    """A patient who does roughly what a session asks, badly: the activity wanders
    across the band's edges, the joint turns and sometimes moves fast, the tilt comes
    and goes, the detectors' events come at random, now and then a command."""
    steps: list[Step] = []
    t = 0.0
    level = 0.0
    pose = (0.0, 0.0, 0.0)
    tilt: float | None = None
    steps.append(("tick", (t, 0.0, 0.0, 0.0, pose, None)))
    steps.append(("event", Event(EventType.CALIBRATED, 1.0, 1.0, "emg", 1.0,
                                 {"noise": 1.0, "baseline": 1.0})))
    target = 0.0
    while t < seconds:
        t = round(t + dt * rng.choice((1.0, 1.0, 1.0, 0.5, 2.0)), 6)
        if rng.random() < 0.01:
            target = rng.choice((0.0, 1.0, 2.5, 5.0, 7.5, 9.0, 20.0))
        level += (target - level) * 0.05 + rng.gauss(0.0, 0.3)
        activity = max(level, 0.0)
        if rng.random() < 0.5:  # a gyro packet since the last tick
            pose = (pose[0] + rng.gauss(0.0, 0.3), pose[1], pose[2] + rng.gauss(0.0, 0.1))
        speed = rng.choice((0.0, 0.0, 5.0, 12.0, 80.0)) if rng.random() < 0.1 else 0.0
        if rng.random() < 0.02:
            tilt = rng.choice((None, 3.0, 4.5))
        rotation = pose if rng.random() < 0.95 else None
        steps.append(("tick", (t, activity, pose[0], speed, rotation,
                               tilt if rng.random() < 0.7 else None)))
        roll = rng.random()
        if roll < 0.004:
            steps.append(("event", Event(EventType.ONSET, t - 0.1, t, "emg", 3.0)))
        elif roll < 0.008:
            steps.append(("event", Event(EventType.RELEASE, t - 0.1, t, "emg")))
        elif roll < 0.009:
            steps.append(("event", Event(EventType.MOVEMENT, t, t, "gyro", 12.0)))
        elif roll < 0.010:
            steps.append(("event", Event(EventType.MOVEMENT_END, t, t, "gyro")))
        elif roll < 0.0104:
            steps.append(("command", (rng.choice(("pause", "resume", "skip_rep")), t)))
        elif roll < 0.0105:
            steps.append(("command", ("pain", t, rng.choice((0.0, 4.0)))))
    return steps


PROTOCOLS: dict[str, Callable[[], ExerciseProtocol]] = {
    "gentle": gentle_protocol,
    "gentle-countdown": lambda: gentle_protocol(countdown_in_band=False),
    "pir": lambda: find_protocol("pir"),
    "met": lambda: find_protocol("met"),
    "pir-mvc": lambda: find_protocol("pir-mvc"),
}


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@pytest.mark.parametrize("seed", range(4))
def test_runs_give_what_ticks_one_by_one_give(name: str, seed: int) -> None:
    rng = random.Random(seed)
    steps = random_session(rng)
    protocol = PROTOCOLS[name]()
    mvc = 20.0 if protocol.intensity_unit == "%MVC" else None
    a, b = Coach(protocol, mvc=mvc), Coach(protocol, mvc=mvc)
    expected = one_by_one(a, steps)
    got = in_runs(b, steps, lambda: rng.random() < 0.01)
    assert docs(got) == docs(expected)
    assert state(b) == state(a)
    kinds = {f.kind for f in expected}
    assert {"level", "phase", "cue"} <= kinds  # the sessions went somewhere


def test_most_ticks_of_a_run_are_not_run_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of it: a quiet stretch costs a watched tick, not a tick per packet."""
    steps = random_session(random.Random(5))
    watched = 0
    real = Coach._watched_tick

    def counted(self: Coach, *args: Any) -> Any:
        nonlocal watched
        watched += 1
        return real(self, *args)

    monkeypatch.setattr(Coach, "_watched_tick", counted)
    coach = Coach(gentle_protocol())
    in_runs(coach, steps, lambda: False)
    ticks = sum(kind == "tick" for kind, _ in steps)
    assert ticks > 5000 and watched < ticks / 5


def test_a_run_ends_where_the_coach_finishes() -> None:
    """``until_finished``: the tick that ends the session is the last taken."""
    protocol = gentle_protocol(reps=1, hold_s=2.0, relax_s=2.0, stretch_s=2.0)
    a, b = Coach(protocol), Coach(protocol)
    calibrated = Event(EventType.CALIBRATED, 1.0, 1.0, "emg", 1.0,
                       {"noise": 1.0, "baseline": 1.0})
    for coach in (a, b):
        coach.tick(0.0, 0.0, 0.0)
        coach.on_event(calibrated)
        coach.on_event(Event(EventType.ONSET, 1.0, 1.0, "emg", 3.0))
    run = TickRun()
    for k in range(1, 2000):
        run.t.append(1.0 + k * 0.01)
        run.activity.append(5.0 if k < 250 else 0.0)
        run.angle.append(0.0)
        run.speed.append(0.0)
        run.rotation.append((0.01 * k, 0.0, 0.0))
        run.tilt.append(None)
    expected: list[Feedback] = []
    for k in range(len(run)):
        expected += a.tick(run.t[k], run.activity[k], 0.0, 0.0, run.rotation[k])
        if a.finished:
            break
    got, used = b.tick_many(run, until_finished=True)
    assert b.finished and used == k + 1 < len(run)
    assert docs(got) == docs(expected) and state(b) == state(a)


def test_times_that_go_back_are_told_one_by_one() -> None:
    steps = random_session(random.Random(9), seconds=20.0)
    ticks = [i for i, (kind, _) in enumerate(steps) if kind == "tick"]
    i = ticks[len(ticks) // 2]
    item = steps[i][1]
    steps[i] = ("tick", (item[0] - 0.5, *item[1:]))
    a, b = Coach(gentle_protocol()), Coach(gentle_protocol())
    assert docs(in_runs(b, steps, lambda: False)) == docs(one_by_one(a, steps))
    assert state(b) == state(a)


# -- the Watch: what it covers ------------------------------------------------------------


def _run(xs: list[float], speeds: list[float] | None = None) -> TickRun:
    n = len(xs)
    return TickRun([0.01 * k for k in range(n)], xs, [0.0] * n, speeds or [0.0] * n,
                   [None] * n, [None] * n)


def _covers(watch: Watch, run: TickRun, i: int = 1) -> int:
    import numpy as np

    return watch.covers(run, i, lambda a: a, np.asarray(run.speed), np.asarray(run.activity))


def test_a_watch_covers_ticks_up_to_an_answer_that_differs() -> None:
    xs = [5.0] * 300 + [8.5] + [5.0] * 10
    watch = Watch(0.0, 5.0, 0.0, 0.0, (0.0, 0.0, 0.0), 5.0, 0.0)
    assert not watch.x_above(8.0) and not watch.x_below(3.0)
    assert _covers(watch, _run(xs)) == 300  # the tick at 8.5 answers x_above otherwise
    assert not watch.fast(10.0)
    speeds = [0.0] * 50 + [math.nan] + [0.0] * 260
    assert _covers(watch, _run(xs, speeds)) == 50  # a NaN speed is "not within" the limit


def test_a_watch_covers_ticks_before_its_time_questions_change() -> None:
    watch = Watch(0.0, 5.0, 0.0, 0.0, (0.0, 0.0, 0.0), 5.0, 0.0)
    assert not watch.waited(1.0)  # in the phase since 0.0: changes at 1.0
    assert watch.before(0.0, 2.0)  # changes at 2.0
    assert _covers(watch, _run([5.0] * 500)) == 100  # t = 0.99 is the last before 1.0
    nan = Watch(0.0, 5.0, 0.0, 0.0, (0.0, 0.0, 0.0), 5.0, 0.0)
    assert not nan.after(math.nan, 1.0)
    assert _covers(nan, _run([5.0] * 50)) == 1  # a NaN time: nothing covered


def test_a_watched_tick_that_read_an_input_itself_is_not_repeated() -> None:
    watch = Watch(0.0, 5.0, 0.0, 0.0, (0.0, 0.0, 0.0), 5.0, 0.0)
    assert not watch.raw
    assert watch.t == 0.0
    assert watch.raw


def test_a_tick_that_changed_the_coach_is_not_repeated() -> None:
    """The first tick in the band starts its timer (a changed attribute): the run goes on
    one more tick for real, and only then is covered."""
    coach = Coach(gentle_protocol())
    coach.tick(0.0, 0.0, 0.0)
    coach.on_event(Event(EventType.CALIBRATED, 1.0, 1.0, "emg", 1.0,
                         {"noise": 1.0, "baseline": 1.0}))
    coach.on_event(Event(EventType.ONSET, 1.0, 1.0, "emg", 3.0))
    coach.tick(1.01, 5.0, 0.0)  # contracting → holding
    from isofeedback.coach.machine import _Watching

    watching = _Watching(coach)
    run = _run([5.0] * 10)
    run.t[:] = [1.02 + 0.01 * k for k in range(10)]
    out: list[Feedback] = []
    assert coach._watched_tick(run, 0, watching, out) is None  # _in_band_since set
    quiet = coach._watched_tick(run, 1, watching, out)
    assert quiet is not None and quiet[1]  # covered from here, judging (levels due)


class _Counting(Coach):
    """A phase rule that counts its ticks: a change of the coach's state made without
    reading an input or saying anything. Not in today's handlers; a watched tick must
    notice it (by the attributes' identity)."""

    def _tick_relaxing(self, now: Any) -> list[Feedback]:
        self.relaxing_ticks = getattr(self, "relaxing_ticks", 0) + 1
        return super()._tick_relaxing(now)


class _KeepingTwice(Coach):
    """A phase rule that keeps each tick's intensity twice in one list: kept in bulk, the
    list would get the run's values twice over instead of each value twice."""

    def __init__(self, protocol: ExerciseProtocol) -> None:
        super().__init__(protocol)
        self.relaxing_x: list[float] = []

    def _tick_relaxing(self, now: Any) -> list[Feedback]:
        now.keep_x(self.relaxing_x)
        now.keep_x(self.relaxing_x)
        return super()._tick_relaxing(now)


@pytest.mark.parametrize("kind", [_Counting, _KeepingTwice])
def test_a_silent_change_of_state_or_a_list_kept_twice_is_ticked_one_by_one(
        kind: type[Coach]) -> None:
    steps = random_session(random.Random(3))
    a, b = kind(gentle_protocol()), kind(gentle_protocol())
    expected = one_by_one(a, steps)
    got = in_runs(b, steps, lambda: False)
    assert getattr(a, "relaxing_ticks", 0) > 100 or len(getattr(a, "relaxing_x", ())) > 100
    assert docs(got) == docs(expected) and state(b) == state(a)
