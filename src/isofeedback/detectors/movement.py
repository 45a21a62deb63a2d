"""Joint movement during a contraction: the isometric rule broken.

Armed at contraction onset with the pose at that moment as reference; it reports a
movement when the joint has rotated more than ``max_deg`` from that reference, and the end
of the movement once the joint is still again. Disarmed outside contractions, where
movement is the allowed stretch.
"""

from __future__ import annotations

import numpy as np

from isofeedback.dsp.exact import FEW_ROWS, norm, norm3, row_norms
from isofeedback.types import Chunk, Event, EventType

__all__ = ["MovementDetector"]


class MovementDetector:
    """``joint`` chunks → movement / movement_end events while armed.

    >>> import numpy as np
    >>> from isofeedback.types import Chunk
    >>> j = np.zeros((100, 4)); j[60:, 0] = np.linspace(0, 9, 40); j[60:, 3] = 20.0
    >>> d = MovementDetector(fs=100.0); d.arm(0.0)
    >>> c = Chunk("joint", 100.0, 0, 0.0, j, ("rx", "ry", "rz", "speed"))
    >>> [(e.type.value, round(e.t, 2)) for e in d.process(c)]
    [('movement', 0.82)]
    """

    def __init__(
        self, fs: float, max_deg: float = 5.0, still_dps: float = 5.0, still_s: float = 0.3,
        at_sample_time: bool = False,
    ) -> None:
        """``at_sample_time``: an arming or disarming that the joint stream has not reached
        yet waits for it and takes effect at the first joint sample at or after its time, so
        results do not depend on how EMG and joint streams were cut into chunks (foreign
        files, read in chunks of any size). Off, a disarming takes effect at once, in the
        order the chunks arrive: live sessions and their recordings keep that order."""
        self.fs = fs
        self.max_deg = max_deg
        self.still_dps = still_dps
        self.still_s = still_s
        self.at_sample_time = at_sample_time
        self._reset()

    def _reset(self) -> None:
        self.armed = False
        self._arm_t = 0.0
        self._ref: np.ndarray | None = None
        self.moving = False
        self._still = 0
        self.last_angle = 0.0
        self._last: tuple[np.ndarray, np.ndarray] | None = None  # times, poses of last chunk
        self._n = 0  # samples seen
        self._t0: float | None = None
        # (time, arm?) that wait for the joint stream to reach their time (at_sample_time)
        self._waiting: list[tuple[float, bool]] = []

    @property
    def time_base(self) -> float | None:
        """Session time of sample 0 (None before any chunk): a chunk whose own start is
        more than a quarter sample off it moves it (see :meth:`process`)."""
        return self._t0

    def _ahead(self, t: float) -> bool:
        """Whether ``t`` is still ahead of the joint stream (or other commands wait first)."""
        if not self.at_sample_time:
            return False
        return bool(self._waiting) or self._last is None or float(self._last[0][-1]) < t - 1e-9

    def arm(self, t: float) -> None:
        """Start watching; the pose at the first sample at or after ``t`` is the reference
        — taken from the last chunk seen if it already holds that sample (the arming
        decision can arrive after the IMU samples of that moment, depending on how the
        streams were chunked; the reference must not)."""
        if self._ahead(t):
            self._waiting.append((t, True))
            return
        self._arm_now(t)

    def _arm_now(self, t: float) -> None:
        self.armed = True
        self._arm_t = t
        self._ref = None
        self.moving = False
        self._still = 0
        if self._last is not None:
            times, rot = self._last
            k = int(np.searchsorted(times, t - 1e-9))
            if k < times.size:
                self._ref = rot[k].copy()

    def disarm(self, t: float | None = None) -> None:
        """Stop watching: at once, or (``at_sample_time``) at the first joint sample at or
        after ``t``, the moment the release was decided."""
        if t is not None and self._ahead(t):
            self._waiting.append((t, False))
            return
        self.armed = False
        self._ref = None

    def _anchor(self, chunk: Chunk) -> float:
        """Sample times come from one anchor and the sample count (each chunk's own
        ``t_first`` would make the last bit depend on the chunking); re-anchored on a
        clock jump. Returns the anchor."""
        t0 = chunk.t_first - self._n / self.fs
        if self._t0 is None or abs(t0 - self._t0) > 0.25 / self.fs:
            self._t0 = t0
            return t0
        return self._t0

    def process(self, chunk: Chunk) -> list[Event]:
        if (0 < chunk.n <= FEW_ROWS and not self._waiting and not (self.armed and self.moving)
                and self._process_few(chunk)):
            return []
        rot = chunk.data[:, :3]
        speed = chunk.data[:, 3]
        times = self._anchor(chunk) + (self._n + np.arange(chunk.n)) / self.fs
        self._n += chunk.n
        events: list[Event] = []
        start = 0
        while self._waiting:  # commands the stream reaches in this chunk, at their sample
            t, arm = self._waiting[0]
            k = int(np.searchsorted(times, t - 1e-9))
            if k >= chunk.n:
                break
            events += self._watch(times[start:k], rot[start:k], speed[start:k])
            self._waiting.pop(0)
            if arm:
                self._arm_now(t)
            else:
                self.armed, self._ref = False, None
            start = k
        events += self._watch(times[start:], rot[start:], speed[start:])
        if chunk.n:
            self._last = (times, rot)
        return events

    def _process_few(self, chunk: Chunk) -> bool:
        """:meth:`process` of a live packet's few rows in Python floats when nothing
        happens in it: disarmed, or armed on a still hold that stays within ``max_deg``
        (nothing waiting, not moving). The sample times, the distances from the reference
        pose (three squares summed left to right, as ``row_norms`` and ``norm`` sum them)
        and their square roots are the array path's operations. False, with nothing
        changed, otherwise (a movement starts, a value is not finite): :meth:`process`
        takes the chunk on the array path.

        Why: a Myo's IMU packet is one row, 50 a second per wearable; the array path's
        dozen numpy calls cost more than the rest of this detector
        (``tests/dsp/test_imu_few_rows.py`` holds the two paths to the same bits)."""
        rows = chunk.data.tolist()
        n0, fs = self._n, self.fs
        t0 = self._anchor(chunk)  # the array path would anchor the same way
        if t0 - t0 != 0.0:
            return False
        times = [t0 + (n0 + k) / fs for k in range(len(rows))]
        ref = self._ref
        angle = self.last_angle
        if self.armed:
            floor = self._arm_t - 1e-9
            first = next((k for k, t in enumerate(times) if t >= floor), len(rows))
            if first < len(rows):
                rx, ry, rz = rows[first][:3] if ref is None else ref.tolist()
                for row in rows[first:]:
                    dx, dy, dz = row[0] - rx, row[1] - ry, row[2] - rz
                    angle = norm3(dx, dy, dz)
                    if not angle <= self.max_deg:
                        return False  # a movement (or not a number): the array path
                if ref is None:
                    ref = np.array([rx, ry, rz])
        self._n = n0 + len(rows)
        self._ref = ref
        self.last_angle = angle
        self._last = (np.array(times), chunk.data[:, :3])
        return True

    def _watch(self, times: np.ndarray, rot: np.ndarray, speed: np.ndarray) -> list[Event]:
        """The samples of one stretch with the same arming: movement events while armed."""
        events: list[Event] = []
        n = times.size
        if n:
            self._last = (times, rot)
        if not self.armed:
            return events
        need_still = max(1, int(round(self.still_s * self.fs)))
        first = int(np.searchsorted(times, self._arm_t - 1e-9))
        if not self.moving and first < n:
            # the usual case, a still hold: one vectorised check, then only the samples from
            # a crossing on go through the per-sample state machine below
            if self._ref is None:
                self._ref = rot[first].copy()
            d = rot[first:] - self._ref
            over = np.flatnonzero(row_norms(d) > self.max_deg)
            if over.size == 0:
                last = d[-1]
                self.last_angle = norm(last)
                return events
            first += int(over[0])
        # sample by sample from here, in Python floats: the same differences, and
        # norm3's squares and sum are norm's to the bit (dsp/exact.py); the reference
        # pose is written back as the array it is
        ts, rows, speeds = times.tolist(), rot.tolist(), speed.tolist()
        ref = None if self._ref is None else self._ref.tolist()
        for k in range(first, n):
            t = ts[k]
            if t < self._arm_t - 1e-9:  # sample times carry rounding: same sample any chunking
                continue
            row = rows[k]
            if ref is None:
                ref = row
            angle = norm3(row[0] - ref[0], row[1] - ref[1], row[2] - ref[2])
            self.last_angle = angle
            if not self.moving:
                if angle > self.max_deg:
                    self.moving = True
                    self._still = 0
                    events.append(
                        Event(EventType.MOVEMENT, t, t, "imu", angle, {"speed_dps": speeds[k]})
                    )
            else:
                self._still = self._still + 1 if speeds[k] < self.still_dps else 0
                if self._still >= need_still:
                    self.moving = False
                    ref = row  # a new still pose: judge further moves from it
                    events.append(Event(EventType.MOVEMENT_END, t, t, "imu", angle))
        if ref is not None:
            self._ref = np.array(ref, dtype=np.float64)
        return events
