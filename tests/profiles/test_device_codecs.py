"""Device codecs: documented byte vectors, round trips with the simulated sensor, losses."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from isofeedback.errors import PacketError
from isofeedback.profiles.bits import pack_signed, unpack_signed
from isofeedback.profiles.codecs import CODECS
from isofeedback.profiles.decoder import Decoder
from isofeedback.profiles.schema import Profile, find_profile
from isofeedback.sim import packetize, protocol_script, synthesize
from isofeedback.sim.signals import SimulatedSession
from isofeedback.types import Packet

PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
GANGLION_DATA = "2d30c082-f39f-4ce6-923f-3484ea480596"
NPG_DATA = "beb5483e-36e1-4688-b7f5-ea07361b26a8"
MYO_UUID = "d506{}-a904-deb9-4748-2c7f4a124842"
MYO_EMG = [MYO_UUID.format(x) for x in ("0105", "0205", "0305", "0405")]
MYO_IMU = MYO_UUID.format("0402")


def codec(profile: str, packet: int = 0):  # type: ignore[no-untyped-def]
    spec = find_profile(profile).packets[packet]
    return CODECS[spec.codec](spec)


# ------------------------------------------------------------------ bit packing


@pytest.mark.parametrize("msb", [True, False])
@pytest.mark.parametrize("bits", [3, 7, 18, 19, 24])
def test_bits_round_trip_at_the_limits(bits: int, msb: bool) -> None:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    values = [lo, hi, 0, -1, 1, lo + 1, hi - 1]
    assert unpack_signed(pack_signed(values, bits, msb), bits, len(values), msb) == values


def test_msb_first_layout_matches_ganglion_documentation() -> None:
    # two 18-bit fields 1 and -1: 0b000..01 then 0b111..11, MSB first, zero padded
    assert pack_signed([1, -1], 18, msb_first=True).hex() == "00007ffff0"


# ------------------------------------------------------------------ Polar PMD


def test_polar_raw_acc_frame_from_documented_layout() -> None:
    c = codec("polar_h10")
    frame = bytes([0x02]) + struct.pack("<Q", 123_456_789) + bytes([0x01])
    frame += struct.pack("<6h", 10, -20, 1000, 11, -21, 1001)
    d = c.decode(frame)
    assert d.frames.tolist() == [[10, -20, 1000], [11, -21, 1001]]
    assert d.device_time == pytest.approx(0.123456789)


def test_polar_compressed_frame_from_documented_layout() -> None:
    c = codec("polar_verity", 0)  # ACC, factor 1
    ref = struct.pack("<3h", 100, -100, 1000)
    # one block: width 4 bits, 2 samples, deltas (1, -2, 3) then (-1, 0, 7), LSB first
    deltas = [1, -2, 3, -1, 0, 7]
    packed = 0
    for i, v in enumerate(deltas):
        packed |= (v & 0xF) << (4 * i)
    block = bytes([4, 2]) + packed.to_bytes(3, "little")
    frame = bytes([0x02]) + bytes(8) + bytes([0x80]) + ref + block
    assert c.decode(frame).frames.tolist() == [
        [100, -100, 1000], [101, -102, 1003], [100, -102, 1010]
    ]


def test_polar_gyro_factor_and_type_check() -> None:
    gyro = codec("polar_verity", 1)
    frame = bytes([0x05]) + bytes(8) + bytes([0x80]) + struct.pack("<3h", 16384, 0, -16384)
    assert gyro.decode(frame).frames.tolist() == [[1000.0, 0.0, -1000.0]]
    with pytest.raises(PacketError, match="type 2, expected 5"):
        gyro.decode(bytes([0x02]) + frame[1:])


@pytest.mark.parametrize(
    "frame, problem",
    [
        (bytes(5), "shorter than its header"),
        (bytes([2]) + bytes(8) + bytes([0x80]) + bytes(3), "reference sample"),
        (bytes([2]) + bytes(8) + bytes([0x80]) + bytes(6) + bytes([4]), "block header"),
        (bytes([2]) + bytes(8) + bytes([0x80]) + bytes(6) + bytes([8, 5, 1]), "truncated"),
        (bytes([2]) + bytes(8) + bytes([0x01]) + bytes(5), "whole number"),
        (bytes([2]) + bytes(8) + bytes([0x07]) + bytes(6), "not supported"),
    ],
)
def test_polar_malformed_frames_are_rejected_clearly(frame: bytes, problem: str) -> None:
    with pytest.raises(PacketError, match=problem):
        codec("polar_verity").decode(frame)


def test_polar_decoder_routes_acc_and_gyro_from_one_characteristic() -> None:
    profile = find_profile("polar_verity")
    dec = Decoder(profile, "polar")
    acc = bytes([0x02]) + bytes(8) + bytes([0x01]) + struct.pack("<3h", 0, 0, 1000)
    gyro = bytes([0x05]) + bytes(8) + bytes([0x01]) + struct.pack("<3h", 0, 1639, 0)
    a = dec.decode(Packet("polar", PMD_DATA, acc, 0.1))
    g = dec.decode(Packet("polar", PMD_DATA, gyro, 0.1))
    assert [c.stream for c in a] == ["accel"] and a[0].data.tolist() == [[0, 0, 1.0]]
    assert [c.stream for c in g] == ["gyro"]
    assert g[0].data[0, 1] == pytest.approx(100.0, abs=0.05)
    with pytest.raises(PacketError, match="matches none"):
        dec.decode(Packet("polar", PMD_DATA, bytes([0x09]) + bytes(12), 0.2))
    assert dec.stats.malformed == 1


# ------------------------------------------------------------------ Ganglion


def _ganglion_deltas(pid: int, bits: int, deltas: list[int]) -> bytes:
    body = pack_signed(deltas, bits, msb_first=True)
    return bytes([pid]) + body + bytes(19 - len(body))


def test_ganglion_fw2_reference_then_18_and_19_bit_deltas() -> None:
    c = codec("ganglion")
    ref = bytes([0]) + b"".join(v.to_bytes(3, "big", signed=True)
                                for v in (1000, -1000, 8_388_607, -8_388_608)) + bytes(7)
    assert c.decode(ref).frames.tolist() == [[1000, -1000, 8_388_607, -8_388_608]]
    d = c.decode(_ganglion_deltas(1, 18, [1, 2, 3, 4, -131072, 0, 0, 131071]))
    assert d.counter == 1
    assert d.frames.tolist() == [[999, -1002, 8_388_604, -8_388_612],
                                 [132071, -1002, 8_388_604, -8_519_683]]
    d = c.decode(_ganglion_deltas(101, 19, [262143, 0, 0, 0, 0, 0, 0, -262144]))
    assert d.counter == 1
    assert d.frames[1].tolist() == [132071 - 262143, -1002, 8_388_604, -8_519_683 + 262144]


def test_ganglion_fw3_absolute_values_are_shifted_to_24_bit() -> None:
    c = codec("ganglion_fw3")
    d = c.decode(_ganglion_deltas(5, 18, [1, -1, 0, 131071, 2, -2, 0, -131072]))
    assert d.counter == 5
    assert d.frames.tolist() == [[64, -64, 0, 131071 * 64], [128, -128, 0, -131072 * 64]]
    d = c.decode(_ganglion_deltas(105, 19, [1, -1, 0, 0, 0, 0, 0, 0]))
    assert d.counter == 5 and d.frames[0].tolist() == [32, -32, 0, 0]


@pytest.mark.parametrize("profile", ["ganglion", "ganglion_fw3"])
def test_ganglion_impedance_and_short_packets_are_rejected(profile: str) -> None:
    c = codec(profile)
    with pytest.raises(PacketError, match="not sample data"):
        c.decode(bytes([203]) + b"123Z" + bytes(15))
    with pytest.raises(PacketError, match="19 bytes, expected 20"):
        c.decode(bytes(19))


# ------------------------------------------------------------------ Myo


def test_myo_emg_notifications_from_documented_layout() -> None:
    # each notification: 2 samples x 8 channels int8, sample 0 (channels 1..8) first; the
    # four EMG characteristics take turns (round-robin), 200 Hz in all
    samples = [[(k * 8 + c) * 4 - 128 for c in range(8)] for k in range(8)]
    samples[7][7] = 127  # both ends of int8
    profile = find_profile("myo")
    dec = Decoder(profile, "myo")
    chunks = []
    for i, char in enumerate(MYO_EMG):
        data = struct.pack("<8b", *samples[2 * i]) + struct.pack("<8b", *samples[2 * i + 1])
        assert len(data) == 16
        (chunk,) = dec.decode(Packet("myo", char, data, 1.0 + 0.01 * i))
        chunks.append(chunk)
    assert [c.stream for c in chunks] == ["emg"] * 4
    assert all(c.channels == tuple(f"emg{i}" for i in range(1, 9)) for c in chunks)
    assert all(c.fs == 200 and c.n == 2 and c.gap_before == 0 for c in chunks)
    assert [c.start_index for c in chunks] == [0, 2, 4, 6]  # one sample order across all four
    assert np.concatenate([c.data for c in chunks]).tolist() == samples  # unitless, unscaled
    assert [c.t_first for c in chunks] == sorted(c.t_first for c in chunks)
    emg = profile.stream("emg")
    assert (emg.unit, emg.scale, emg.fs) == ("a.u.", 1.0, 200)
    assert dec.stats.packets == 4 and dec.stats.malformed == 0


def test_myo_imu_notification_from_documented_layout() -> None:
    # 10 x int16 LE: quaternion w,x,y,z / 16384, accelerometer / 2048 -> g, gyro / 16 -> deg/s
    quat = (16384, 0, -8192, 4096)
    accel = (2048, -4096, 32767)
    gyro = (16, -32768, 0x0102)  # 0x0102 = 258: 513 if it were read big-endian
    data = struct.pack("<4h", *quat) + struct.pack("<3h", *accel) + struct.pack("<3h", *gyro)
    assert len(data) == 20 and data[:2] == b"\x00\x40" and data[-2:] == b"\x02\x01"
    profile = find_profile("myo")
    dec = Decoder(profile, "myo")
    chunks = {c.stream: c for c in dec.decode(Packet("myo", MYO_IMU, data, 2.0))}
    assert sorted(chunks) == ["accel", "gyro", "quat"]
    assert chunks["quat"].channels == ("w", "x", "y", "z")
    assert chunks["accel"].channels == chunks["gyro"].channels == ("x", "y", "z")
    assert chunks["quat"].data.tolist() == [[1.0, 0.0, -0.5, 0.25]]
    assert chunks["accel"].data.tolist() == [[1.0, -2.0, 32767 / 2048]]
    assert chunks["gyro"].data.tolist() == [[1.0, -2048.0, 16.125]]
    assert {n: (profile.stream(n).unit, profile.stream(n).fs) for n in chunks} == {
        "quat": ("1", 50), "accel": ("g", 50), "gyro": ("deg/s", 50)
    }
    assert all(c.n == 1 and c.start_index == 0 for c in chunks.values())
    # the next notification is the next sample of every IMU stream
    later = dec.decode(Packet("myo", MYO_IMU, struct.pack("<10h", *range(10)), 2.02))
    assert [(c.stream, c.start_index) for c in later] == [("quat", 1), ("accel", 1), ("gyro", 1)]
    assert later[2].data.tolist() == [[7 / 16, 8 / 16, 9 / 16]]


@pytest.mark.parametrize(
    "char, size, expected",
    [(MYO_EMG[0], 8, 16), (MYO_EMG[3], 17, 16), (MYO_IMU, 18, 20), (MYO_IMU, 16, 20)],
)
def test_myo_wrong_length_notifications_are_rejected(char: str, size: int, expected: int) -> None:
    dec = Decoder(find_profile("myo"), "myo")
    with pytest.raises(PacketError, match=f"has {size} bytes, expected {expected}"):
        dec.decode(Packet("myo", char, bytes(size), 0.1))
    assert dec.stats.malformed == 1 and dec.stats.packets == 0


# ------------------------------------------------------------------ NPG Lite


def test_npg_lite_packet_from_documented_layout() -> None:
    samples = [(250 + i) % 256 for i in range(25)]
    data = b"".join(struct.pack(">B3H", s, 2048 + i, 0, 4095) for i, s in enumerate(samples))
    assert len(data) == 175
    dec = Decoder(find_profile("npg_lite"), "npg")
    (chunk,) = dec.decode(Packet("npg", NPG_DATA, data, 0.1))
    assert chunk.data[:3].tolist() == [[0, -2048, 2047], [1, -2048, 2047], [2, -2048, 2047]]
    with pytest.raises(PacketError, match="174 bytes, expected 175"):
        dec.decode(Packet("npg", NPG_DATA, data[:-1], 0.2))


# ------------------------------------------------- round trips with the sim


def session_for(profile: Profile, seconds: float = 6.0) -> SimulatedSession:
    streams = {s.name: s for s in profile.streams}
    emg = streams.get("emg")
    imu = streams.get("gyro") or streams.get("accel")
    script = protocol_script("pir", reps=1, hold=2.0, relax=1.0, stretch=1.0,
                             rest_before=1.0, seed=5, mvc_capture=False)
    mvc = {"uV": 400.0, "a.u.": 60.0}.get(emg.unit if emg else "", 1.0)
    session = synthesize(script, emg_fs=emg.fs if emg else 200.0,
                         channels=len(emg.channels) if emg else 1,
                         imu_fs=imu.fs if imu else 50.0, mvc_rms=mvc)
    return session


def decode_all(profile: Profile, packets: list[Packet]) -> dict[str, np.ndarray]:
    dec = Decoder(profile, "dev")
    out: dict[str, list[np.ndarray]] = {}
    for p in packets:
        for chunk in dec.decode(p):
            assert chunk.gap_before == 0
            out.setdefault(chunk.stream, []).append(chunk.data)
    assert dec.stats.malformed == 0 and dec.stats.lost_packets == 0
    return {k: np.concatenate(v) for k, v in out.items()}


# stream → largest allowed |decoded − synthesized| (half a quantisation step of the format)
ROUND_TRIP = {
    "polar_verity": {"accel": 0.0005 + 1e-9, "gyro": 0.0306},
    "polar_h10": {"accel": 0.0005 + 1e-9},
    "ganglion": {"emg": 0.0018699 * 0.5 + 1e-9},
    "ganglion_fw3": {"emg": 0.0018699 * 16 + 1e-9},
    "npg_lite": {"emg": 0.5 + 1e-9},
    "gforce": {"emg": 0.5 + 1e-9},
}


@pytest.mark.parametrize("profile_id", sorted(ROUND_TRIP))
def test_simulated_sensor_round_trips_through_the_decoder(profile_id: str) -> None:
    from isofeedback.sim.packets import stream_signal

    profile = find_profile(profile_id)
    session = session_for(profile)
    decoded = decode_all(profile, packetize(session, profile, device="dev"))
    for stream, tol in ROUND_TRIP[profile_id].items():
        truth, _ = stream_signal(session, stream)
        got = decoded[stream]
        assert got.shape[0] > 0.9 * truth.shape[0]
        err = np.abs(got - truth[: got.shape[0]])
        assert err.max() <= tol, (stream, float(err.max()))


@pytest.mark.parametrize("profile_id", ["ganglion", "ganglion_fw3", "npg_lite"])
def test_lost_packets_are_found_from_counters(profile_id: str) -> None:
    profile = find_profile(profile_id)
    packets = packetize(session_for(profile), profile, device="dev")
    kept = packets[:40] + packets[43:]  # three packets lost on the air
    # arrival times kept: the counter alone must reveal the loss (no arrival gap here)
    dec = Decoder(profile, "dev", arrival_gap_s=1e9)
    gaps = [c.gap_before for p in kept for c in dec.decode(p) if c.gap_before]
    per = profile.packets[0].frames if profile.packets[0].codec == "struct" else 2
    assert gaps == [3 * per]
    assert dec.stats.lost_samples["emg"] == 3 * per


def test_polar_losses_are_found_from_arrival_gaps() -> None:
    profile = find_profile("polar_h10")
    packets = packetize(session_for(profile), profile, device="dev")
    kept = packets[:5] + packets[8:]
    dec = Decoder(profile, "dev", arrival_gap_s=0.25)
    gaps = [c.gap_before for p in kept for c in dec.decode(p) if c.gap_before]
    assert gaps == [3 * 36]


# ------------------------------------------------------------------ gForcePro+


def test_gforce_raw_emg_from_documented_layout() -> None:
    """129 bytes: type 08, then 16 samples × 8 channels u8 with 128 as zero. The other
    kinds on the same characteristic (a quaternion, type 05, 17 bytes) are not EMG: one
    clear error each, counted, never decoded as samples."""
    profile = find_profile("gforce")
    data_char = profile.packets[0].characteristics[0]
    samples = [[(128 + 8 * i + ch) % 256 for ch in range(8)] for i in range(16)]
    data = bytes([0x08]) + bytes(v for row in samples for v in row)
    dec = Decoder(profile, "gf")
    (chunk,) = dec.decode(Packet("gf", data_char, data, 0.1))
    assert chunk.stream == "emg" and chunk.fs == 500 and chunk.n == 16
    assert chunk.data[0].tolist() == list(range(8))
    assert chunk.data[1].tolist() == list(range(8, 16))
    quaternion = bytes([0x05]) + struct.pack("<4f", 1.0, 0.0, 0.0, 0.0)
    with pytest.raises(PacketError, match="matches none"):
        dec.decode(Packet("gf", data_char, quaternion, 0.2))
    assert dec.stats.malformed == 1
    # the simulated armband writes the type byte too (it is what tells the kinds apart)
    (packet, *_) = packetize(session_for(profile), profile, device="gf")
    assert packet.data[0] == 0x08 and len(packet.data) == 129
