"""``isofeedback eval``: run the detectors over labelled data and print accuracy figures.

The metric computation is pure (:func:`match_events`, :func:`summarize`): detections are
matched one-to-one to true events within a tolerance window, in time order; matched pairs
give the timing error (``t - truth``) and the decision latency (``t_decided - truth``);
unmatched truths are missed, unmatched detections are false.

Data: simulated benchmark records (``--snr``, ``--fs``, ``--records``, ``--seed``,
``--artifacts``, ``--int8``), or a CSV of EMG samples (``--csv``, one column per channel,
optional header) with an annotation file (``--annotations``: lines ``onset,<seconds>`` and
``release,<seconds>``).
"""

from __future__ import annotations

import argparse
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from isofeedback.checks import cli_integer, cli_number
from isofeedback.config import CURRENT_VERSION, VERSION_NAMES, PipelineConfig, versioned_config
from isofeedback.detectors.factory import build_emg_detection
from isofeedback.detectors.movement import MovementDetector
from isofeedback.detectors.retraction import confirmed, confirmed_refined, refined
from isofeedback.dsp.imu_chain import ImuChain
from isofeedback.dsp.orientation import QuatChain
from isofeedback.errors import ConfigError
from isofeedback.profiles.schema import MAX_FS_HZ, MIN_FS_HZ
from isofeedback.recording.signals import SignalSet, around_gaps
from isofeedback.sim.alt_emg import alt_emg_record
from isofeedback.sim.script import Movement, PatientScript, benchmark_script
from isofeedback.sim.signals import synthesize
from isofeedback.types import Chunk, Event, EventType, FloatArray

__all__ = [
    "EmgRecord",
    "Matching",
    "Summary",
    "add_eval_arguments",
    "confirmed",
    "confirmed_refined",
    "detect_emg",
    "instant_bursts",
    "label_runs",
    "match_events",
    "movement_script",
    "quantize_int8",
    "refined",
    "run_eval",
    "simulated_records",
    "summarize",
]


_TIMED = (EventType.ONSET, EventType.RELEASE, EventType.RETRACTED,
          EventType.ONSET_REFINED)


@dataclass(frozen=True, slots=True)
class Matching:
    """Result of matching detections to truth: ``pairs`` of (truth index, detection
    index), plus the indices left over on each side."""

    pairs: tuple[tuple[int, int], ...]
    missed: tuple[int, ...]
    false: tuple[int, ...]


def match_events(truth: Sequence[float], detected: Sequence[float], tol: float) -> Matching:
    """Match detections to true events one-to-one within ``±tol`` seconds.

    Candidate pairs are taken closest first, so a detection between two truths goes to
    the nearer one and each side is used once.

    >>> m = match_events([1.0, 5.0, 9.0], [1.02, 4.7, 7.0], tol=0.5)
    >>> m.pairs, m.missed, m.false
    (((0, 0), (1, 1)), (2,), (2,))
    """
    cand = sorted(
        (abs(d - t), i, j)
        for i, t in enumerate(truth)
        for j, d in enumerate(detected)
        if abs(d - t) <= tol
    )
    ti: set[int] = set()
    dj: set[int] = set()
    pairs = []
    for _, i, j in cand:
        if i in ti or j in dj:
            continue
        ti.add(i)
        dj.add(j)
        pairs.append((i, j))
    return Matching(
        tuple(sorted(pairs)),
        tuple(i for i in range(len(truth)) if i not in ti),
        tuple(j for j in range(len(detected)) if j not in dj),
    )


@dataclass
class Summary:
    """Accumulated figures for one event kind over many records."""

    errors: list[float] = field(default_factory=list)  # t - truth, s
    latencies: list[float] = field(default_factory=list)  # t_decided - truth, s
    truths: int = 0
    missed: int = 0
    false: int = 0
    minutes: float = 0.0
    #: provisional onsets withdrawn by a ``retracted`` event: not scored as false (a
    #: researcher reads confirmed contractions only) but a live display shows each as a
    #: blip of "contraction", so the table counts them
    retracted: int = 0

    def add(
        self, truth: Sequence[float], events: Sequence[Event], minutes: float, tol: float
    ) -> None:
        m = match_events(truth, [e.t for e in events], tol)
        for i, j in m.pairs:
            self.errors.append(events[j].t - truth[i])
            self.latencies.append(events[j].t_decided - truth[i])
        self.truths += len(truth)
        self.missed += len(m.missed)
        self.false += len(m.false)
        self.minutes += minutes


def summarize(summary: Summary) -> dict[str, float]:
    """Median and P90 of |timing error| and of latency (ms), misses, false and retracted
    detections per minute.

    >>> s = Summary(errors=[0.01, -0.02, 0.03], latencies=[0.04, 0.05, 0.06], truths=4,
    ...             missed=1, false=1, minutes=2.0, retracted=3)
    >>> {k: round(v, 1) for k, v in summarize(s).items()}
    {'err_med_ms': 20.0, 'err_p90_ms': 28.0, 'lat_med_ms': 50.0, 'lat_p90_ms': 58.0, \
'missed': 1.0, 'missed_per_min': 0.5, 'false_per_min': 0.5, 'retracted_per_min': 1.5, \
'truths': 4.0}
    """
    err = np.abs(np.asarray(summary.errors)) * 1000.0
    lat = np.asarray(summary.latencies) * 1000.0
    nan = float("nan")
    minutes = max(summary.minutes, 1e-12)
    return {
        "err_med_ms": float(np.median(err)) if err.size else nan,
        "err_p90_ms": float(np.percentile(err, 90)) if err.size else nan,
        "lat_med_ms": float(np.median(lat)) if lat.size else nan,
        "lat_p90_ms": float(np.percentile(lat, 90)) if lat.size else nan,
        "missed": float(summary.missed),
        "missed_per_min": summary.missed / minutes,
        "false_per_min": summary.false / minutes,
        "retracted_per_min": summary.retracted / minutes,
        "truths": float(summary.truths),
    }


def quantize_int8(x: FloatArray) -> FloatArray:
    """Round and clip to the int8 range, as a Myo-like converter does."""
    return np.clip(np.round(x), -128.0, 127.0)


@dataclass(frozen=True, slots=True, eq=False)
class EmgRecord:
    """One labelled EMG record: samples (n, channels), rate, true onsets and releases."""

    emg: FloatArray
    fs: float
    onsets: tuple[float, ...]
    releases: tuple[float, ...]
    rest: tuple[float, float] = (0.0, 2.0)  # a segment known to be at rest, seconds
    name: str = ""
    full_scale: float | None = None
    gaps: tuple[tuple[int, int], ...] = ()  # rows that hold no sample (Stream.gaps)

    @property
    def minutes(self) -> float:
        return float(self.emg.shape[0] / self.fs / 60.0)


def simulated_records(
    n: int,
    snr_db: float,
    fs: float = 1000.0,
    seed: int = 0,
    artifacts: str = "half",
    int8: bool = False,
    duration: float = 60.0,
    channels: int = 1,
) -> list[EmgRecord]:
    """The benchmark records: ``artifacts`` is ``none``, ``half`` (odd records) or ``all``;
    ``channels`` > 1: an armband around the limb, the muscle under channel 2 (neighbours
    see half its amplitude, the next ones a fifth, the rest 5 %), noise on every channel."""
    out = []
    for k in range(n):
        with_art = artifacts == "all" or (artifacts == "half" and k % 2 == 1)
        script = benchmark_script(seed + k, duration, snr_db, with_art)
        mvc = 60.0 if int8 else 1.0
        ses = synthesize(script, emg_fs=fs, channels=channels, mvc_rms=mvc)
        emg = quantize_int8(ses.emg) if int8 else ses.emg
        out.append(
            EmgRecord(
                emg,
                fs,
                tuple(ses.onsets),
                tuple(ses.releases),
                (0.0, 2.0),
                f"sim{seed + k}{'a' if with_art else ''}",
                127.0 if int8 else None,
            )
        )
    return out


def chunk_stream(
    x: FloatArray, fs: float, stream: str, chunk_s: float = 0.05,
    gaps: tuple[tuple[int, int], ...] = (),
) -> Iterable[Chunk]:
    """Cut ``x`` (n, channels) into consecutive chunks of about ``chunk_s``; the rows of
    ``gaps`` (``(first row, rows)``: samples the file did not have) are left out, the
    chunk after each told of them (``gap_before``), as a replay does."""
    step = max(1, int(round(chunk_s * fs)))
    names = tuple(f"c{i}" for i in range(x.shape[1]))
    state = [0, 0]
    for i in range(0, x.shape[0], step):
        if not gaps:
            yield Chunk(stream, fs, i, i / fs, x[i : i + step], names)
            continue
        for a, b, lost in around_gaps(i, min(i + step, x.shape[0]), gaps, state):
            yield Chunk(stream, fs, a, a / fs, x[a:b], names, gap_before=lost)


def eval_config(rec: EmgRecord, mains_hz: float = 50.0, calibration_s: float = 2.0,
                base: PipelineConfig | None = None) -> PipelineConfig:
    """The pipeline configuration a live session would use for ``rec``: the current
    defaults (or ``base``) with the record's mains, calibration and converter range."""
    return (base or PipelineConfig()).updated({
        "chain.mains_hz": mains_hz, "detector.rest.calibration_s": calibration_s,
        "chain.full_scale": rec.full_scale or 0.0})


def detect_emg(
    rec: EmgRecord, mains_hz: float = 50.0, calibration_s: float = 2.0, chunk_s: float = 0.05,
    config: PipelineConfig | None = None,
) -> tuple[list[Event], float]:
    """Run the chain + detector a live session builds (:func:`build_emg_detection`) over
    a record as a live stream; return the onset/release events and the CPU seconds used.
    ``config``: a pipeline configuration (for comparisons; its mains, calibration and
    converter range are set from the record)."""
    cfg = eval_config(rec, mains_hz, calibration_s, config)
    t_cpu = time.process_time()
    chain, det = build_emg_detection(rec.fs, rec.emg.shape[1], cfg)
    events: list[Event] = []
    for c in chunk_stream(rec.emg, rec.fs, "emg", chunk_s, rec.gaps):
        events += det.process(chain.process(c))
    cpu = time.process_time() - t_cpu
    return [e for e in events if e.type in _TIMED], cpu


def movement_script(seed: int, duration: float = 60.0) -> PatientScript:
    """A benchmark record whose odd-numbered holds contain a joint rotation of 6–15°
    (0.3–1 s, mid-hold); the other holds are still, with tremor, gyro noise and bias."""
    base = benchmark_script(seed, duration, 10.0, False)
    rng = np.random.default_rng(seed + 10_000)
    moves = []
    for k, c in enumerate(base.contractions):
        if k % 2 == 1 and c.hold > 2.0:
            dur = float(rng.uniform(0.3, 1.0))
            start = c.hold_start + float(rng.uniform(0.8, max(0.9, c.hold - dur - 0.5)))
            deg = float(rng.uniform(6.0, 15.0)) * float(rng.choice([-1.0, 1.0]))
            moves.append(Movement(start, dur, deg))
    return PatientScript(
        duration=base.duration,
        contractions=base.contractions,
        movements=tuple(moves),
        artifacts=base.artifacts,
        seed=seed,
    )


class JointChain(Protocol):
    """Anything that turns IMU chunks into ``joint`` chunks (rx, ry, rz, speed)."""

    def process(self, chunk: Chunk) -> Chunk: ...


def detect_movement(
    script: PatientScript,
    imu_fs: float = 100.0,
    chunk_s: float = 0.05,
    source: str = "gyro",
    chain: JointChain | None = None,
) -> tuple[list[float], list[Event], float, float]:
    """Movement detection armed during the true holds. ``source``: ``gyro`` (the
    :class:`ImuChain`), ``quat`` (the device quaternion, :class:`QuatChain`) or
    ``gyro+accel`` (6 columns, for a caller-supplied ``chain`` such as an AHRS). Returns
    the true 5° crossings, the movement events, the still-hold minutes and the CPU
    seconds."""
    ses = synthesize(script, emg_fs=200.0, channels=1, imu_fs=imu_fs)
    t_cpu = time.process_time()
    if source == "quat":
        data = ses.quat
        names: tuple[str, ...] = ("w", "x", "y", "z")
        chain = chain or QuatChain(imu_fs)
    elif source == "gyro+accel":
        data = np.hstack([ses.gyro, ses.accel])
        names = ("gx", "gy", "gz", "ax", "ay", "az")
    else:
        data, names = ses.gyro, ("x", "y", "z")
    if chain is None:
        chain = ImuChain(imu_fs, calibration_s=2.0)
    det = MovementDetector(imu_fs, 5.0)
    marks = sorted(
        [(c.onset + c.ramp_up, "arm") for c in script.contractions]
        + [(c.release - c.ramp_down, "disarm") for c in script.contractions]
    )
    events: list[Event] = []
    step = max(1, int(round(chunk_s * imu_fs)))
    k = 0
    for i in range(0, data.shape[0], step):
        c = Chunk(source, imu_fs, i, i / imu_fs, data[i : i + step], names)
        while k < len(marks) and marks[k][0] < c.t_end:
            if marks[k][1] == "arm":
                det.arm(marks[k][0])
            else:
                events += det.process(_before(chain, c, marks[k][0]))
                c = _after(c, marks[k][0])
                det.disarm()
            k += 1
        events += det.process(chain.process(c))
    cpu = time.process_time() - t_cpu
    still = [
        c for c in script.contractions
        if not any(c.onset < m.start < c.release for m in script.movements)
    ]
    still_min = sum(c.hold for c in still) / 60.0
    crossings = ses.movement_crossings(5.0)
    return crossings, [e for e in events if e.type == EventType.MOVEMENT], still_min, cpu


def _before(chain: JointChain, c: Chunk, t: float) -> Chunk:
    n = max(0, min(c.n, int(np.ceil((t - c.t_first) * c.fs - 1e-9))))
    part = Chunk(c.stream, c.fs, c.start_index, c.t_first, c.data[:n], c.channels)
    return chain.process(part)


def _after(c: Chunk, t: float) -> Chunk:
    n = max(0, min(c.n, int(np.ceil((t - c.t_first) * c.fs - 1e-9))))
    return Chunk(c.stream, c.fs, c.start_index + n, c.t_first + n / c.fs, c.data[n:], c.channels)


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``isofeedback eval``."""
    parser.add_argument("--sets", nargs="+", choices=SETS, default=None,
                        help="generated sets to report side by side: sim (our simulator), "
                        "nk (NeuroKit2's emg_simulate, needs the bench extra), alt (our "
                        "second generator: coloured noise, drift, tremor, twitches, ECG); "
                        "default all (nk left out, with a note, without NeuroKit2)")
    parser.add_argument(
        "--snr",
        type=cli_number("--snr", low=-60.0, high=120.0),
        nargs="+", default=[5.0, 10.0, 20.0],
        help="SNR of the weakest contraction, dB (default 5 10 20)")
    parser.add_argument(
        "--fs",
        type=cli_number("--fs", low=MIN_FS_HZ, high=MAX_FS_HZ),
        default=1000.0, help="EMG sample rate, Hz")
    parser.add_argument("--records", type=cli_integer("--records", low=1, high=100_000),
                        default=10, help="records per SNR and set (60 s each)")
    parser.add_argument(
        "--seed",
        type=cli_integer("--seed", low=0, high=2**32 - 1),
        default=0, help="seed of the first record")
    parser.add_argument("--artifacts", choices=["none", "half", "all"], default="half",
                        help="records with artifacts (sim: hum, motion, contact spikes; "
                        "alt: ECG, motion)")
    parser.add_argument("--channels", type=cli_integer("--channels", low=1), default=1,
                        help="EMG channels of the sim set (8: a Myo-like armband)")
    parser.add_argument("--int8", action="store_true",
                        help="quantise to int8 counts (Myo-like); implied by --fs 250 or less")
    parser.add_argument("--mains", type=float, choices=[0.0, 50.0, 60.0], default=50.0,
                        help="mains frequency, 0 = off")
    parser.add_argument(
        "--tolerance",
        type=cli_number("--tolerance", low=0.0, low_open=True, high=60.0),
        default=0.5, help="matching window of generated sets, ± seconds")
    parser.add_argument("--real", type=Path, metavar="DIR",
                        help="also report the labelled real recordings in DIR (and its "
                        "sub-folders): CSV files, see docs/detection.md")
    parser.add_argument("--real-fs", type=cli_number("--real-fs", low=1.0), default=200.0,
                        help="sample rate of real CSV files without a time column t")
    parser.add_argument("--detector-version", choices=VERSION_NAMES, default=CURRENT_VERSION,
                        metavar="N",
                        help="the named detector version to evaluate (default: the current, "
                        f"{CURRENT_VERSION}; docs/detection.md lists them)")
    parser.add_argument("--no-movement", action="store_true", help="skip the IMU evaluation")
    parser.add_argument("--csv", type=Path,
                        help="EMG samples: a header row, one column per channel, optional time "
                        "column t (as for 'isofeedback replay')")
    parser.add_argument(
        "--csv-fs",
        type=cli_number("--csv-fs", low=MIN_FS_HZ, high=MAX_FS_HZ),
        default=None,
        help="sample rate of --csv when it has no time column")
    parser.add_argument("--annotations", type=Path,
                        help="lines 'onset,<s>' / 'release,<s>' for --csv (default: the "
                        "CSV's label column, if it has one)")


def _read_foreign(path: Path, fs: float | None, option: str,
                  default_fs: float | None = None) -> SignalSet:
    """``path`` read as ``replay`` reads it. ``fs``: the rate the user gave (``option``,
    named in errors instead of replay's ``--fs``); ``default_fs``: the rate of a file that
    does not say its own (no time column), never imposed on one that does."""
    from isofeedback.errors import NoSampleRateError, RecordingError
    from isofeedback.recording.importers import load_foreign

    try:
        try:
            return load_foreign(path, fs)
        except NoSampleRateError:
            if fs is not None or default_fs is None:
                raise
            return load_foreign(path, default_fs)
    except RecordingError as exc:  # name the option the user gave, not replay's
        raise ConfigError(re.sub(r"--fs\b", option, str(exc))) from None


def label_runs(signals: SignalSet) -> tuple[list[float], list[float]] | None:
    r"""Onsets and releases (s) by the file's label columns (``label``, ``gesture``, …):
    where a run of labels (any non-zero value or name) starts and ends, runs that touch
    taken as one (a label that changes with no rest between is one activation); a run
    under way at the first sample has no onset, one still on at the last no release.
    ``None``: the file has no label column.

    >>> import tempfile
    >>> from isofeedback.recording.importers import load_csv
    >>> f = Path(tempfile.mkdtemp(), "x.csv")
    >>> _ = f.write_text("emg,label\n" + "".join(f"{i % 3},{k}\n" for i, k in
    ...                  enumerate([1, 1, 0, 0, 2, 3, 3, 0, 0, 4])))
    >>> label_runs(load_csv(f, 100.0))
    ([0.04, 0.09], [0.02, 0.07])
    """
    from isofeedback.recording.importers import label_columns

    names = set(label_columns(signals))
    if not names:
        return None
    n = signals.streams["emg"].n
    fs = signals.streams["emg"].fs
    runs = sorted((round(a.onset * fs), round((a.onset + a.duration) * fs))
                  for a in signals.annotations if a.text.rpartition(" ")[0] in names)
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return ([a / fs for a, _ in merged if a > 0], [b / fs for _, b in merged if b < n])


def _read_csv(path: Path, ann: Path | None, fs: float | None) -> EmgRecord:
    """Labelled foreign data: the EMG columns of a CSV (read like ``replay`` reads it) and
    an annotation file of ``onset,<s>`` / ``release,<s>`` lines; without one, the CSV's
    own label columns (:func:`label_runs`)."""
    signals = _read_foreign(path, fs, "--csv-fs")
    emg = signals.streams["emg"]
    on: list[float] = []
    off: list[float] = []
    if ann is None:
        on, off = label_runs(signals) or ([], [])
    else:
        try:
            lines = ann.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{ann}: cannot read annotations: {exc}") from None
        for k, line in enumerate(lines, 1):
            parts = [p.strip() for p in line.split(",")]
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if len(parts) != 2 or parts[0] not in ("onset", "release"):
                raise ConfigError(f"{ann}: line {k}: {line.strip()!r} is not 'onset,<s>' or "
                                  "'release,<s>'")
            try:
                t = float(parts[1])
            except ValueError:
                raise ConfigError(f"{ann}: line {k}: {parts[1]!r} is not a time in "
                                  "seconds") from None
            (on if parts[0] == "onset" else off).append(t)
    duration = emg.data.shape[0] / emg.fs
    where = str(ann) if ann is not None else f"{path}'s label column"
    if not on:
        raise ConfigError(f"{where}: no onsets to score against (give --annotations with "
                          "'onset,<s>' lines, or a CSV with a label column)")
    outside = [t for t in on + off if not 0.0 <= t <= duration]
    if outside:
        raise ConfigError(f"{where}: a time of {outside[0]:g} s is outside the data (0 to "
                          f"{duration:.3f} s, counted from the first row)")
    return EmgRecord(np.asarray(emg.data, dtype=np.float64), emg.fs, tuple(on), tuple(off),
                     name=path.name, gaps=emg.gaps)


def evaluate_emg(
    records: Sequence[EmgRecord], mains_hz: float, tol: float,
    detect: Callable[[EmgRecord], tuple[list[Event], float]] | None = None,
) -> tuple[Summary, Summary, float]:
    """Onset and release summaries over ``records``; CPU ms per second of signal per
    channel."""
    onset, release = Summary(), Summary()
    cpu = 0.0
    seconds = 0.0
    for rec in records:
        events, c = detect(rec) if detect else detect_emg(rec, mains_hz)
        onset.retracted += sum(e.type == EventType.RETRACTED for e in events)
        events = confirmed_refined(events)
        cpu += c
        seconds += rec.emg.shape[0] / rec.fs * rec.emg.shape[1]
        onset.add(rec.onsets, [e for e in events if e.type == EventType.ONSET], rec.minutes, tol)
        release.add(
            rec.releases, [e for e in events if e.type == EventType.RELEASE], rec.minutes, tol
        )
    return onset, release, 1000.0 * cpu / max(seconds, 1e-9)


# -- independent sets -------------------------------------------------------------------

#: the generated sets ``eval`` can report
SETS = ("sim", "nk", "alt")

#: int8 sets: the weakest contraction's RMS in counts (a Myo at rest shows 2–5 counts of
#: mean |x|, 7–38 during gestures)
_INT8_WEAKEST_RMS = 12.0


def nk_records(
    n: int, snr_db: float, fs: float = 1000.0, seed: int = 0, int8: bool = False,
    duration: float = 60.0,
) -> list[EmgRecord]:
    """Records made by NeuroKit2's ``emg_simulate`` (uniform-noise bursts of 2–5 s, evenly
    spaced, white Gaussian noise for the SNR), labelled from its documented layout: equal
    quiet periods between the bursts, each generated at 1 kHz before resampling."""
    try:
        import neurokit2 as nk
    except ImportError:
        raise ConfigError("the nk set needs NeuroKit2: pip install 'isofeedback[bench]', "
                          "or leave nk out of --sets") from None
    out = []
    burst_rms = 1.0 / np.sqrt(3.0)  # uniform on [-1, 1]
    for k in range(n):
        rng = np.random.default_rng([seed + k, 2025])
        bursts = [float(b) for b in np.round(rng.uniform(2.0, 5.0, 6), 3)]
        noise = burst_rms / 10.0 ** (snr_db / 20.0)
        x = nk.emg_simulate(duration=duration, sampling_rate=int(fs), noise=noise,
                            burst_number=len(bursts), burst_duration=bursts,
                            random_state=seed + k)
        quiet = int(1000 * (duration - sum(bursts)) / (len(bursts) + 1))
        on, off = [], []
        i = 0
        for b in bursts:
            i += quiet
            on.append(i / 1000.0)
            i += int(1000 * b)
            off.append(i / 1000.0)
        x = np.asarray(x, dtype=np.float64)[:, None]
        if int8:
            x = quantize_int8(x * _INT8_WEAKEST_RMS / burst_rms)
        out.append(EmgRecord(x, fs, tuple(on), tuple(off), (0.0, 2.0), f"nk{seed + k}",
                             127.0 if int8 else None))
    return out


def instant_bursts(seed: int, snr_db: float, fs: float = 1000.0) -> EmgRecord:
    """Six 3 s bursts of white noise ``snr_db`` above white rest noise that start and stop
    at once (as NeuroKit2's simulator makes them, without its quiet-period offset): the
    plainest record of steps, for the tests of what a step does to the chain and the
    detector (its gate, its release model, the change tests' clip).

    >>> r = instant_bursts(0, 10.0)
    >>> len(r.onsets), r.releases[0] - r.onsets[0], r.emg.shape
    (6, 3.0, (40000, 1))
    """
    rng = np.random.default_rng(seed)
    n = int(40 * fs)
    a = np.zeros(n)
    onsets = tuple(3.0 + 6.0 * k + rng.uniform(0, 0.5) for k in range(6))
    releases = tuple(t + 3.0 for t in onsets)
    for t0, t1 in zip(onsets, releases, strict=True):
        a[int(t0 * fs):int(t1 * fs)] = np.sqrt(10.0 ** (snr_db / 10.0))
    x = rng.standard_normal(n) + a * rng.standard_normal(n)
    return EmgRecord(x[:, None], fs, onsets, releases, (0.0, 2.0), f"steps{seed}")


def alt_records(
    n: int, snr_db: float, fs: float = 1000.0, seed: int = 0, artifacts: str = "half",
    int8: bool = False,
) -> list[EmgRecord]:
    """Records of our second generator (:mod:`isofeedback.sim.alt_emg`); ``artifacts`` as
    for :func:`simulated_records`."""
    out = []
    for k in range(n):
        with_art = artifacts == "all" or (artifacts == "half" and k % 2 == 1)
        r = alt_emg_record(seed + k, fs, snr_db, with_art,
                           weakest_rms=_INT8_WEAKEST_RMS if int8 else 1.0)
        x = quantize_int8(r.emg) if int8 else r.emg
        out.append(EmgRecord(x[:, None], fs, r.onsets, r.releases, (0.0, 2.0),
                             f"alt{seed + k}{'a' if with_art else ''}",
                             127.0 if int8 else None))
    return out


def generated_records(
    kind: str, n: int, snr_db: float, fs: float, seed: int, artifacts: str, int8: bool,
    channels: int = 1,
) -> list[EmgRecord]:
    """The records of one generated set (``sim``, ``nk`` or ``alt``)."""
    if kind == "sim":
        return simulated_records(n, snr_db, fs, seed, artifacts, int8, channels=channels)
    if kind == "nk":
        return nk_records(n, snr_db, fs, seed, int8)
    return alt_records(n, snr_db, fs, seed, artifacts, int8)


@dataclass(frozen=True, slots=True)
class RealSet:
    """Real recordings of one folder, one kind: ``labels`` says where the truth comes from
    (``cues``: a per-sample label column, onsets at its rising edges; ``rest``: files
    whose labels are all rest; ``offline``: no labels, an offline envelope reference)."""

    name: str
    labels: str
    records: tuple[EmgRecord, ...]
    tolerance: float


def offline_bursts(x: FloatArray, fs: float, min_s: float = 0.5) -> tuple[list[float],
                                                                          list[float]]:
    """A reference for unlabelled recordings, with look-ahead both ways: zero-phase
    20 Hz – 0.45·fs band-pass, 250 ms moving RMS, above 2.5 × its median, gaps under 0.5 s
    merged, bursts shorter than ``min_s`` dropped. Returns onsets and releases (s)."""
    from scipy import signal

    sos = signal.butter(4, [20.0, 0.45 * fs], btype="band", fs=fs, output="sos")
    y = signal.sosfiltfilt(sos, x - np.mean(x, axis=0), axis=0)
    p = np.mean(y**2, axis=1)
    w = max(1, int(0.25 * fs))
    rms = np.sqrt(np.convolve(p, np.ones(w) / w, mode="same"))
    above = rms > 2.5 * np.median(rms)
    edges = np.diff(np.concatenate([[0], above.astype(int), [0]]))
    starts = [int(i) for i in np.flatnonzero(edges > 0)]
    ends = [int(i) for i in np.flatnonzero(edges < 0)]
    merged: list[list[int]] = []
    for a, b in zip(starts, ends, strict=True):
        if merged and a - merged[-1][1] < 0.5 * fs:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    keep = [(a / fs, b / fs) for a, b in merged if b - a >= min_s * fs]
    return [a for a, _ in keep], [b for _, b in keep]


def real_sets(folder: Path, fs_default: float = 200.0) -> list[RealSet]:
    """Every CSV (``.csv``, ``.tsv``) under ``folder``, read as ``replay`` reads it
    (columns: EMG channels, an optional time column, optional per-sample labels, 0 = rest:
    :func:`label_runs`; ``fs_default``: the rate of a file without a time column), grouped
    by sub-folder and kind of truth (see :class:`RealSet`). Cue labels are matched within
    ±1 s (they include the subject's reaction), offline references within ±0.5 s."""
    if not folder.is_dir():
        raise ConfigError(f"--real {folder}: not a folder (give the folder of the real "
                          "recordings)")
    groups: dict[tuple[str, str], list[EmgRecord]] = {}
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".csv", ".tsv"))
    for path in paths:
        signals = _read_foreign(path, None, "--real-fs", fs_default)
        stream = signals.streams["emg"]
        emg, fs = np.asarray(stream.data, dtype=np.float64), stream.fs
        integer_counts = bool(np.all(emg == np.round(emg)) and emg.min() >= -128
                              and emg.max() <= 127)
        labelled = label_runs(signals)
        if labelled is not None:
            on, off = tuple(labelled[0]), tuple(labelled[1])
            kind = "cues" if on else "rest"
        else:
            o, r = offline_bursts(emg, fs)
            on, off, kind = tuple(o), tuple(r), "offline"
        rec = EmgRecord(emg, fs, on, off, (0.0, 2.0), path.name,
                        127.0 if integer_counts else None, stream.gaps)
        group = path.parent.name if path.parent != folder else folder.name
        groups.setdefault((group, kind), []).append(rec)
    if not groups:
        raise ConfigError(f"--real {folder}: no CSV files (.csv, .tsv) in it or its "
                          "sub-folders")
    return [RealSet(g, k, tuple(recs), 1.0 if k in ("cues", "rest") else 0.5)
            for (g, k), recs in groups.items()]


# -- the side-by-side report ----------------------------------------------------------------

COLUMNS = (
    f"{'set':<34}{'on med':>7}{'on P90':>7}{'lat med':>8}{'lat P90':>8}{'off med':>8}"
    f"{'off P90':>8}{'missed':>10}{'found':>7}{'FP/min':>7}{'retr/min':>9}{'CPU':>6}"
)


def _cell(value: float, width: int) -> str:
    """A figure of the table, '-' where there is none (a set without true onsets)."""
    return f"{'-' if math.isnan(value) else f'{value:.1f}':>{width}}"


def report_line(name: str, on: Summary, off: Summary, cpu: float) -> str:
    """One row of the side-by-side table (times in ms, CPU in ms per second of signal per
    channel; ``found``: share of true onsets matched; ``retr/min``: provisional onsets
    withdrawn a minute, the blips a live display shows). A name too long for its column gets
    a line of its own above the figures, whole."""
    s, r = summarize(on), summarize(off)
    found = 100.0 * (1.0 - s["missed"] / s["truths"]) if s["truths"] else float("nan")
    missed = f"{int(s['missed'])}/{int(s['truths'])}"
    head = f"{name}\n{'':<34}" if len(name) >= 34 else f"{name:<34}"
    return (
        f"{head}{_cell(s['err_med_ms'], 7)}{_cell(s['err_p90_ms'], 7)}"
        f"{_cell(s['lat_med_ms'], 8)}{_cell(s['lat_p90_ms'], 8)}{_cell(r['err_med_ms'], 8)}"
        f"{_cell(r['err_p90_ms'], 8)}{missed:>10}{_cell(found, 6)}{'%' if s['truths'] else ' '}"
        f"{s['false_per_min']:>7.2f}{s['retracted_per_min']:>9.2f}{cpu:>6.2f}"
    )


def _available_sets() -> list[str]:
    """Every generated set whose generator is installed (nk needs NeuroKit2)."""
    import importlib.util

    if importlib.util.find_spec("neurokit2") is None:
        print("(set nk left out: NeuroKit2 is not installed; pip install 'isofeedback[bench]')")
        return [k for k in SETS if k != "nk"]
    return list(SETS)


def run_eval(args: argparse.Namespace) -> int:
    """Run the evaluation described by ``args``; print the figures; return 0."""
    int8 = bool(args.int8) or args.fs <= 250
    if args.annotations is not None and args.csv is None:
        raise ConfigError("--annotations needs --csv (the data they label)")
    version = versioned_config({}, "--detector-version", args.detector_version)

    def detect(rec: EmgRecord) -> tuple[list[Event], float]:
        return detect_emg(rec, args.mains, config=version)

    if args.csv is not None:
        rec = _read_csv(args.csv, args.annotations, args.csv_fs)
        on, off, cpu = evaluate_emg([rec], args.mains, args.tolerance, detect)
        print(f"{args.csv.name}: {rec.emg.shape[1]} channels, {rec.minutes:.1f} min "
              "(times in ms)")
        print(COLUMNS)
        print(report_line(args.csv.name, on, off, cpu))
        return 0
    chans = f", sim: {args.channels} channels" if args.channels > 1 else ""
    print(f"{args.fs:g} Hz{' int8' if int8 else ''}{chans}, {args.records} records × 60 s "
          "per row, "
          f"artifacts: {args.artifacts}, seed {args.seed}, detector version "
          f"{args.detector_version}; times in ms, CPU ms/s per channel")
    sets = args.sets or _available_sets()
    print(COLUMNS)
    for snr in args.snr:
        for kind in sets:
            recs = generated_records(kind, args.records, snr, args.fs, args.seed,
                                     args.artifacts, int8, args.channels)
            on, off, cpu = evaluate_emg(recs, args.mains, args.tolerance, detect)
            print(report_line(f"{kind} {snr:g} dB", on, off, cpu))
    if args.real is not None:
        for rs in real_sets(args.real, args.real_fs):
            on, off, cpu = evaluate_emg(rs.records, args.mains, rs.tolerance, detect)
            print(report_line(f"{rs.name} [{rs.labels}, {len(rs.records)} files]",
                              on, off, cpu))
    if not args.no_movement:
        mv = Summary()
        cpu = 0.0
        seconds = 0.0
        for k in range(args.records):
            script = movement_script(args.seed + k)
            crossings, events, still_min, c = detect_movement(script)
            mv.add(crossings, events, still_min, 1.0)
            cpu += c
            seconds += script.duration
        print(f"\nMovement ≥ 5° during holds, IMU 100 Hz, {args.records} records "
              "(false alarms per minute of still hold)")
        s = summarize(mv)
        print(f"delay after the 5° crossing med/P90 {s['lat_med_ms']:.1f}/{s['lat_p90_ms']:.1f}"
              f" ms, missed {int(s['missed'])}/{int(s['truths'])}, "
              f"{s['false_per_min']:.2f} false/min, CPU {1000 * cpu / max(seconds, 1e-9):.3f}"
              " ms/s")
    return 0
