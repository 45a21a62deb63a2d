"""The gyroscope bias: calibrated and followed under tremor, so still holds stay still."""

from __future__ import annotations

import numpy as np

from isofeedback.dsp.imu_chain import ImuChain
from isofeedback.dsp.orientation import QuatChain
from isofeedback.research.eval import chunk_stream
from isofeedback.sim.script import Artifacts, Contraction, PatientScript
from isofeedback.sim.signals import synthesize


def _still(seed: int) -> PatientScript:
    return PatientScript(duration=60.0, contractions=(Contraction(3.0, 0.2, 50.0),),
                         artifacts=Artifacts(snr_db=10.0), seed=seed)


def test_still_limb_with_tremor_drifts_less_than_a_degree_per_ten_seconds() -> None:
    worst = 0.0
    for seed in range(5):
        ses = synthesize(_still(seed), emg_fs=200.0, imu_fs=100.0)
        chain = ImuChain(100.0, 2.0)
        rot = np.vstack([chain.process(c).data[:, 0] [:, None]
                         for c in chunk_stream(ses.gyro, 100.0, "gyro", 0.05)])[:, 0]
        err = rot - (ses.angle - ses.angle[0])
        # drift over any 10 s window after calibration (tremor itself is in both)
        d = np.abs(err[1200:] - err[200:-1000])
        worst = max(worst, float(d.max()))
    assert worst < 2.0  # a 5° alarm needs far more


def test_bias_follows_a_drifting_gyro_while_still() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(6000) / 100.0
    g = rng.standard_normal((6000, 3)) * 0.3
    g[:, 0] += 8.0 * np.sin(2 * np.pi * 7.0 * t)  # tremor, wider than any per-sample gate
    g[500:, 1] += 1.0  # the bias steps by 1 deg/s after 5 s
    chain = ImuChain(100.0, 2.0)
    for c in chunk_stream(g, 100.0, "gyro", 0.05):
        chain.process(c)
    assert chain.bias is not None and abs(float(chain.bias[1]) - 1.0) < 0.15


def test_device_quaternion_gives_the_joint_rotation() -> None:
    ses = synthesize(_still(1), emg_fs=200.0, imu_fs=100.0)
    out = QuatChain(100.0).process(
        next(iter(chunk_stream(ses.quat, 100.0, "quat", 60.0))))
    # the firmware fusion's error: its uncorrected gyro bias holds it ~1.6° off the pose
    assert np.abs(out.data[:, 0] - (ses.angle - ses.angle[0])).max() < 2.5
