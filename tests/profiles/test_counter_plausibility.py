"""A counter jump the arrival times cannot explain is a corrupted counter, not a loss."""

from __future__ import annotations

import struct

from isofeedback.profiles.decoder import Decoder
from isofeedback.profiles.schema import find_profile
from isofeedback.sim import protocol_script
from isofeedback.sources.simulated import SimulatedSource
from isofeedback.types import Packet


def _session(profile: str) -> SimulatedSource:
    script = protocol_script("pir", reps=1, level=0.18, hold=4.0, relax=3.0, stretch=3.0,
                             rest_before=4.0, seed=5)
    return SimulatedSource(script, find_profile(profile))


def _decode(source: SimulatedSource, packets: list[Packet]) -> Decoder:
    dec = Decoder(source.profile, packets[0].device)
    for p in packets:
        dec.decode(p)
    return dec


def test_one_flipped_counter_bit_loses_nothing() -> None:
    """openEMG: a u16 packet counter; bit 15 flipped in one packet used to count 32767
    packets lost forwards and as many again when the counter came back (327 s of a
    2 kHz, 10-sample stream in a session of seconds)."""
    source = _session("openemg")
    packets = list(source.all_packets)
    emg_char = source.profile.packets[0].characteristics[0]
    emg = [i for i, p in enumerate(packets) if p.characteristic == emg_char]
    k = emg[len(emg) // 2]
    data = bytearray(packets[k].data)
    (counter,) = struct.unpack_from("<H", data, 0)
    struct.pack_into("<H", data, 0, counter ^ 0x8000)
    packets[k] = Packet(packets[k].device, packets[k].characteristic, bytes(data),
                        packets[k].t_arrival)
    clean = _decode(source, list(source.all_packets))
    dec = _decode(source, packets)
    assert clean.stats.lost_samples == {} and clean.stats.counter_resyncs == 0
    assert sum(dec.stats.lost_samples.values()) == 0, dec.stats
    assert dec.stats.counter_resyncs == 2  # away and back


def test_a_real_loss_is_still_counted_from_the_counter() -> None:
    source = _session("openemg")
    packets = list(source.all_packets)
    emg_char = source.profile.packets[0].characteristics[0]
    emg = [i for i, p in enumerate(packets) if p.characteristic == emg_char]
    gone = set(emg[1000:1005])  # five EMG packets of ten samples dropped by the link
    dec = _decode(source, [p for i, p in enumerate(packets) if i not in gone])
    assert dec.stats.lost_samples.get("emg") == 50 and dec.stats.counter_resyncs == 0
