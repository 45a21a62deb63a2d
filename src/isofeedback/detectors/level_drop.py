"""The level-drop release: an activation ends when its power stays far below its peak.

Seen on real Myo recordings: after the first contraction the "rest" stayed at ~3× the
calibration's amplitude (~10× its power: tone that did not let go, or an electrode that
moved), the release test ("rest" against the hold) never fired and every later
contraction was lost inside one endless activation. Here consecutive blocks lasting
``drop_s`` under ``peak / ratio`` (the strongest block of this activation) end it, at the
start of the first low block; the detector then moves its rest baseline to the new level
so the next onset is judged against it (docs/detection.md, *Release to a raised rest*).
"""

from __future__ import annotations

__all__ = ["LevelDropTracker"]


class LevelDropTracker:
    """Fed the mean power of every full block of one activation (:meth:`block`); says
    when the last ``blocks`` of them all stayed under the peak / ``ratio``.

    >>> d = LevelDropTracker(8.0, 3)
    >>> [d.block(x) for x in (20.0, 30.0, 2.0, 3.0, 3.5)]
    [None, None, None, None, (3, 2.8333333333333335)]
    """

    def __init__(self, ratio: float, blocks: int) -> None:
        self.ratio = ratio
        self.blocks = blocks
        self.start()

    @property
    def peak(self) -> float:
        """The strongest block's mean power of this activation so far."""
        return self._peak

    def start(self) -> None:
        """A new activation begins."""
        self._peak, self._low_blocks, self._low_sum = 0.0, 0, 0.0

    def block(self, level: float) -> tuple[int, float] | None:
        """Take one block's mean power; when it ends the activation, the number of low
        blocks and their mean power (the new rest level)."""
        self._peak = max(self._peak, level)
        if level * self.ratio >= self._peak:
            self._low_blocks, self._low_sum = 0, 0.0
            return None
        self._low_blocks += 1
        self._low_sum += level
        if self._low_blocks < self.blocks:
            return None
        return self._low_blocks, self._low_sum / self._low_blocks
