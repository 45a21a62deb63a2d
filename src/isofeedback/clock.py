"""The session clock: sample indices → seconds since session start.

Devices sample at their own (slightly wrong) rate and BLE delivers packets in bursts with a
variable delay. Time is therefore derived from sample indices and anchored to arrival times:
the offset is the *lowest* observed ``arrival − index/fs`` (the packet that travelled
fastest), allowed to rise slowly so a device whose clock runs slow is followed too.
Arrival times are recorded, so replay recomputes exactly the same times. They come from
the event loop's monotonic clock (``sources/ble.py``), never from the wall clock, so an
NTP correction or a user changing the time mid-session moves no event or cue.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from isofeedback.types import FloatArray

__all__ = ["StreamClock"]


class StreamClock:
    """Maps one stream's sample index to session time.

    >>> c = StreamClock(fs=100.0)
    >>> c.observe(end_index=10, t_arrival=1.13)   # 10 samples arrived 30 ms late
    >>> c.observe(end_index=20, t_arrival=1.21)   # these travelled 10 ms faster
    >>> round(c.time_of(0), 3)
    1.01
    """

    def __init__(self, fs: float, max_drift_ppm: float = 500.0) -> None:
        self.fs = fs
        self.max_drift_ppm = max_drift_ppm
        self._reset()

    def _reset(self) -> None:
        self._offset: float | None = None
        self._last_arrival = 0.0

    @property
    def anchored(self) -> bool:
        return self._offset is not None

    def observe(self, end_index: int, t_arrival: float) -> None:
        """A packet ending just before sample ``end_index`` arrived at ``t_arrival``."""
        self._offset = _follow(self._offset, t_arrival - end_index / self.fs,
                               (t_arrival - self._last_arrival) * self.max_drift_ppm * 1e-6)
        self._last_arrival = t_arrival

    def observe_time_of(self, end_index: int, t_arrival: float, index: int) -> float:
        """:meth:`observe` then :meth:`time_of` ``index``, in one call (the decoder's
        per-packet step), with the same arithmetic."""
        offset = self._offset = _follow(
            self._offset, t_arrival - end_index / self.fs,
            (t_arrival - self._last_arrival) * self.max_drift_ppm * 1e-6)
        self._last_arrival = t_arrival
        return offset + index / self.fs

    def offsets_after(self, end_index: npt.NDArray[np.int64], t_arrival: FloatArray,
                      ) -> list[float]:
        """The offset after each of many packets (packet ``k`` ends just before sample
        ``end_index[k]`` and arrived at ``t_arrival[k]``), not moving the clock: what
        :meth:`observe` would leave after each in turn, to the bit. The candidates and
        rises are :meth:`observe`'s expressions evaluated elementwise (numpy's ``-``,
        ``/`` and ``*`` round as Python's floats do); only the running minimum, which
        depends on the previous offset, is a loop. A decoder decoding a run of packets
        at once (:meth:`Decoder.decode_many`) commits the last with :meth:`settle`."""
        candidates = (t_arrival - end_index / self.fs).tolist()
        before = np.concatenate(([self._last_arrival], t_arrival[:-1]))
        rises = ((t_arrival - before) * self.max_drift_ppm * 1e-6).tolist()
        offsets: list[float] = []
        append = offsets.append
        offset = self._offset
        for candidate, rise in zip(candidates, rises, strict=True):
            offset = _follow(offset, candidate, rise)
            append(offset)
        return offsets

    @property
    def state(self) -> tuple[float | None, float]:
        """What the next observation depends on (two clocks of one rate in the same state
        give the same times for the same packets)."""
        return self._offset, self._last_arrival

    def settle(self, offset: float, t_arrival: float) -> None:
        """Take the state :meth:`offsets_after` computed for a packet arriving at
        ``t_arrival`` (the last of the run)."""
        self._offset = offset
        self._last_arrival = t_arrival

    def expected_arrival(self, end_index: int) -> float | None:
        """Earliest time a packet ending at ``end_index`` could arrive (None before anchoring)."""
        if self._offset is None:
            return None
        return self._offset + end_index / self.fs

    def time_of(self, index: int) -> float:
        """Session time of sample ``index``."""
        if self._offset is None:
            raise RuntimeError("clock not anchored yet: observe() a packet first")
        return self._offset + index / self.fs


def _follow(offset: float | None, candidate: float, rise: float) -> float:
    """The clock's offset after a packet whose ``arrival − index/fs`` is ``candidate``,
    ``rise`` (the allowed drift since the previous arrival) after the previous offset:
    the lowest candidate, allowed to rise slowly so a device whose clock runs slow is
    followed, never faster than the allowed drift. (The one rule of every observation.)"""
    if offset is None or candidate < offset:
        return candidate
    return min(candidate, offset + max(rise, 0.0))
