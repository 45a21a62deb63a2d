"""IMU chain: gyroscope bias at rest, joint rotation from the neutral pose, angular speed.

With one sensor on the moving segment its rotation is the joint's rotation. The gyroscope
is integrated after removing the bias measured during the rest calibration (and slowly
re-estimated whenever the limb is still), giving a rotation vector from the neutral pose
in degrees. For the small rotations of an isometric hold the rotation vector's
components add, which keeps the chain exact under any chunking.
"""

from __future__ import annotations

import numpy as np

from isofeedback.dsp.exact import FEW_ROWS, mean, norm, norm3
from isofeedback.types import Chunk

__all__ = ["JOINT_CHANNELS", "ImuChain"]

#: the chain's output channels: rotation from the neutral pose (deg) and angular speed
JOINT_CHANNELS = ("rx", "ry", "rz", "speed")


class ImuChain:
    """Gyro chunks (deg/s) → ``joint`` chunks with channels rx, ry, rz (deg) and speed (deg/s).

    *Bias.* The rest calibration takes the **mean** rate, not the median: a still limb's
    rate is physiological tremor (several deg/s RMS at 4–10 Hz) whose mean over the window
    is the tiny net rotation divided by the window, while its median can be off by a
    sizeable fraction of the tremor amplitude — integrated over a 10 s hold that error alone
    made a 5° false alarm. Afterwards the bias follows its drift block by block
    (``block_s``, at fixed sample indices so the output does not depend on the chunking):
    a block whose mean rate is under ``still_dps`` and whose RMS rate is under
    ``tremor_dps`` is still, and its mean rate moves the bias with time constant
    ``bias_adapt_s``. A per-sample gate (|rate| < threshold) cannot do this: with tremor
    wider than the gate the selected samples average to zero whatever the bias error.

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
        still_dps: float = 1.5,
        bias_adapt_s: float = 20.0,
        *,
        tremor_dps: float = 20.0,
        block_s: float = 0.5,
    ) -> None:
        self.fs = fs
        self.calibration_s = calibration_s
        self.still_dps = still_dps
        self.bias_adapt_s = bias_adapt_s
        self.tremor_dps = tremor_dps
        self.block_s = block_s
        self._reset()

    def _reset(self) -> None:
        self._calib: list[np.ndarray] = []
        self._calib_n = 0
        self.bias: np.ndarray | None = None
        self._rotation = np.zeros(3)
        self._n = 0  # samples seen
        self._block = max(1, int(round(self.block_s * self.fs)))
        # rates (bias removed) of the current block (arrays, or a live packet's floats)
        self._blk: list[np.ndarray | list[list[float]]] = []

    @property
    def calibrated(self) -> bool:
        return self.bias is not None

    @property
    def calibration_left(self) -> int:
        """Samples still needed before the bias is known (0 once it is): whoever feeds
        many packets at once can tell after which one the chain is calibrated."""
        if self.bias is not None:
            return 0
        return int(round(self.calibration_s * self.fs)) - self._calib_n

    def process(self, chunk: Chunk) -> Chunk:
        g = chunk.data[:, :3]
        n = g.shape[0]
        if (self.bias is not None and 0 < n <= FEW_ROWS
                and self._n % self._block + n <= self._block):
            done = self._process_few(chunk)
            if done is not None:
                return done
        out = np.zeros((n, 4))
        start = 0
        if self.bias is None:
            need = int(round(self.calibration_s * self.fs)) - self._calib_n
            take = min(need, n)
            self._calib.append(g[:take].copy())
            self._calib_n += take
            start = take
            if self._calib_n >= int(round(self.calibration_s * self.fs)):
                self.bias = np.mean(np.concatenate(self._calib), axis=0)
                self._calib = []
        i = start
        dt = 1.0 / self.fs
        while self.bias is not None and i < n:
            a = self._n + i
            take = min(n - i, self._block - a % self._block)
            w = g[i : i + take] - self.bias
            steps = np.concatenate([self._rotation[None, :], w * dt])
            rot = np.cumsum(steps, axis=0)[1:]  # sequential sums: exact under any chunking
            out[i : i + take, :3] = rot
            out[i : i + take, 3] = np.sqrt((w * w).sum(axis=1))
            self._rotation = rot[-1].copy()
            self._blk.append(w)
            if (a + take) % self._block == 0:
                self._end_block()
            i += take
        self._n += n
        return Chunk(
            "joint",
            chunk.fs,
            chunk.start_index,
            chunk.t_first,
            out,
            JOINT_CHANNELS,
            chunk.device,
            chunk.gap_before,
        )

    def _process_few(self, chunk: Chunk) -> Chunk | None:
        """:meth:`process` of a live packet's few rows (after the bias calibration,
        within one block) in Python floats: the same subtraction, products and sequential
        sums as the array path, the speed as :func:`~isofeedback.dsp.exact.norm3` (numpy
        sums a row of three left to right). None (nothing done) when a value is not
        finite: the array path takes the chunk.

        Why: a Myo's IMU packet is one row, 50 a second per wearable, and the array path
        costs ~10 numpy calls per packet (``tests/dsp/test_imu_few_rows.py`` holds the two
        paths to the same bits)."""
        rows = chunk.data.tolist()
        assert self.bias is not None
        bx, by, bz = self.bias.tolist()
        for row in rows:
            for v in row[:3]:
                if v - v != 0.0:  # NaN or infinite
                    return None
        dt = 1.0 / self.fs
        rx, ry, rz = self._rotation.tolist()
        ws, out = [], []
        for row in rows:
            wx, wy, wz = row[0] - bx, row[1] - by, row[2] - bz
            rx += wx * dt
            ry += wy * dt
            rz += wz * dt
            ws.append([wx, wy, wz])
            out.append([rx, ry, rz, norm3(wx, wy, wz)])
        self._rotation = np.array([rx, ry, rz])
        self._blk.append(ws)
        self._n += len(rows)
        if self._n % self._block == 0:
            self._end_block()
        return Chunk.trusted("joint", chunk.fs, chunk.start_index, chunk.t_first,
                             np.array(out, dtype=np.float64), JOINT_CHANNELS, chunk.device,
                             chunk.gap_before)

    def _end_block(self) -> None:
        """At a block boundary: a still block moves the bias towards its mean rate."""
        w = (np.concatenate(self._blk) if len(self._blk) > 1
             else np.asarray(self._blk[0], dtype=np.float64))
        self._blk = []
        if self.bias is None or w.shape[0] < self._block // 2:
            return
        rate = mean(w, axis=0)
        rms = float(np.sqrt(mean((w * w).sum(axis=1))))
        if norm(rate) < self.still_dps and rms < self.tremor_dps:
            alpha = min(1.0, self.block_s / max(self.bias_adapt_s, 1e-9))
            self.bias = self.bias + alpha * rate
