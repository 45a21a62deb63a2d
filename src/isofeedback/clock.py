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
        candidate = t_arrival - end_index / self.fs
        if self._offset is None or candidate < self._offset:
            self._offset = candidate
        else:
            # follow a slow device clock, never faster than the allowed drift
            rise = (t_arrival - self._last_arrival) * self.max_drift_ppm * 1e-6
            self._offset = min(candidate, self._offset + max(rise, 0.0))
        self._last_arrival = t_arrival

    def observe_time_of(self, end_index: int, t_arrival: float, index: int) -> float:
        """:meth:`observe` then :meth:`time_of` ``index``, in one call (the decoder's
        per-packet step), with the same arithmetic."""
        candidate = t_arrival - end_index / self.fs
        offset = self._offset
        if offset is None or candidate < offset:
            offset = candidate
        else:
            rise = (t_arrival - self._last_arrival) * self.max_drift_ppm * 1e-6
            offset = min(candidate, offset + max(rise, 0.0))
        self._offset = offset
        self._last_arrival = t_arrival
        return offset + index / self.fs

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
