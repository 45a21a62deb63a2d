"""Encode a simulated session as a real device's notifications, with BLE-like timing.

Packets are built with the profile's own codecs, so the bytes are exactly what the device
would send and the decoder is exercised as with hardware. Arrival times follow the BLE
link: a packet is sent at the first connection event after its last sample is ready,
plus a small jitter; during a scripted disconnect nothing arrives.
"""

from __future__ import annotations

import math

import numpy as np

from isofeedback.profiles.codecs import CODECS
from isofeedback.profiles.schema import Profile
from isofeedback.sim.signals import SimulatedSession
from isofeedback.types import FloatArray, Packet

__all__ = ["packetize", "stream_signal"]


def stream_signal(session: SimulatedSession, stream: str) -> tuple[FloatArray, float]:
    """The session's samples and rate for a profile stream name."""
    table = {
        "emg": (session.emg, session.emg_fs),
        "gyro": (session.gyro, session.imu_fs),
        "accel": (session.accel, session.imu_fs),
        "quat": (session.quat, session.imu_fs),
    }
    if stream not in table:
        raise ValueError(f"the simulated patient has no stream {stream!r}")
    return table[stream]


def packetize(
    session: SimulatedSession,
    profile: Profile,
    device: str = "sim",
    connection_interval_s: float = 0.015,
    latency_s: float = 0.002,
    jitter_s: float = 0.002,
    anchor_s: float = 0.0,
) -> list[Packet]:
    """All packets of the session, sorted by arrival time (deterministic per script seed).

    The link's connection events are at ``anchor_s`` + k × ``connection_interval_s``: a
    wearable's anchor is set when its connection is made, so many wearables on one
    gateway (or one BLE controller, which cannot serve two connections at once) deliver
    at different moments of the interval, not all together."""
    rng = np.random.default_rng(session.script.seed + 7919)
    out: list[tuple[float, int, Packet]] = []
    order = 0
    for spec in profile.packets:
        codec = CODECS[spec.codec](spec)
        fs = spec.streams[0].fs
        sources = []
        for s in spec.streams:
            data, src_fs = stream_signal(session, s.name)
            if abs(src_fs - s.fs) > 1e-9 or data.shape[1] != len(s.channels):
                raise ValueError(
                    f"session has {s.name} at {src_fs} Hz x {data.shape[1]}; profile "
                    f"{profile.id!r} wants {s.fs} Hz x {len(s.channels)}: synthesize to match"
                )
            sources.append(((data - s.offset) / s.scale, s))
        n = sources[0][0].shape[0]
        per = codec.frames_per_packet
        width = max(s.stop for s in spec.streams)
        frames = np.zeros((n, width))
        for raw, s in sources:
            frames[:, s.start : s.stop] = raw
        last_arrival = 0.0
        for k in range(n // per):
            block = frames[k * per : (k + 1) * per]
            ready = (k + 1) * per / fs
            if any(a <= ready < b for a, b in session.script.disconnects):
                continue
            counter = k if spec.counter is None or spec.counter.unit == "packet" else k * per
            payload = codec.encode(block, counter)
            event = anchor_s + (math.ceil((ready - anchor_s) / connection_interval_s)
                                * connection_interval_s)
            # a link delivers one characteristic's notifications in order
            arrival = max(event + latency_s + float(rng.uniform(0.0, jitter_s)), last_arrival)
            last_arrival = arrival
            char = spec.characteristics[k % len(spec.characteristics)]
            out.append((arrival, order, Packet(device, char, payload, arrival)))
            order += 1
    out.sort(key=lambda x: (x[0], x[1]))
    return [p for _, _, p in out]
