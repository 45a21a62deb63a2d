"""``Decoder.decode_many`` (the bytes of a packet kind read at once) gives exactly the chunks
of ``decode`` packet by packet, losses and clocks included, and leaves anything it cannot
read plainly to ``decode`` without touching the decoder's state."""

from __future__ import annotations

import numpy as np
import pytest

from isofeedback.errors import PacketError
from isofeedback.profiles.decoder import Decoder
from isofeedback.profiles.schema import find_profile
from isofeedback.sim import packetize
from isofeedback.types import Chunk, Packet

from .test_device_codecs import session_for


def _same(a: list[Chunk], b: list[Chunk]) -> None:
    assert [(c.stream, c.start_index, c.t_first, c.gap_before, c.channels, c.device)
            for c in a] == [(c.stream, c.start_index, c.t_first, c.gap_before, c.channels,
                             c.device) for c in b]
    for x, y in zip(a, b, strict=True):
        assert x.data.dtype == y.data.dtype and x.data.flags.c_contiguous
        assert np.array_equal(x.data, y.data)


@pytest.mark.parametrize("profile_id", ["myo", "openemg", "npg_lite"])
def test_many_at_once_is_one_by_one(profile_id: str) -> None:
    profile = find_profile(profile_id)
    packets = packetize(session_for(profile), profile, device="dev")
    # losses both ways: packets missing (counters jump) and a 2 s silence (arrival gap)
    kept = packets[:40] + packets[43:200]
    kept += [Packet(p.device, p.characteristic, p.data, p.t_arrival + 2.0)
             for p in packets[200:]]
    one, many = Decoder(profile, "dev"), Decoder(profile, "dev")
    expected = [one.decode(p) for p in kept]
    got: list[list[Chunk]] = []
    for lo in range(0, len(kept), 97):  # windows, as the pipeline sends them
        window = many.decode_many(kept[lo : lo + 97])
        assert window is not None
        got += window
    assert len(got) == len(expected)
    for a, b in zip(expected, got, strict=True):
        _same(a, b)
    assert one.stats == many.stats and one.stats.lost_packets > 0


@pytest.mark.parametrize("bad", ["short", "unknown", "nan", "leap", "named codec"])
def test_what_is_not_plain_is_left_to_decode(bad: str) -> None:
    profile = find_profile("polar_h10" if bad == "named codec" else "myo")
    packets = packetize(session_for(profile), profile, device="dev")[:50]
    p = packets[20]
    packets[20] = {
        "short": Packet(p.device, p.characteristic, p.data[:-1], p.t_arrival),
        "unknown": Packet(p.device, "2a19", p.data, p.t_arrival),
        "nan": Packet(p.device, p.characteristic, p.data, float("nan")),
        "leap": Packet(p.device, p.characteristic, p.data, p.t_arrival + 2 * 86400.0),
        "named codec": p,
    }[bad]
    many, one = Decoder(profile, "dev"), Decoder(profile, "dev")
    if bad != "named codec":
        assert many.decode_many(packets[:10]) is not None
    else:  # a named codec (delta-coded, compressed): always one by one
        assert many.decode_many(packets[:10]) is None
        for p in packets[:10]:
            many.decode(p)
    for p in packets[:10]:
        one.decode(p)
    assert many.decode_many(packets) is None
    for p in packets[10:]:  # nothing moved: the same chunks and errors from here on
        results = []
        for dec in (many, one):
            try:
                results.append(dec.decode(p))
            except PacketError as exc:
                results.append(str(exc))
        if isinstance(results[0], str):
            assert results[0] == results[1]
        else:
            _same(*results)
    assert many.stats == one.stats
    assert many.stats.malformed + many.stats.unknown_characteristic == (bad != "named codec")


@pytest.mark.parametrize("profile_id", ["myo", "openemg", "npg_lite"])
def test_a_run_without_losses_is_decoded_at_once_to_the_same_bits(
        profile_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clean windows take the run path (loss test and clocks for the whole run at once),
    with arrivals jittered so the clock's anchor both drops to a fast packet and rises
    with the allowed drift; the chunks, the clocks and the counters end as one by one."""
    profile = find_profile(profile_id)
    packets = packetize(session_for(profile), profile, device="dev")
    rng = np.random.default_rng(3)
    jitter = rng.exponential(0.02, len(packets))
    packets = [Packet(p.device, p.characteristic, p.data, p.t_arrival + float(d))
               for p, d in zip(packets, jitter, strict=True)]
    runs: list[bool] = []
    run_plan = Decoder._run_plan

    def counted(self, *args):  # type: ignore[no-untyped-def]
        out = run_plan(self, *args)
        runs.append(out is not None)
        return out

    monkeypatch.setattr(Decoder, "_run_plan", counted)
    one, many = Decoder(profile, "dev"), Decoder(profile, "dev")
    expected = [one.decode(p) for p in packets]
    got: list[list[Chunk]] = []
    for lo in range(0, len(packets), 211):
        window = many.decode_many(packets[lo : lo + 211])
        assert window is not None
        got += window
    assert runs and all(runs)
    for a, b in zip(expected, got, strict=True):
        _same(a, b)
    assert one.stats == many.stats
    for name, state in one._states.items():
        other = many._states[name]
        assert (state.index, state.last_counter) == (other.index, other.last_counter)
        assert [c.state for c in state.clocks.values()] == [
            c.state for c in other.clocks.values()]


@pytest.mark.parametrize(("profile_id", "damage"), [("myo", "late"), ("openemg", "jump"),
                                                 ("openemg", "repeat")])
def test_a_late_packet_or_a_counter_jump_leaves_the_run_to_the_per_packet_rules(
        profile_id: str, damage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A packet later than the arrival gap (no counter), a counter jump or a repeated
    counter: the run path declines, and the per-packet rules judge the window."""
    profile = find_profile(profile_id)
    packets = packetize(session_for(profile), profile, device="dev")[:300]
    if damage == "late":
        packets = packets[:150] + [Packet(p.device, p.characteristic, p.data,
                                          p.t_arrival + 1.5) for p in packets[150:]]
    elif damage == "jump":
        packets = packets[:150] + packets[153:]
    else:
        packets = packets[:150] + packets[149:]
    declined: list[bool] = []
    run_plan = Decoder._run_plan

    def counted(self, *args):  # type: ignore[no-untyped-def]
        out = run_plan(self, *args)
        declined.append(out is None)
        return out

    monkeypatch.setattr(Decoder, "_run_plan", counted)
    one, many = Decoder(profile, "dev"), Decoder(profile, "dev")
    expected = [one.decode(p) for p in packets]
    got = many.decode_many(packets)
    assert got is not None and any(declined)
    for a, b in zip(expected, got, strict=True):
        _same(a, b)
    assert one.stats == many.stats
    assert (one.stats.lost_packets > 0) == (damage != "repeat")


@pytest.mark.parametrize("profile_id", ["myo", "openemg"])
def test_runs_hold_the_chunks_and_decline_a_loss_untouched(profile_id: str) -> None:
    """``decode_runs`` gives, per kind and stream, one array with each packet's start and
    time: the chunks of ``decode``; a window with a loss is declined with nothing changed,
    so decoding it after that still gives the one-by-one chunks."""
    profile = find_profile(profile_id)
    packets = packetize(session_for(profile), profile, device="dev")
    # lost: three packets (counters jump) and a 2 s silence (arrival gap)
    clean, lossy = packets[:150], packets[150:200] + [
        Packet(p.device, p.characteristic, p.data, p.t_arrival + 2.0) for p in packets[203:260]]
    one, runs = Decoder(profile, "dev"), Decoder(profile, "dev")
    expected = [one.decode(p) for p in clean + lossy]
    window = runs.decode_runs(clean)
    assert window is not None
    got = window.chunks()
    assert runs.decode_runs(lossy) is None
    more = runs.decode_many(lossy)
    assert more is not None
    for a, b in zip(expected, got + more, strict=True):
        _same(a, b)
    assert one.stats == runs.stats and one.stats.lost_packets > 0
    kinds = window.runs
    assert sum(len(m) for m in window.members.values()) == len(clean)
    for name, members in window.members.items():
        for run in kinds[name]:
            assert run.data.shape[0] == run.frames * len(members) == run.frames * len(run.starts)
