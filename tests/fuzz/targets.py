"""Fuzz targets shared by the short suite (hypothesis, tests/fuzz) and the long run
(benchmarks/fuzz.py): each takes raw bytes, derives a hostile input from them (mutating a
real seed: packets the simulator encodes, the shipped profiles and protocols, a recording
the simulator made) and feeds it to one loader or decoder.

A target passes when the code under test returns normally or raises one of the project's
errors, and nothing non-finite leaks out (chunks, events, feedback, reports). Anything else
(another exception type, NaN in a chunk) propagates as a failure. Time and memory per
input are bounded by the callers (:func:`deadline`, :func:`memory_peak_mb`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import shutil
import signal
import sqlite3
import tempfile
import tomllib
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from isofeedback.coach.protocol import load_protocol
from isofeedback.config import PipelineConfig, load_pipeline_config, setting_names
from isofeedback.errors import IsofeedbackError, PacketError
from isofeedback.profiles.codecs import CODECS
from isofeedback.profiles.decoder import Decoder
from isofeedback.profiles.schema import Profile, available_profiles, find_profile, load_profile
from isofeedback.recording.export import export_recording
from isofeedback.recording.importers import load_csv, load_edf
from isofeedback.recording.reader import RecordingReader
from isofeedback.recording.replay import replay
from isofeedback.recording.report import build_report
from isofeedback.run_config import parse_run_config
from isofeedback.sim import protocol_script
from isofeedback.sources.simulated import SimulatedSource
from isofeedback.types import Chunk, Event, Feedback, Packet

__all__ = ["TARGETS", "Input", "deadline", "memory_peak_mb", "seed_recording"]

_SAMPLES = Path(__file__).resolve().parents[2] / "recordings"
_PROTOCOLS = Path(__file__).resolve().parents[2] / "src" / "isofeedback" / "coach" / "protocols"
#: a workspace for the files targets write (one per process, removed at exit)
_WORK = Path(tempfile.mkdtemp(prefix="isofeedback-fuzz-"))


class Input:
    """Structured choices drawn from raw fuzz bytes (like atheris' FuzzedDataProvider):
    every byte string is a valid input, so hypothesis and random bytes both work."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def int(self, n: int) -> int:
        """An int in [0, n)."""
        if n <= 1:
            return 0
        width = (n.bit_length() + 7) // 8
        chunk = self.data[self.pos : self.pos + width]
        self.pos += width
        return int.from_bytes(chunk.ljust(width, b"\0"), "little") % n

    def choice(self, options: list[Any] | tuple[Any, ...]) -> Any:
        return options[self.int(len(options))]

    def bytes(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def rest(self) -> bytes:
        return self.data[self.pos :]

    def value(self) -> Any:
        """A hostile value for a config key."""
        return self.choice([
            math.nan, math.inf, -math.inf, 0, -1, 0.0, -0.0, 1e-300, 1e300, 2**63, -(2**63),
            10**30, True, False, "", "x", "nan", "/dev/zero", [], [1, 2], {}, {"a": 1},
            1.5, 7, 200, 65535, 1e9, 0.5, "pir", "met", "auto", None,
        ])


# -- checks on what comes out --------------------------------------------------------------
def finite_tree(value: Any, where: str) -> None:
    """Every number in ``value`` (nested dicts, lists, arrays) is finite."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int | float | np.number):
        assert math.isfinite(float(value)), f"non-finite {value} in {where}"
    elif isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
            assert np.isfinite(value).all(), f"non-finite values in {where}"
    elif isinstance(value, dict):
        for k, v in value.items():
            finite_tree(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            finite_tree(v, f"{where}[{i}]")


def check_chunk(chunk: Chunk) -> None:
    finite_tree(chunk.data, f"chunk {chunk.stream}")
    assert math.isfinite(chunk.t_first), f"chunk {chunk.stream} t_first {chunk.t_first}"
    assert 0 <= chunk.gap_before < 1e10, f"gap of {chunk.gap_before} samples"


def check_outputs(outputs: list[Any]) -> None:
    for o in outputs:
        if isinstance(o, Event):
            finite_tree([o.t, o.t_decided, o.value], f"event {o.type.value}")
        elif isinstance(o, Feedback):
            finite_tree([o.t, o.payload], f"feedback {o.kind}")


def check_report(outputs: list[Any], meta: dict[str, Any]) -> None:
    report = build_report(outputs, meta)
    json.dumps(report, allow_nan=False)  # ValueError = a NaN or inf reached the report


# -- seeds ---------------------------------------------------------------------------------
@functools.cache
def profiles() -> dict[str, Profile]:
    return {name: find_profile(name) for name in sorted(available_profiles())}


@functools.cache
def seed_packets(profile_id: str) -> list[Packet]:
    """A few seconds of packets as the device would send them (the simulator encodes)."""
    profile = profiles()[profile_id]
    if any(s.name == "emg" for s in profile.streams):
        script = protocol_script("pir", reps=1, hold=1.0, relax=0.5, stretch=0.5,
                                 rest_before=0.5, seed=2)
        return list(SimulatedSource(script, profile).all_packets[:400])
    # motion-only sensors (Polar): their codecs encode what a device would send
    rng = np.random.default_rng(3)
    out = []
    for spec in profile.packets:
        codec = CODECS[spec.codec](spec)
        width = max(s.stop for s in spec.streams)
        for k in range(100):
            frames = rng.normal(0, 300, (codec.frames_per_packet, width)).round()
            out.append(Packet("d", spec.characteristics[0], codec.encode(frames, k),
                              k * codec.frames_per_packet / spec.streams[0].fs))
    return sorted(out, key=lambda p: p.t_arrival)


@functools.cache
def seed_recording() -> bytes:
    """A short real recording: the first seconds of the shipped simulator recording (made
    by the real recorder), cut with SQL so every page is a real page of ours."""
    path = _WORK / "seed.isorec"
    shutil.copyfile(_SAMPLES / "myo-pir-sim.isorec", path)
    con = sqlite3.connect(path)
    with con:
        con.execute("DELETE FROM packets WHERE t > 8.0")
        con.execute("DELETE FROM outputs WHERE t > 8.0")
        con.execute("DELETE FROM meta WHERE key = 'complete'")
    con.execute("VACUUM")
    con.close()
    data = path.read_bytes()
    path.unlink()
    return data


@functools.cache
def seed_csv() -> str:
    rng = np.random.default_rng(1)
    rows = ["t,emg1,emg2,gyro_x,gyro_y,gyro_z"]
    for i in range(400):
        rows.append(",".join(f"{v:.6g}" for v in (i / 200, *rng.normal(0, 10, 2),
                                                  *rng.normal(0, 1, 3))))
    return "\n".join(rows) + "\n"


@functools.cache
def seed_edf() -> bytes:
    from isofeedback.recording.export import write_edf
    from isofeedback.recording.signals import SignalSet, Stream

    rng = np.random.default_rng(2)
    signals = SignalSet({"emg": Stream("emg", 200.0, ("emg1", "emg2"),
                                       rng.normal(0, 10, (400, 2)), "uV")})
    path = _WORK / "seed.edf"
    write_edf(signals, path, "edf")
    return path.read_bytes()


# -- mutations ---------------------------------------------------------------------------------
def mutate_bytes(inp: Input, data: bytes, page: int = 0) -> bytes:
    """Flip, overwrite, insert, cut or (with ``page``) zero or copy whole pages."""
    out = bytearray(data)
    for _ in range(1 + inp.int(4)):
        kind = inp.int(7 if page else 5)
        if not out:
            break
        at = inp.int(len(out))
        if kind == 0:
            out[at] ^= 1 << inp.int(8)
        elif kind == 1:
            chunk = inp.bytes(1 + inp.int(16))
            out[at : at + len(chunk)] = chunk
        elif kind == 2:
            out[at:at] = inp.bytes(1 + inp.int(32))
        elif kind == 3:
            del out[at:]
        elif kind == 4:
            out[at : at + 8] = inp.choice([b"\xff" * 8, b"\0" * 8, b"\x7f\xf8" + b"\0" * 6])
        elif kind == 5:
            p = inp.int(max(len(out) // page, 1))
            out[p * page : (p + 1) * page] = bytes(page)
        else:
            a, b = inp.int(max(len(out) // page, 1)), inp.int(max(len(out) // page, 1))
            out[a * page : (a + 1) * page] = out[b * page : (b + 1) * page]
    return bytes(out)


def mutate_tree(inp: Input, doc: Any) -> Any:
    """Replace, drop or add a few leaves of a parsed TOML document."""
    doc = json.loads(json.dumps(doc))  # a deep copy

    def tables(node: Any, acc: list[Any]) -> list[Any]:
        if isinstance(node, dict):
            acc.append(node)
            for v in node.values():
                tables(v, acc)
        elif isinstance(node, list):
            acc.append(node)
            for v in node:
                tables(v, acc)
        return acc

    for _ in range(1 + inp.int(3)):
        node = inp.choice(tables(doc, []))
        if isinstance(node, dict) and node:
            key = inp.choice(sorted(node))
            action = inp.int(3)
            if action == 0:
                node[key] = inp.value()
            elif action == 1:
                del node[key]
            else:
                node[inp.choice(["fs", "frames", "channels", "slice", "extra", key])] = (
                    inp.value())
        elif isinstance(node, list) and node:
            node[inp.int(len(node))] = inp.value()
    return doc


# -- the targets ---------------------------------------------------------------------------
def decoders(data: bytes) -> None:
    """Every profile's decoder on mutated real packets and hostile arrival times."""
    inp = Input(data)
    name = inp.choice(sorted(profiles()))
    profile = profiles()[name]
    seeds = seed_packets(name)
    dec = Decoder(profile, "d")
    chars = [*profile.notify_characteristics, "00000000-0000-0000-0000-000000000000"]
    t = 0.0
    for k in range(1 + inp.int(24)):
        base = seeds[k % len(seeds)] if seeds else Packet("d", chars[0], b"", 0.0)
        payload = base.data
        if inp.int(2):
            payload = mutate_bytes(inp, payload)
        if inp.int(8) == 0:
            payload = payload * (1 + inp.int(4000))  # oversize: a 1 MB frame
        t = inp.choice([base.t_arrival, t + 0.01, t + 5.0, t - 1.0, math.nan, math.inf,
                        -math.inf, 1e12, -1e12, 1e300, base.t_arrival])
        char = base.characteristic if inp.int(4) else inp.choice(chars)
        try:
            chunks = dec.decode(Packet("d", char, payload, t))
        except PacketError:
            continue
        for chunk in chunks:
            check_chunk(chunk)
            assert chunk.n <= 10_000, f"{chunk.n} samples from one packet"


def _write(name: str, content: bytes | str) -> Path:
    path = _WORK / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    else:
        path.write_bytes(content)
    return path


def _toml_text(inp: Input, doc: Any, text: str) -> str:
    """The document mutated as data and written as TOML, or its text mutated as bytes."""
    if inp.int(2):
        return mutate_bytes(inp, text.encode()).decode("utf-8", "replace")
    return _dump_toml(mutate_tree(inp, doc))


def _dump_toml(doc: Any) -> str:
    """A small TOML writer for mutated documents (inline tables; enough for fuzzing)."""

    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            if isinstance(v, float) and math.isnan(v):
                return "nan"
            if isinstance(v, float) and math.isinf(v):
                return "inf" if v > 0 else "-inf"
            return repr(v) if isinstance(v, float) else str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v if x is not None) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {val(x)}" for k, x in v.items()
                                   if x is not None) + "}"
        return '""'

    return "".join(f"{json.dumps(k)} = {val(v)}\n" for k, v in doc.items() if v is not None)


def profile_loader(data: bytes) -> None:
    inp = Input(data)
    path = inp.choice(sorted(available_profiles().values()))
    text = path.read_text(encoding="utf-8")
    mutated = _write("profile.toml", _toml_text(inp, tomllib.loads(text), text))
    try:
        profile = load_profile(mutated)
    except IsofeedbackError:
        return
    dec = Decoder(profile, "d")  # a profile that loads must decode without surprises
    for char in profile.notify_characteristics:
        for payload in (b"", bytes(20), bytes(range(64)), inp.rest()[:300]):
            try:
                for chunk in dec.decode(Packet("d", char, payload, 1.0)):
                    check_chunk(chunk)
            except PacketError:
                pass


def protocol_loader(data: bytes) -> None:
    inp = Input(data)
    name = inp.choice(["pir", "met"])
    text = (_PROTOCOLS / f"{name}.toml").read_text(encoding="utf-8")
    mutated = _write("protocol.toml", _toml_text(inp, tomllib.loads(text), text))
    with contextlib.suppress(IsofeedbackError):
        protocol = load_protocol(mutated)
        finite_tree(dataclasses.asdict(protocol), "protocol")
        assert protocol.session_estimate_s <= protocol.session_max_s


def pipeline_config(data: bytes) -> None:
    inp = Input(data)
    table: dict[str, Any] = {}
    names = list(setting_names())
    for _ in range(1 + inp.int(4)):
        table[inp.choice(names)] = inp.value()
    if inp.int(2):
        with contextlib.suppress(IsofeedbackError):
            cfg = PipelineConfig.from_dict(table)
            finite_tree(cfg.as_dict(), "config")
        return
    mutated = _write("config.toml", _dump_toml({"pipeline": table}))
    with contextlib.suppress(IsofeedbackError):
        finite_tree(load_pipeline_config(mutated).as_dict(), "config")


_RUN_CONFIG = {
    "patient": "p-01", "protocol": "pir",
    "devices": [{"name": "arm", "profile": "myo", "address": "auto"}],
    "broker": {"host": "127.0.0.1", "port": 1883, "keepalive": 15},
    "recording": {"folder": "recs"}, "ble": {"scan_timeout": 10.0},
}


def run_config(data: bytes) -> None:
    inp = Input(data)
    doc = mutate_tree(inp, _RUN_CONFIG)
    with contextlib.suppress(IsofeedbackError):
        cfg = parse_run_config(doc, _WORK / "run.toml")
        assert math.isfinite(cfg.scan_timeout) and cfg.scan_timeout > 0


def csv_importer(data: bytes) -> None:
    inp = Input(data)
    text = seed_csv()
    if inp.int(3):
        text = mutate_bytes(inp, text.encode()).decode("utf-8", "replace")
    else:
        lines = text.splitlines()
        k = 1 + inp.int(len(lines) - 1)
        cells = lines[k].split(",")
        cells[inp.int(len(cells))] = inp.choice(["nan", "inf", "-inf", "", "1e400", "x",
                                                 "1e308", "-0", "0x10"])
        lines[k] = ",".join(cells)
        text = "\n".join(lines) + "\n"
    path = _write("data.csv", text)
    fs = inp.choice([None, 200.0, 1e-300, math.nan, 1e9])
    try:
        signals = load_csv(path, fs)
    except IsofeedbackError:
        return
    for s in signals.streams.values():
        finite_tree(s.data, f"csv {s.name}")
        assert 1.0 <= s.fs <= 1e5


def edf_importer(data: bytes) -> None:
    inp = Input(data)
    path = _write("data.edf", mutate_bytes(inp, seed_edf()))
    try:
        signals = load_edf(path)
    except IsofeedbackError:
        return
    for s in signals.streams.values():
        finite_tree(s.data, f"edf {s.name}")
        assert 1.0 <= s.fs <= 1e5


def recording_reader(data: bytes, *, deep: bool | None = None) -> None:
    """A mutated real recording: read it all; sometimes (``deep``) replay, export and report
    it too, as the commands do."""
    inp = Input(data)
    seed = seed_recording()
    page = int.from_bytes(seed[16:18], "big")
    content = mutate_bytes(inp, seed, page)
    if inp.int(4) == 0:  # a cut at a page boundary, the commonest damage of a copy
        content = seed[: page * inp.int(len(seed) // page + 1)]
    path = _write("rec.isorec", content)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            (_WORK / f"rec.isorec{suffix}").unlink()
    deep = bool(inp.int(8) == 0) if deep is None else deep
    read_recording(path, deep)


def read_recording(path: Path, deep: bool) -> None:
    try:
        with RecordingReader(path) as r:
            packets = list(r.packets())
            outputs = r.outputs()
            r.notes()
            r.profiles()
            r.protocol()
            r.config()
            meta = dict(r.meta)
            for p in packets:
                assert math.isfinite(p.t_arrival)
            check_outputs(outputs)
            check_report(outputs, meta)
            if deep and packets:
                with contextlib.suppress(IsofeedbackError):
                    export_recording(r, _WORK / "out.csv", "csv")
    except IsofeedbackError:
        return
    if deep:
        with contextlib.suppress(IsofeedbackError):
            result = replay(path)
            check_outputs(result.outputs)
            check_report(result.outputs, {**result.meta, "session": result.session})


#: name → target; every target takes the fuzz bytes
TARGETS: dict[str, Callable[[bytes], None]] = {
    "decoders": decoders,
    "profile_loader": profile_loader,
    "protocol_loader": protocol_loader,
    "pipeline_config": pipeline_config,
    "run_config": run_config,
    "csv_importer": csv_importer,
    "edf_importer": edf_importer,
    "recording_reader": recording_reader,
}


# -- bounds on time and memory ---------------------------------------------------------------
class DeadlineExceeded(Exception):
    """An input took longer than its deadline: a hang, reported as a failure."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (not wait) when the body runs longer than ``seconds`` (SIGALRM, main thread)."""

    def expired(signum: int, frame: Any) -> None:
        raise DeadlineExceeded(f"input still running after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def memory_peak_mb(out: list[float]) -> Iterator[None]:
    """Append the peak of Python and numpy allocations (MB) in the body to ``out``."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        yield
    finally:
        out.append((tracemalloc.get_traced_memory()[1] - base) / 1e6)
        if started:
            tracemalloc.stop()

