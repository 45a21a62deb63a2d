"""What one fused sample of several EMG channels is worth, measured on the rest.

A mean of ``d`` independent Gaussian channels' powers (rest units) scatters as a χ² with
``d`` degrees of freedom over ``d``: variance ``2 / d``, and its log-likelihood ratio is
``d`` times one channel's. So ``d`` is read off the rest itself, ``2·mean² / var``, on at
least :data:`MIN_REST_S` of quiet rest since the fusion weights last changed, decaying
with the rest model's time constant, and never above the weights' own channel count.
Measured on the running rest, not on the calibration: real channels share noise and real
rest flickers, which only the rest itself shows (docs/detection.md, *Eight channels*).
"""

from __future__ import annotations

import numpy as np

from isofeedback.types import FloatArray

__all__ = ["MIN_REST_S", "FusedEvidence"]

#: quiet rest (s) seen since the fusion weights last changed before a fused sample counts
#: as more than one channel's evidence
MIN_REST_S = 2.0


class FusedEvidence:
    """``evidence``: how many channels' worth one fused sample is (1 until measured).

    >>> f = FusedEvidence(100.0)
    >>> f.restart(8.0)
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(12):  # 3 s of rest blocks, the mean of 8 independent channels
    ...     f.update(np.mean(rng.standard_normal((25, 8)) ** 2, axis=1), 0.01)
    >>> 5.0 < f.evidence <= 8.0
    True
    """

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self._reset()

    def _reset(self) -> None:
        self.dof_cap = 1.0  # the weights' effective channel count
        self.evidence = 1.0
        self._mom = np.zeros(3)  # decayed count, Σz, Σz² of quiet rest samples

    def restart(self, dof: float) -> None:
        """The fusion weights changed (``dof``: their effective channel count): what one
        fused rest sample is worth must be measured again; until then it counts as one
        channel's."""
        self.dof_cap = dof
        self.evidence = 1.0
        self._mom[:] = 0.0

    def update(self, zs: FloatArray, alpha: float) -> None:
        """Take in a quiet rest block ``zs`` (powers in rest units) with decay ``alpha``."""
        if self.dof_cap <= 1.0:
            return
        m = self._mom
        keep = 1.0 - alpha
        m[0] = m[0] * keep + zs.size
        m[1] = m[1] * keep + float(np.add.reduce(zs))
        m[2] = m[2] * keep + float(np.add.reduce(zs * zs))
        if m[0] < MIN_REST_S * self.fs:
            return
        mean = m[1] / m[0]
        var = m[2] / m[0] - mean * mean
        d = 2.0 * mean * mean / var if var > 0 else self.dof_cap
        self.evidence = min(max(d, 1.0), self.dof_cap)
