"""Joint rotation from a device's own orientation quaternion.

Armbands such as the Myo stream a quaternion computed by their firmware's sensor fusion,
which corrects the gyroscope's drift with gravity (about horizontal axes). This chain
turns it into the same ``joint`` chunks as :class:`~isofeedback.dsp.imu_chain.ImuChain`
(rotation vector from the first pose, degrees, plus angular speed), so the movement
detector can use either.
"""

from __future__ import annotations

import numpy as np

from isofeedback.dsp.exact import norm, row_norms, weighted_columns
from isofeedback.types import Chunk, FloatArray

__all__ = ["QuatChain", "rotation_vectors"]


def rotation_vectors(q: FloatArray, ref: FloatArray) -> FloatArray:
    """Rotation vectors (deg) of the rotations ``ref⁻¹ · q`` for quaternions ``q`` (n, 4:
    w, x, y, z) relative to the unit quaternion ``ref`` (4,).

    >>> import numpy as np
    >>> h = np.deg2rad(10.0) / 2
    >>> q = np.array([[np.cos(h), np.sin(h), 0.0, 0.0]])
    >>> [round(float(v), 3) for v in rotation_vectors(q, np.array([1.0, 0, 0, 0]))[0]]
    [10.0, 0.0, 0.0]
    """
    q = q / np.maximum(row_norms(q), 1e-12)[:, None]
    w0, v0 = ref[0], -ref[1:]  # conjugate of ref
    w1, v1 = q[:, 0], q[:, 1:]
    w = w0 * w1 - weighted_columns(v1, v0)
    v = w0 * v1 + w1[:, None] * v0[None, :] + np.cross(np.broadcast_to(v0, v1.shape), v1)
    sign = np.where(w < 0, -1.0, 1.0)  # the shorter of the two equivalent rotations
    w, v = w * sign, v * sign[:, None]
    s = row_norms(v)
    angle = 2.0 * np.arctan2(s, w)
    scale = np.where(s > 1e-12, angle / np.maximum(s, 1e-12), 2.0)
    return np.asarray(np.rad2deg(v * scale[:, None]), dtype=np.float64)


class QuatChain:
    """``quat`` chunks (w, x, y, z) → ``joint`` chunks (rx, ry, rz in deg from the first
    pose; speed in deg/s from consecutive poses).

    >>> import numpy as np
    >>> from isofeedback.types import Chunk
    >>> h = np.deg2rad(np.linspace(0, 6, 50)) / 2
    >>> q = np.stack([np.cos(h), np.sin(h), 0 * h, 0 * h], axis=1)
    >>> out = QuatChain(50.0).process(Chunk("quat", 50.0, 0, 0.0, q, ("w", "x", "y", "z")))
    >>> round(float(out.data[-1, 0]), 2), round(float(out.data[-1, 3]), 2)
    (6.0, 6.12)
    """

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self._reset()

    def _reset(self) -> None:
        self._ref: FloatArray | None = None
        self._last: FloatArray | None = None

    @property
    def calibrated(self) -> bool:
        return self._ref is not None

    def process(self, chunk: Chunk) -> Chunk:
        q = np.asarray(chunk.data[:, :4], dtype=np.float64)
        out = np.zeros((q.shape[0], 4))
        if q.shape[0]:
            if self._ref is None:
                self._ref = q[0] / max(norm(q[0]), 1e-12)
            rot = rotation_vectors(q, self._ref)
            prev = np.concatenate([rot[:1] if self._last is None else self._last[None], rot])
            out[:, :3] = rot
            out[:, 3] = row_norms(np.diff(prev, axis=0)) * self.fs
            self._last = rot[-1].copy()
        return Chunk(
            "joint", chunk.fs, chunk.start_index, chunk.t_first, out,
            ("rx", "ry", "rz", "speed"), chunk.device, chunk.gap_before,
        )
