"""Replay of a native recording as a packet source (the pipeline cannot tell it from BLE).

Packets come back with their recorded arrival times, paced by :func:`sources.pacing.paced`
(real time with drift correction, N× or as fast as possible). The recording is read in
batches of ``batch`` rows; the pipeline sees the same packet sequence whatever the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from isofeedback.profiles.schema import Profile
from isofeedback.recording.reader import RecordingReader
from isofeedback.sources.pacing import PacedSource
from isofeedback.types import Packet

__all__ = ["ReplaySource"]


class ReplaySource(PacedSource):
    """Streams the packets of an open recording at ``speed`` × real time (None = max)."""

    def __init__(self, reader: RecordingReader, speed: float | None = None) -> None:
        self.reader = reader
        self.speed = speed
        self._profiles = reader.profiles()

    @property
    def profiles(self) -> Mapping[str, Profile]:
        return self._profiles

    def timed_packets(self) -> Iterable[Packet]:
        return self.reader.packets()
