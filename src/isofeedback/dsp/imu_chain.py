"""IMU chain: gyroscope bias at rest, joint rotation from the neutral pose, angular speed.

With one sensor on the moving segment its rotation is the joint's rotation. The gyroscope
is integrated after removing the bias measured during the rest calibration (and slowly
re-estimated whenever the limb is still), giving a rotation vector from the neutral pose
in degrees. For the small rotations of an isometric hold the rotation vector's
components add, which keeps the chain exact under any chunking.
"""

from __future__ import annotations

import numpy as np

from isofeedback.types import Chunk

__all__ = ["ImuChain"]


class ImuChain:
    """Gyro chunks (deg/s) → ``joint`` chunks with channels rx, ry, rz (deg) and speed (deg/s).

    >>> import numpy as np
    >>> from isofeedback.types import Chunk
    >>> g = np.zeros((300, 3)); g[:, 0] = 0.5; g[200:250, 0] += 10.0   # bias + 5 deg turn
    >>> c = Chunk("gyro", 100.0, 0, 0.0, g, ("x", "y", "z"))
    >>> out = ImuChain(fs=100.0, calibration_s=1.0).process(c)
    >>> round(float(out.data[-1, 0]), 1), round(float(out.data[100, 3]), 1)
    (5.0, 0.0)
    """

    def __init__(
        self,
        fs: float,
        calibration_s: float = 2.0,
        still_dps: float = 3.0,
        bias_adapt_s: float = 20.0,
    ) -> None:
        self.fs = fs
        self.calibration_s = calibration_s
        self.still_dps = still_dps
        self.bias_adapt_s = bias_adapt_s
        self._reset()

    def _reset(self) -> None:
        self._calib: list[np.ndarray] = []
        self._calib_n = 0
        self.bias: np.ndarray | None = None
        self._rotation = np.zeros(3)

    @property
    def calibrated(self) -> bool:
        return self.bias is not None

    def process(self, chunk: Chunk) -> Chunk:
        g = chunk.data[:, :3]
        n = g.shape[0]
        out = np.zeros((n, 4))
        start = 0
        if self.bias is None:
            need = int(round(self.calibration_s * self.fs)) - self._calib_n
            take = min(need, n)
            self._calib.append(g[:take].copy())
            self._calib_n += take
            start = take
            if self._calib_n >= int(round(self.calibration_s * self.fs)):
                self.bias = np.median(np.concatenate(self._calib), axis=0)
                self._calib = []
        if self.bias is not None and start < n:
            alpha = 1.0 / max(self.bias_adapt_s * self.fs, 1.0)
            dt = 1.0 / self.fs
            rot = self._rotation
            bias = self.bias
            for k in range(start, n):
                w = g[k] - bias
                speed = float(np.sqrt(w @ w))
                if speed < self.still_dps:
                    bias = bias + alpha * w  # limb still: let the bias follow its drift
                    w = g[k] - bias
                rot = rot + w * dt
                out[k, :3] = rot
                out[k, 3] = speed
            self._rotation, self.bias = rot, bias
        return Chunk(
            "joint",
            chunk.fs,
            chunk.start_index,
            chunk.t_first,
            out,
            ("rx", "ry", "rz", "speed"),
            chunk.device,
            chunk.gap_before,
        )
