"""The source role: an async iterator of packets on the session clock.

Every source (BLE via bleak, replay of a recording, the simulated patient) yields
:class:`Packet` objects whose ``t_arrival`` is seconds since session start; the rest of
the system cannot tell them apart.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from isofeedback.profiles.schema import Profile
from isofeedback.types import Packet

if TYPE_CHECKING:
    from isofeedback.sources.queued import NotificationQueue

__all__ = ["PacketSource", "SourceStatus"]


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A change the service publishes per device: ``availability`` (``online`` /
    ``offline`` / ``connecting`` with a reason) or ``battery`` (percent)."""

    device: str
    kind: str
    t: float
    body: Mapping[str, Any]


class PacketSource(abc.ABC):
    """Base of all sources. ``profiles`` maps device name → profile of what it sends."""

    @property
    @abc.abstractmethod
    def profiles(self) -> Mapping[str, Profile]: ...

    @abc.abstractmethod
    def packets(self) -> AsyncIterator[Packet]:
        """Packets in arrival order until the session ends."""

    async def batches(self) -> AsyncIterator[list[Packet]]:
        """:meth:`packets` in arrival order, grouped: each batch is one packet with those
        that had already arrived behind it when it was taken. A service that fell behind
        (a stall, many wearables on one small computer) then processes what waited in
        one go, which costs less per packet, and catches up instead of falling further
        behind. By default every packet comes alone."""
        async for packet in self.packets():
            yield [packet]

    def now(self) -> float | None:
        """Current session time for a live source (so the service can notice silence);
        None for sources whose time is only what their packets say (replay, simulation)."""
        return None

    def notifications(self) -> NotificationQueue | None:
        """The queue a live source's radio callbacks fill, if it has one
        (:class:`~isofeedback.sources.queued.QueuedSource`): the session loop then takes
        its batches and waits for them (or for silence) on the queue itself; None: it
        iterates :meth:`batches`."""
        return None

    def report(self) -> list[str]:
        """Lines for the end of the session about what the link did (reconnections,
        drops); none for sources without a link."""
        return []
