"""A rest that rose, seen in a train of brief activations.

The rest model (:mod:`.rest_model`) follows only blocks that were rest throughout: each
onset drops the blocks still waiting ``confirm_s`` and each release bars the next
``settle_s``. When the rest's power rises during a hold (an electrode's noise level
drifting, measured on our second generator: ×2.2 during a 6 s hold), the detector decides
an onset every ~0.5 s after the release, each one too brief for a contraction and
retracted, and the baseline never catches up: for as long as the rest stays up, each one
reaches the live feedback (while the coach waits for a contraction, the page shows "Tense"
and back) before its ``retracted`` event (docs/detection.md, *Brief activations after a
hold*).

Judged on one activation, a brief one cannot be told from the first part of a weak
contraction. A train can: ``count`` brief activations within ``window`` samples and since
the last contraction (its release and ``settle_s``; at least half a window), active for at
most ``duty`` of the time from the first one's onset: blips on a raised rest, each
~0.1 s, one every ~0.5 s. A weak contraction that the detector broke into brief
activations is active most of that time (measured on our second generator: 0.2–0.5 s
pieces, 0.25 s apart; a duty of ~0.7) and is not taken for a rest. The rest then rises to
the ``quantile`` of the window's blocks, in the input's units.

At wearable rates each blip lasts longer (~0.3 s at 200 Hz: the release is decided on
fewer samples), so blips on a raised rest fill the duty too. Several electrodes tell
them apart (:mod:`.sensor_rise`): a weak contraction in pieces raises them in the
muscle's pattern, a sensor's noise all alike. Given ``sensor`` (the common part of the
rise over a span of samples), a train over the duty still raises the rest when at least
:data:`SENSOR_MOST` of the rise is common to every electrode, and the part of the rise
said to be the sensor's (which moves the coach's baseline) is the common part.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from isofeedback.detectors.sensor_rise import SENSOR_MOST

__all__ = ["RestRiseWatch"]


class RestRiseWatch:
    """Fed every block's mean power (input units) and each brief activation's end;
    says by how much the rest rose when a train of brief activations shows it.

    >>> w = RestRiseWatch(window=16, count=3, block=2, quantile=0.2, duty=0.4)
    >>> for end in range(2, 18, 2):
    ...     w.block(end, 3.0)
    >>> w.brief(5, 6, 1.0), w.brief(10, 11, 1.0), w.brief(15, 16, 1.0)
    (None, None, (3.0, 3.0, False))
    """

    def __init__(self, window: int, count: int, block: int, quantile: float,
                 duty: float) -> None:
        self.window = window
        self.count = count
        self.block_n = block
        self.quantile = quantile
        self.duty = duty
        self._reset()

    def _reset(self) -> None:
        self._blocks: deque[tuple[int, float]] = deque()  # (end sample, mean power)
        self._brief: deque[tuple[int, int]] = deque()  # brief activations: onset, release
        self._clean_from = 0  # no contraction from this sample on

    def block(self, end: int, power: float | None) -> None:
        """The block ending at sample ``end`` had mean ``power`` (None: mostly gated)."""
        if power is not None:
            self._blocks.append((end, power))
        while self._blocks and self._blocks[0][0] <= end - self.window:
            self._blocks.popleft()

    def contraction(self, clean_from: int) -> None:
        """A contraction (an activation not retracted) was released: the window must
        begin at ``clean_from`` or later (its tail is not rest)."""
        self._clean_from = clean_from
        self._brief.clear()

    def brief(self, onset: int, k: int, rest: float,
              sensor: Callable[[int, int], float | None] | None = None
              ) -> tuple[float, float, bool] | None:
        """A brief activation from sample ``onset`` (back-dated) was released at sample
        ``k`` (back-dated) with the rest power at ``rest`` (input units): the factor the
        rest rose by, the factor of it that is the sensor's noise, and whether the
        electrodes told that part; or None. ``sensor``: the part of the power over
        samples ``a`` to ``b`` risen on every electrode alike, in rest units (None:
        cannot tell)."""
        self._brief.append((onset, k))
        start = max(k - self.window, self._clean_from)
        while self._brief and self._brief[0][0] <= start:
            self._brief.popleft()
        if len(self._brief) < self.count:
            return None
        powers = [p for end, p in self._blocks if end - self.block_n >= start]
        if len(powers) < max(1, self.window // (2 * self.block_n)):
            return None  # under half a window since the contraction, or gated
        level = float(np.quantile(powers, self.quantile))
        if not level > rest:
            return None
        first = self._brief[0][0]
        # the sensor's part: what the electrodes show common to all of them (the
        # quantile above is taken low, for the blips in the window); when they cannot
        # tell, blips on a raised rest say it is all the sensor's
        share = sensor(first, k) if sensor is not None else None
        noise = 1.0 + share if share is not None else level / rest
        active = sum(b - a for a, b in self._brief)
        if active > self.duty * (k - first) and (
                share is None or noise < SENSOR_MOST * level / rest):
            return None  # mostly active: a weak contraction in pieces, not blips
        self._brief.clear()
        return level / rest, noise, share is not None
