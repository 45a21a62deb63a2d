"""What one tick of the coach looks at, and how a run of quiet ticks is told at once.

A phase handler (``Coach._tick_<phase>``) sees its tick's inputs through a view: it asks
the view its questions (``waited(hold_s)``, ``x_below(low)``, ``fast(limit)``, …) and
writes down what it keeps (``keep(times, values)``, ``reach(stretch)``) through it. Live,
the view is :class:`Now`, a named tuple whose methods are the plain comparisons.

A replay knows the ticks ahead. It runs one tick for real with a :class:`Watch` as the
view, which answers the same questions with the same comparisons and also notes them:
the latest time before which every time question keeps its answer, and each comparison of
the intensity and the joint speed with its answer. When that tick gave nothing but a level
message, changed none of the coach's state but what the tick's inputs always set and what
it kept, and read no input except through those questions, every following tick whose
inputs give the same answers takes the same path: it keeps the same things and changes
nothing else. Those ticks are applied at once (:meth:`Watch.covers` finds how far;
``Coach.tick_many`` applies them) with the very values one tick at a time would give; no
phase's rule is written anywhere but in its handler.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np

from isofeedback.dsp.exact import norm3
from isofeedback.types import FloatArray

__all__ = ["Keeping", "Now", "Pose", "Reach", "TickRun", "TickView", "Watch", "turn"]

#: a rotation vector from the neutral pose, degrees (x, y, z)
Pose = tuple[float, float, float]

# a time question's answer is trusted up to this long before the time it could change at
# (far beyond any rounding of a session time's subtraction)
_MARGIN_S = 1e-6
# the comparisons a Watch notes: (which input, operator)
_X_LT, _X_LE, _X_GE, _X_GT, _FAST = range(5)


def turn(a: Pose, b: Pose) -> float:
    """Degrees between two poses: the length of the difference of their rotation
    vectors, to the bit what :func:`~isofeedback.dsp.exact.norm` gives for the numpy
    arrays (:func:`~isofeedback.dsp.exact.norm3`), without building any."""
    return norm3(a[0] - b[0], a[1] - b[1], a[2] - b[2])


class Reach:
    """The farthest turn from ``start`` over the ticks kept (the stretch's range): a
    small object, so keeping a tick changes what it holds, not the coach's attributes."""

    __slots__ = ("farthest", "start")

    def __init__(self, start: Pose) -> None:
        self.start = start
        self.farthest = 0.0

    def add(self, pose: Pose) -> None:
        self.farthest = max(self.farthest, turn(pose, self.start))


class TickView(Protocol):
    """What a phase handler may ask about its tick (see the module's docstring)."""

    @property
    def t(self) -> float: ...
    @property
    def x(self) -> float: ...
    @property
    def speed(self) -> float: ...
    @property
    def activity(self) -> float: ...

    def waited(self, duration: float) -> bool: ...
    def after(self, since: float, duration: float) -> bool: ...
    def before(self, since: float, duration: float) -> bool: ...
    def x_below(self, value: float) -> bool: ...
    def x_at_most(self, value: float) -> bool: ...
    def x_at_least(self, value: float) -> bool: ...
    def x_above(self, value: float) -> bool: ...
    def fast(self, limit: float) -> bool: ...
    def keep(self, times: list[float], values: list[float]) -> None: ...
    def keep_activity(self, times: list[float], values: list[float]) -> None: ...
    def keep_x(self, values: list[float]) -> None: ...
    def reach(self, reach: Reach) -> None: ...


class Now(NamedTuple):
    """One tick as the phase handlers see it live: session time, intensity in the
    protocol's unit, time in the phase, the highest joint speed since the last tick, the
    pose. (A named tuple: one is made per tick, ~6 000 a minute, and a frozen dataclass
    costs several times as much to build.)"""

    t: float
    x: float
    elapsed: float
    speed: float
    pose: Pose
    activity: float = 0.0  # in the device's units (the MVC is measured in them)

    def waited(self, duration: float) -> bool:
        """In the phase for ``duration``."""
        return self.elapsed >= duration

    def after(self, since: float, duration: float) -> bool:
        return self.t - since >= duration

    def before(self, since: float, duration: float) -> bool:
        return self.t - since < duration

    def x_below(self, value: float) -> bool:
        return self.x < value

    def x_at_most(self, value: float) -> bool:
        return self.x <= value

    def x_at_least(self, value: float) -> bool:
        return self.x >= value

    def x_above(self, value: float) -> bool:
        return self.x > value

    def fast(self, limit: float) -> bool:
        """The joint moved faster than ``limit`` (written as the speed not within it, as
        the coach always tested it)."""
        return not self.speed <= limit

    def keep(self, times: list[float], values: list[float]) -> None:
        times.append(self.t)
        values.append(self.x)

    def keep_activity(self, times: list[float], values: list[float]) -> None:
        times.append(self.t)
        values.append(self.activity)

    def keep_x(self, values: list[float]) -> None:
        values.append(self.x)

    def reach(self, reach: Reach) -> None:
        reach.add(self.pose)


@dataclass
class TickRun:
    """Consecutive ticks' inputs, in parallel lists (``Coach.tick``'s arguments), with
    nothing else told to the coach between them."""

    t: list[float] = field(default_factory=list)
    activity: list[float] = field(default_factory=list)
    angle: list[float] = field(default_factory=list)
    speed: list[float] = field(default_factory=list)
    rotation: list[Pose | None] = field(default_factory=list)
    tilt: list[float | None] = field(default_factory=list)
    rest: list[float | None] = field(default_factory=list)  # the rest baseline (activity's)

    def __len__(self) -> int:
        return len(self.t)

    def pose(self, k: int) -> Pose:
        """Tick ``k``'s pose, as ``Coach.tick`` takes it."""
        r = self.rotation[k]
        return r if r is not None else (self.angle[k], 0.0, 0.0)

    def rest_at(self, k: int) -> float | None:
        """Tick ``k``'s rest baseline (None: not given)."""
        return self.rest[k] if self.rest else None

    def part(self, lo: int, hi: int) -> TickRun:
        """Ticks ``lo:hi``."""
        return TickRun(self.t[lo:hi], self.activity[lo:hi], self.angle[lo:hi],
                       self.speed[lo:hi], self.rotation[lo:hi], self.tilt[lo:hi],
                       self.rest[lo:hi])


class Watch:
    """A tick's view that also notes what the handler asked and kept (see the module's
    docstring). Reading an input other than through a question (``t``, ``x``, …) marks
    the tick as one that cannot be repeated blindly (``raw``): it used the value itself."""

    __slots__ = ("_activity", "_elapsed", "_phase_t", "_pose", "_speed", "_t", "_x",
                 "kept", "raw", "tests", "until")

    def __init__(self, t: float, x: float, elapsed: float, speed: float, pose: Pose,
                 activity: float, phase_t: float) -> None:
        self._t, self._x, self._elapsed, self._speed = t, x, elapsed, speed
        self._pose, self._activity, self._phase_t = pose, activity, phase_t
        self.until = math.inf  # every time question keeps its answer before this time
        self.tests: list[tuple[int, float, bool]] = []  # (comparison, value, answer)
        self.kept: list[tuple[str, object]] = []  # (what, where)
        self.raw = False

    # -- the inputs themselves: the tick used a value, not only compared it ------------
    @property
    def t(self) -> float:
        self.raw = True
        return self._t

    @property
    def x(self) -> float:
        self.raw = True
        return self._x

    @property
    def speed(self) -> float:
        self.raw = True
        return self._speed

    @property
    def activity(self) -> float:
        self.raw = True
        return self._activity

    # -- questions ----------------------------------------------------------------------
    def _changes_at(self, t: float) -> None:
        """A time question's answer may change at ``t`` (a NaN: at any time)."""
        if t != t:
            self.until = -math.inf
        elif t < self.until:
            self.until = t

    def waited(self, duration: float) -> bool:
        hit = self._elapsed >= duration
        if not hit:
            self._changes_at(self._phase_t + duration)
        return hit

    def after(self, since: float, duration: float) -> bool:
        hit = self._t - since >= duration
        if not hit:
            self._changes_at(since + duration)
        return hit

    def before(self, since: float, duration: float) -> bool:
        hit = self._t - since < duration
        if hit:
            self._changes_at(since + duration)
        return hit

    def _x_test(self, op: int, value: float, answer: bool) -> bool:
        self.tests.append((op, value, answer))
        return answer

    def x_below(self, value: float) -> bool:
        return self._x_test(_X_LT, value, self._x < value)

    def x_at_most(self, value: float) -> bool:
        return self._x_test(_X_LE, value, self._x <= value)

    def x_at_least(self, value: float) -> bool:
        return self._x_test(_X_GE, value, self._x >= value)

    def x_above(self, value: float) -> bool:
        return self._x_test(_X_GT, value, self._x > value)

    def fast(self, limit: float) -> bool:
        return self._x_test(_FAST, limit, not self._speed <= limit)

    # -- what it keeps ------------------------------------------------------------------
    def keep(self, times: list[float], values: list[float]) -> None:
        times.append(self._t)
        values.append(self._x)
        self.kept.append(("t", times))
        self.kept.append(("x", values))

    def keep_activity(self, times: list[float], values: list[float]) -> None:
        times.append(self._t)
        values.append(self._activity)
        self.kept.append(("t", times))
        self.kept.append(("activity", values))

    def keep_x(self, values: list[float]) -> None:
        values.append(self._x)
        self.kept.append(("x", values))

    def reach(self, reach: Reach) -> None:
        reach.add(self._pose)
        self.kept.append(("reach", reach))

    # -- the ticks it covers ------------------------------------------------------------
    def covers(self, run: TickRun, i: int, x_of: Callable[[FloatArray], FloatArray],
               speeds: FloatArray, activities: FloatArray) -> int:
        """The end of the ticks from ``i`` on that give every question this tick asked
        its answer (``run.t`` ascending; ``x_of``: the intensity of activities, as the
        coach computes it): they are before ``until`` (less a margin) and their intensity
        and speed compare as this tick's did. Looked at in growing blocks, so a run that
        ends soon costs little."""
        end = bisect.bisect_left(run.t, self.until - _MARGIN_S, i)
        if not self.tests or end <= i:
            return end
        k, step = i, 16
        while k < end:
            stop = min(end, k + step)
            bad = self._first_other(k, x_of(activities[k:stop]), speeds[k:stop])
            if bad is not None:
                return k + bad
            k, step = stop, step * 4
        return end

    def _first_other(self, k: int, x: FloatArray, speed: FloatArray) -> int | None:
        """The first of these ticks whose answer to a question differs, or None."""
        other = np.zeros(x.shape, dtype=bool)
        for op, value, answer in self.tests:
            if op == _X_LT:
                got = x < value
            elif op == _X_LE:
                got = x <= value
            elif op == _X_GE:
                got = x >= value
            elif op == _X_GT:
                got = x > value
            else:
                got = ~(speed <= value)
            other |= got != answer
        found = np.flatnonzero(other)
        return int(found[0]) if found.size else None


class Keeping:
    """What a :class:`Watch` noted being kept, for ticks ``lo:hi`` of ``run``
    (``xs``: their intensities, as Python floats), applied in order up to a tick at a
    time (:meth:`upto`): the same values appended in the same order, the same farthest
    reach (a maximum taken tick by tick, as one at a time)."""

    __slots__ = ("_at", "_lists", "_lo", "_reaches", "_run")

    def __init__(self, kept: Sequence[tuple[str, object]], run: TickRun, lo: int, hi: int,
                 xs: list[float]) -> None:
        self._run, self._lo, self._at = run, lo, lo
        self._lists: list[tuple[list[float], list[float]]] = []  # (where, values from lo)
        self._reaches: list[Reach] = []
        for what, where in kept:
            if isinstance(where, Reach):
                self._reaches.append(where)
                continue
            assert isinstance(where, list)
            values = (run.t[lo:hi] if what == "t" else xs if what == "x"
                      else run.activity[lo:hi])
            self._lists.append((where, values))

    def upto(self, end: int) -> None:
        """Keep ticks up to ``end`` (from where the last call stopped)."""
        if not self._lists and not self._reaches:  # (a phase that keeps nothing)
            return
        a, b = self._at - self._lo, end - self._lo
        for where, values in self._lists:
            where.extend(values[a:b])
        for reach in self._reaches:
            last = None
            for k in range(self._at, end):
                pose = self._run.pose(k)
                if pose is not last:  # (the pose changes with the gyroscope's packets)
                    reach.add(pose)
                    last = pose
        self._at = end
