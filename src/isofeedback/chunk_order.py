"""Where each chunk of a window of packets falls in the order :meth:`Pipeline.feed` takes
them, as arrays: what a bulk pass needs to tell the coach about its results in that order
without walking the packets one by one.

``feed`` takes a window's packets one after the other and, in a packet, its chunks in its
streams' order; a chunk has a *role* (a small int: the EMG, the gyroscope, …). A packet
kind has the same roles in every packet, so the window is described by groups: a kind's
roles and its packets' indices.

>>> order = ChunkOrder([((1, 2), [0, 2]), ((3,), [1, 3])])  # kind A: roles 1, 2; kind B: 3
>>> order.role.tolist(), order.packet.tolist()
([1, 2, 3, 1, 2, 3], [0, 0, 1, 2, 2, 3])
>>> order.before(2, order.where(1)).tolist()  # role-2 chunks before each role-1 chunk
[0, 1]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["ChunkOrder", "IntArray"]

IntArray = npt.NDArray[np.int64]
_SLOTS = 8  # chunk positions per packet in the sort key (a packet has fewer streams)


class ChunkOrder:
    """The chunks of ``groups`` (each: a packet kind's roles, in its streams' order, and
    its packets' indices) in ``feed``'s order: each one's role and packet."""

    def __init__(self, groups: Iterable[tuple[tuple[int, ...], Sequence[int]]]) -> None:
        keys: list[IntArray] = []
        roles: list[IntArray] = []
        for kind_roles, members in groups:
            if len(kind_roles) > _SLOTS:
                raise ValueError(f"a packet of {len(kind_roles)} streams: at most {_SLOTS}")
            first = np.asarray(members, dtype=np.int64) * _SLOTS
            for slot, role in enumerate(kind_roles):
                keys.append(first + slot)
                roles.append(np.full(first.size, role, dtype=np.int64))
        key = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
        ordered = np.argsort(key, kind="stable")
        #: each chunk's role and packet index, in feed()'s order
        self.role: IntArray = (np.concatenate(roles)[ordered] if roles
                               else np.zeros(0, dtype=np.int64))
        self.packet: IntArray = key[ordered] // _SLOTS
        self._where: dict[int, IntArray] = {}

    def where(self, role: int) -> IntArray:
        """The positions of ``role``'s chunks."""
        found = self._where.get(role)
        if found is None:
            found = self._where[role] = np.flatnonzero(self.role == role)
        return found

    def before(self, role: int, positions: IntArray) -> IntArray:
        """How many of ``role``'s chunks come before each of ``positions``."""
        return np.searchsorted(self.where(role), positions).astype(np.int64)

    def end_of_packet(self, packet: int) -> int:
        """The position just after ``packet``'s last chunk."""
        return int(np.searchsorted(self.packet, packet, side="right"))
