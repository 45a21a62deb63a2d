"""EMG chain: band-pass, mains notch, artifact gate, power, envelope, channel fusion.

Causal and chunked: every piece carries its state, and the few decisions that change
the processing (end of the rest calibration, learnt channel weights) are taken at fixed
sample indices, so the output never depends on how the samples were split into chunks.

Output channels, one row per input sample:

``env``
    Fused moving-RMS envelope in the input's units (the level shown to the patient).
``pow``
    Fused instantaneous power in rest-noise units (≈ 1 at rest): each channel's filtered
    sample squared over its rest variance, weighted across channels. 0 before the rest
    calibration is complete. Detectors work on this: it has no smoothing delay.
``gate``
    1 where the sample must not be trusted: before calibration, during a contact spike
    and its filter ringing, or while any channel is saturated.
``dof``
    The effective number of channels in ``pow``: ``(Σw)² / Σw²`` of the fusion weights in
    force (1 for one channel, 8 for eight equal ones). It is an upper bound of the
    evidence a fused sample holds (reached by independent Gaussian channels); the
    detector measures the real one on the rest, and restarts that when ``dof`` changes.

Channel fusion: before any contraction all channels weigh the same. Once one second of
clear activity has been seen, each channel is weighted by ``snr / (1 + snr)`` (its excess
power over rest, the per-channel log-likelihood weight for a variance increase), and
channels under a fifth of the best weight are dropped. On an 8-channel armband this picks
the channels over the working muscle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from isofeedback.dsp.design_cache import cached_design
from isofeedback.dsp.exact import FEW_ROWS, dot, weighted_columns, weighted_rows
from isofeedback.dsp.filters import (
    MovingRms,
    SosFilter,
    emg_bandpass,
    mains_notch,
    pole_radius,
)
from isofeedback.dsp.heartbeats import Heartbeats, measure_heartbeats
from isofeedback.dsp.mains_hum import MainsHum, measure_hum
from isofeedback.dsp.rows import RecentRows, Rows
from isofeedback.types import Chunk, FloatArray

BoolArray = npt.NDArray[np.bool_]

__all__ = ["CHANNELS", "EmgChain", "effective_channels", "heartbeat_note"]

#: the chain's output channels, in order
CHANNELS = ("env", "pow", "gate", "dof")
#: a channel this far below the liveliest at rest (60 dB) is dead (``drop_dead``)
DEAD_CHANNEL_RATIO = 1e-6
#: a level change (``spike_level``): the raw signal's first differences over
#: ``LEVEL_WINDOW_S`` from ``LEVEL_AFTER_S`` after the first gated sample (after the longest
#: contact spike, ~2–8 ms), their median
#: above ``LEVEL_RATIO`` × theirs over the spike test's reference window
LEVEL_AFTER_S = 0.01
LEVEL_WINDOW_S = 0.005
LEVEL_RATIO = 9.0


def effective_channels(weights: FloatArray) -> float:
    """``(Σw)² / Σw²``: the number of equal, independent channels whose mean scatters as
    little as this weighted mean does.

    >>> effective_channels(np.ones(8)), effective_channels(np.array([1.0, 0.0, 0.0]))
    (8.0, 1.0)
    """
    w = np.asarray(weights, dtype=np.float64)
    total = float(np.add.reduce(w))
    return total * total / float(np.add.reduce(w * w))

_CHI2_MEDIAN = 0.454936  # median of a chi-square with one degree of freedom


def _rows_of(chunk: Chunk, a: int, b: int) -> Chunk:
    """Rows ``a:b`` of ``chunk`` as a chunk of their own (a gap before the chunk stays
    before its first rows)."""
    return Chunk.trusted(chunk.stream, chunk.fs, chunk.start_index + a,
                         chunk.t_first + a / chunk.fs, chunk.data[a:b], chunk.channels,
                         chunk.device, chunk.gap_before if a == 0 else 0)


def heartbeat_note(chain: EmgChain) -> str:
    """What the clinician is told when heartbeats in the rest made ``chain`` raise its
    band-pass edge (see :meth:`EmgChain._choose_filters`)."""
    beats = chain.heartbeats[0] if chain.heartbeats is not None else None
    rate = ""
    if beats is not None and len(beats.times) > 1:
        per_min = 60.0 * (len(beats.times) - 1) / (beats.times[-1] - beats.times[0])
        rate = f", {per_min:.0f} a minute,"
    return (f"the rest showed heartbeats (ECG{rate} {beats.ratio if beats else 0:.0f}× the "
            f"rest's power): band-pass from {chain.low_hz:g} Hz, not "
            f"{chain.low_switched_from:g} (set chain.low_hz = {chain.low_hz:g} for this "
            "muscle)")


class EmgChain:
    """Raw EMG chunks → ``emg_env`` chunks with channels ``env``, ``pow``, ``gate``, ``dof``.

    ``channels``: indices of the channels over the target muscle (all when ``None``).
    ``full_scale``: the converter's limit in input units (e.g. 127 for int8); samples at
    or beyond it are gated as saturated. ``spike_k``: a filtered sample larger than this
    many times the recent RMS is a contact spike; the gate then stays on ``spike_hold_s``.
    ``notch_q``: quality factor of the mains notches. A narrow notch (Q 30) rings for
    ~Q/(π·f) ≈ 0.2 s after a strong contraction stops — its removed 50 Hz band decays
    slowly — which held the power above rest and made releases 100–250 ms late at 20 dB;
    Q 10 (a 5 Hz wide notch, 1/3 of the ringing) still removes a mains hum completely.

    >>> import numpy as np
    >>> from isofeedback.types import Chunk
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((3000, 2)); x[2000:, 0] *= 6.0
    >>> ch = EmgChain(1000.0, 2, mains_hz=50.0, calibration_s=1.0)
    >>> out = ch.process(Chunk("emg", 1000.0, 0, 0.0, x, ("a", "b")))
    >>> out.channels, round(float(out.data[1200:2000, 1].mean()), 1)
    (('env', 'pow', 'gate', 'dof'), 1.1)
    >>> [round(float(w), 2) for w in ch.weights]
    [1.0, 0.0]
    """

    #: reuse the spike gate's notch output when the two notches' states are equal and the
    #: chunk has no spike (exact: the same output to the bit); False always filters twice
    share_notch = True
    #: a live packet through the band-pass and the gate's notch as one cascade (one
    #: compiled call instead of two, exact: see :meth:`_filter`); False always two calls
    cascade = True

    def __init__(
        self,
        fs: float,
        n_channels: int,
        mains_hz: float = 50.0,
        envelope_s: float = 0.05,
        channels: Sequence[int] | None = None,
        *,
        calibration_s: float = 2.0,
        mains_harmonics: int = 3,
        full_scale: float | None = None,
        spike_k: float = 12.0,
        spike_hold_s: float = 0.01,
        learn_weights: bool = True,
        active_k: float = 10.0,
        learn_s: float = 1.0,
        learn_on_best: bool = True,
        block_s: float = 0.25,
        low_hz: float | None = None,
        band_order: int = 4,
        notch_q: float = 10.0,
        chunk_invariant: bool = False,
        drop_dead: bool = False,
        mains_auto: bool = False,
        ecg_auto: bool = False,
        ecg_low_hz: float = 60.0,
        spike_level: bool = False,
        channel_powers_s: float = 0.0,
    ) -> None:
        """``chunk_invariant``: the same output to the bit however the stream is chunked
        (see :class:`MovingRms`), for data read from files in chunks of any size; live
        sessions, recorded packet by packet, are replayed as they were made.
        ``mains_auto``: the rest calibration's hum chooses the notch (:meth:`_choose_filters`):
        a sensor used under 60 Hz mains with the 50 Hz default (or the other way round)
        is notched at the frequency it hums at. ``ecg_auto``: heartbeats in the rest
        calibration (:mod:`.heartbeats`) raise the band-pass's low edge to
        ``ecg_low_hz`` (from 250 Hz: below, the band above it is too narrow).
        ``spike_level``: a gated "spike" whose raw signal stays up is a contraction that
        started at once, not a spike: its gate ends a few ms after it began
        (:meth:`_level_holds`). ``channel_powers_s``: each channel's output power over the
        last that many seconds is kept (:meth:`channel_power`; 0 = none, as with one
        channel): where on the electrodes a raised rest lies
        (:mod:`isofeedback.detectors.sensor_rise`)."""
        if fs <= 0 or n_channels < 1:
            raise ValueError("fs must be positive and n_channels at least 1")
        self.fs = fs
        self.n_channels = n_channels
        self.mains_hz = mains_hz
        self.envelope_s = envelope_s
        self.channels = tuple(channels) if channels is not None else tuple(range(n_channels))
        self.calibration_s = calibration_s
        self.mains_harmonics = mains_harmonics
        self.full_scale = full_scale
        self.spike_k = spike_k
        self.spike_hold_s = spike_hold_s
        self.learn_weights = learn_weights
        self.active_k = active_k
        self.learn_s = learn_s
        self.learn_on_best = learn_on_best
        self.block_s = block_s
        self.low_hz = low_hz
        self.band_order = band_order
        self.notch_q = notch_q
        self.chunk_invariant = chunk_invariant
        self.drop_dead = drop_dead
        self.mains_auto = mains_auto
        self.ecg_auto = ecg_auto
        self.ecg_low_hz = ecg_low_hz
        self.spike_level = spike_level
        self.channel_powers_s = channel_powers_s
        #: the band-pass's low edge the chain was built with, when heartbeats in the rest
        #: made it raise the edge to ``ecg_low_hz`` (``low_hz``); None: it kept it
        self.low_switched_from: float | None = None
        #: the heartbeats measured over the calibration and the sample it was decided at
        #: (``ecg_auto``), else None
        self.heartbeats: tuple[Heartbeats, int] | None = None
        #: the mains frequency the chain was built with, when the calibration's hum made
        #: it notch another (``mains_hz``); None: it kept it
        self.mains_switched_from: float | None = None
        # the calibration's raw rows, gathered for the hum and the heartbeats (None: not
        # choosing, or chosen)
        self._hum_rows: list[FloatArray] | None = (
            [] if (mains_auto and mains_hz > 0) or self._ecg_check() else None)
        self._hum_have = 0
        self._calibration_again: FloatArray | None = None
        #: the hum measured over the calibration and the sample it was decided at, once
        #: the chain has chosen its notch (``mains_auto``), else None
        self.hum: tuple[MainsHum, int] | None = None
        self._reset()

    def _band(self) -> FloatArray:
        low = self.low_hz if self.low_hz is not None else 20.0
        return emg_bandpass(self.fs, low=low, order=self.band_order)

    def _reset(self) -> None:
        c = len(self.channels)
        self._bandpass = SosFilter(self._band(), c)
        notch = (
            mains_notch(self.fs, self.mains_hz, self.mains_harmonics, self.notch_q)
            if self.mains_hz > 0
            else None
        )
        self._notch = SosFilter(notch, c) if notch is not None else None
        # the spike test sees the band-pass output through its own copy of the notches
        # (fed the spikes too, so it never depends on the gate): a mains hum in the
        # reference RMS would raise the spike threshold several fold
        self._gate_notch = SosFilter(notch, c) if notch is not None else None
        self._notch_shared = False  # both notches hold the same state (bit for bit)
        # the band-pass and the notch as one cascade, for live packets while the notches
        # are shared: while ``_cascading`` its state is the filters' (theirs are stale),
        # and ``_before`` its state before the last chunk (see :meth:`_filter`)
        kernel_ok = self._bandpass.compiled
        self._cascade = (SosFilter(np.vstack([self._bandpass.sos, notch]), c)
                         if notch is not None and kernel_ok else None)
        self._cascading = False
        self._before = np.empty(0)
        self._rms = MovingRms(max(1, int(round(self.envelope_s * self.fs))), c,
                              by_index=self.chunk_invariant)
        self._n = 0  # samples seen
        self._cal_n = max(1, int(round(self.calibration_s * self.fs)))
        self._cal = Rows(self._cal_n)  # the rest calibration's y² rows
        self.rest_var: FloatArray | None = None
        self.weights = np.ones(c)
        self.dof = float(c)
        self._learnt = not self.learn_weights or c == 1
        self._act_sum = np.zeros(c)
        self._act_blocks = 0
        self._blk: list[FloatArray] = []
        self._blk_n = 0  # rows in _blk
        self._blk_gate = 0.0
        self._block = max(1, int(round(self.block_s * self.fs)))
        # spike gate: power history for the reference RMS, last flagged sample
        self._ref_skip = max(1, int(round(0.005 * self.fs)))
        self._ref_len = max(2, int(round(0.1 * self.fs)))
        # power history written forward (shifted back only when full); the real samples
        # are ``_hbuf[_hpos - _hlen : _hpos]``
        self._hbuf = np.zeros((4 * (self._ref_len + self._ref_skip) + 64, c))
        self._hpos = 0
        self._hlen = 0
        self._spike_k2 = self.spike_k**2
        # a sample is surely no spike when even the part of the reference window shared
        # by the whole chunk is large enough; the factor absorbs any rounding of the sums
        self._sure = self._spike_k2 * (1.0 - 1e-6) / self._ref_len
        self._zeros = np.zeros((1 + self._ref_len + self._ref_skip, c))
        self._all = self.channels == tuple(range(self.n_channels))
        self._idx = list(self.channels)
        self._last_flag = -(10**12)
        self._ring_samples = -1.0 / math.log(pole_radius(self._band()))
        # level changes (``spike_level``): the raw rows kept for the test, the sample the
        # pending test is due at, the episode's first gated sample and channel, and the
        # last sample of a level change's window in which nothing is a spike
        self._lv_after = max(1, int(round(LEVEL_AFTER_S * self.fs)))
        self._lv_len = max(3, int(round(LEVEL_WINDOW_S * self.fs)))
        self._raw_keep = self._ref_len + self._ref_skip + self._lv_after + self._lv_len + 2
        self._raw = RecentRows(self._raw_keep, c) if self.spike_level else None
        # each channel's output power of the last ``channel_powers_s`` (see channel_power)
        keep = int(round(self.channel_powers_s * self.fs))
        self._chan_power = RecentRows(keep, c) if keep > 0 and c > 1 else None
        #: each channel's excess power over its rest (rest units) during the activity the
        #: weights were learnt on: where the muscle reaches the electrodes (None before)
        self.activity: FloatArray | None = None
        self._check_at: int | None = None
        self._check_from = 0
        self._check_ch = 0
        self._level_until = -(10**12)
        # the fusion's normalised weights and weights over rest variance, and as lists,
        # for the weights and rest variance they were computed from (see _fusion)
        self._fusion_for: tuple[FloatArray, FloatArray] | None = None
        self._fusion_w: tuple[FloatArray, FloatArray, list[float], list[float]] = (
            self.weights, self.weights, [], [])

    @property
    def calibrated(self) -> bool:
        return self.rest_var is not None

    def channel_power(self, a: int, b: int, cap: float | None = None) -> FloatArray | None:
        """Each channel's mean output power over samples ``a`` to ``b`` (counted from the
        stream's first, ``b`` excluded), or None when they are not all kept: the last
        ``channel_powers_s`` before the chunk just taken, and that chunk (a detector
        reading the chunk the chain gave it finds any span of that length before a
        sample of it, however the stream was chunked). ``cap``: each sample's power at
        most ``cap`` × its channel's calibrated rest."""
        kept = self._chan_power
        if kept is None or not kept.seen - kept.available <= a < b <= kept.seen:
            return None
        rows = kept.last(kept.seen - a)[: b - a]
        if cap is not None and self.rest_var is not None:
            rows = np.minimum(rows, cap * self.rest_var)
        return np.asarray(rows.mean(axis=0), dtype=np.float64)

    @property
    def filters(self) -> list[FloatArray]:
        """The SOS cascade the EMG goes through: band-pass, then the mains notches (for a
        detector that models the chain's ringing)."""
        notch = (
            mains_notch(self.fs, self.mains_hz, self.mains_harmonics, self.notch_q)
            if self.mains_hz > 0
            else None
        )
        return [self._band()] + ([notch] if notch is not None else [])

    @property
    def settled(self) -> bool:
        """The envelope's window is full (:attr:`MovingRms.full`): from here on the
        output does not depend on how the samples are chunked, to the bit."""
        return self._rms.full

    @property
    def delay_s(self) -> float:
        """Approximate group delay of the envelope (half the RMS window)."""
        return self.envelope_s / 2

    @property
    def power_delay_s(self) -> float:
        """Group delay of the band-pass (and notch) around the EMG band's centre: how
        late the ``pow`` channel shows a change."""
        sos = self._band()
        hi = min(450.0, 0.45 * self.fs)
        lo = min(self.low_hz or 20.0, hi / 2)
        fs = self.fs

        def design() -> FloatArray:
            from scipy import signal

            f = np.linspace(lo * 1.5, hi * 0.8, 32)
            _, h = signal.sosfreqz(sos, worN=f, fs=fs)
            phase = np.unwrap(np.angle(h))
            gd = -np.gradient(phase, 2 * np.pi * f)
            return np.array([np.median(gd)])

        return float(cached_design("power-delay", [float(fs), lo, hi, sos], design)[0])

    def _power(self, y: FloatArray) -> FloatArray:
        """``y²`` appended to the spike gate's history; returns the chunk's part."""
        n = y.shape[0]
        need = self._ref_len + self._ref_skip
        pos, keep = self._hpos, min(self._hlen, need)
        if pos + n > self._hbuf.shape[0]:
            old = self._hbuf[pos - keep : pos]
            if keep + n > self._hbuf.shape[0]:
                self._hbuf = np.zeros((2 * (need + n), y.shape[1]))
            self._hbuf[:keep] = old
            pos = keep
        y2 = self._hbuf[pos : pos + n]
        np.multiply(y, y, out=y2)
        self._hpos = pos + n
        self._hlen = keep + n
        return y2

    def _shared_reference(self, n: int) -> FloatArray | None:
        """The history rows inside the reference window of every sample of an ``n``-row
        chunk just appended (None: the chunk is longer than a window, or the history
        does not reach back far enough yet)."""
        ln, need = self._ref_len, self._ref_len + self._ref_skip
        if n > ln or self._hlen - n < need:
            return None
        end = self._hpos - n  # the history before the chunk: [end - need, end)
        return self._hbuf[end - need + n - 1 : end - need + ln]

    def _surely_clear(self, y2: FloatArray) -> bool:
        """True when no sample of the chunk can be a spike: every sample's reference
        window contains the samples shared by all of them, all already in the history,
        and the chunk's largest power is under ``spike_k²`` times their mean."""
        n = y2.shape[0]
        if n <= FEW_ROWS:
            return self._clear_rows(y2) is not None
        shared = self._shared_reference(n)
        if shared is None:
            return False
        if y2.shape[1] == 1:  # plain floats: numpy calls on tiny arrays cost more
            return float(np.maximum.reduce(y2, axis=None)) < self._sure * float(
                np.add.reduce(shared, axis=None)
            )
        peak = np.maximum.reduce(y2, axis=0)
        return bool(np.logical_and.reduce(peak < self._sure * np.add.reduce(shared, axis=0)))

    def _clear_rows(self, y2: FloatArray) -> list[list[float]] | None:
        """:meth:`_surely_clear` for a few rows (a live packet): the bound per channel,
        the samples compared in Python floats; the rows of ``y2`` as floats when it
        holds (the few-rows path's input), else None. Each sample under its channel's
        bound is the maximum under it, and a NaN fails both, as numpy's maximum would
        propagate it."""
        shared = self._shared_reference(y2.shape[0])
        if shared is None:
            return None
        bounds = (self._sure * np.add.reduce(shared, axis=0)).tolist()
        rows: list[list[float]] = y2.tolist()
        for row in rows:
            for v, b in zip(row, bounds, strict=True):
                if not v < b:
                    return None
        return rows

    def _clear_few(self, y2: FloatArray, raw: FloatArray) -> list[list[float]] | None:
        """:meth:`_gate`'s first test on a few rows, in Python floats: no sample at full
        scale and none can be a spike; then the gate is only an earlier spike's hold
        (:meth:`_held`) and the rows of ``y2`` are returned as floats. None: the array
        gate decides (a NaN too, whose answer is then numpy's)."""
        full = self.full_scale
        if full is not None:
            for row in raw.tolist():
                for v in row:
                    if not abs(v) < full:
                        return None
        return self._clear_rows(y2)

    def _held(self) -> int:
        """How many of the next chunk's samples an earlier spike's hold still gates
        (≤ 0: none)."""
        return self._last_flag - self._n + 1

    def _gate(self, y2: FloatArray, raw: FloatArray) -> tuple[FloatArray, BoolArray | None]:
        """Spike and saturation gate for the current chunk (1 = gated), and the spike
        samples themselves (zeroed before the notch, whose narrow bands would ring), or
        ``None`` when the chunk has none.

        The reference of each sample is the mean power over ``ref_len`` samples ending
        ``ref_skip`` samples earlier. A running sum over the kept history and the chunk
        finds the candidates cheaply (with a margin for its rounding); each candidate's
        window is then summed exactly, so the decision does not depend on the chunking
        (a running-sum difference alone cancels catastrophically on a flat channel)."""
        n, c = y2.shape
        ln, skip = self._ref_len, self._ref_skip
        need = ln + skip
        sat: BoolArray | None = None
        if self.full_scale is not None:
            over = np.abs(raw) >= self.full_scale
            sat = np.asarray(over.any(axis=1) if c > 1 else over[:, 0], dtype=bool)
        base = self._n
        due = self._level_due(n)
        if (sat is None or not sat.any()) and not due and self._surely_clear(y2):
            return self._no_spike(n), None
        hist = self._hbuf[max(self._hpos - self._hlen, self._hpos - n - need) : self._hpos - n]
        pad = need - hist.shape[0]  # > 0 only in the stream's first ~0.1 s
        buf = np.concatenate([self._zeros[: 1 + pad], hist, y2])
        csum = np.cumsum(buf, axis=0)
        sums = csum[ln : ln + n] - csum[:n]  # window of sample i: buf[i + 1 : i + 1 + ln]
        k2 = self._spike_k2
        margin = 1e-9 * np.abs(csum[-1])  # far above the running sum's rounding
        cand = y2 * ln > k2 * (sums - margin)
        if sat is not None:
            # a saturated sample is an artifact whatever its size: its reference is
            # needed for the band-pass ringing hold below
            cand |= sat[:, None]
        if pad > 0:
            cand[: min(pad, n)] = False  # not enough history yet: no reference
        any_cand = bool(cand.any())
        r2: FloatArray | None = None
        if any_cand:
            ref = np.full((n, c), np.inf)
            ii, cc = np.nonzero(cand)
            rows = buf[ii[:, None] + 1 + np.arange(ln)[None, :], cc[:, None]]
            ref[ii, cc] = rows.sum(axis=1) * (1.0 / ln)
            r2 = y2 / np.maximum(ref, 1e-30)
            ratio = r2.max(axis=1) if c > 1 else r2[:, 0]
            flag = ratio > k2
        if (not any_cand or not flag.any()) and (sat is None or not sat.any()) and not due:
            return self._no_spike(n), None
        if not any_cand:
            ratio = np.zeros(n)
            flag = np.zeros(n, dtype=bool)
        absidx = base + np.arange(n)
        hold = int(round(self.spike_hold_s * self.fs))
        # the band-pass rings after a spike: gate until its slowest mode has decayed
        # from the spike's size back to the rest level
        ring = 0.5 * np.log(np.maximum(ratio, 1.0)) * self._ring_samples
        ends = np.where(flag, absidx + hold + np.ceil(ring).astype(np.int64), -(10**12))
        if sat is not None:
            sat_end = absidx + hold + np.ceil(ring).astype(np.int64)
            ends = np.where(sat, np.maximum(ends, sat_end), ends)
        if self.spike_level:
            last, flag, self._last_flag = self._level_holds(flag, ends, r2, absidx)
        else:
            last = np.maximum.accumulate(np.maximum(ends, self._last_flag))
            self._last_flag = int(last[-1])
        if sat is not None:
            flag = flag | sat  # zeroed before the notch as well
        spikes = flag if flag.any() else None
        return (absidx <= last).astype(np.float64), spikes

    def _level_due(self, n: int) -> bool:
        """A level test falls in the next ``n`` samples: the gate's full path decides
        them (the fast paths know only an earlier spike's hold)."""
        return self._check_at is not None and self._check_at < self._n + n

    def _level_holds(self, flag: BoolArray, ends: npt.NDArray[np.int64],
                     r2: FloatArray | None, absidx: npt.NDArray[np.int64],
                     ) -> tuple[npt.NDArray[np.int64], BoolArray, int]:
        """The gate's hold (last gated sample, per row), the spike rows and the hold's
        end after the chunk, with level changes (``spike_level``).

        A contraction that starts at once 20 dB or more above the rest passes the spike
        test at its first samples, and the hold for the band-pass's ringing then kept its
        first ~70 ms out of the detector (`nk`'s bursts at 30 dB were decided 80 ms late).
        A spike cannot be told from such a step at its first samples, but a few ms later
        it can, from the raw signal's first differences, which do not ring: a spike's
        fall back to the rest at once (a pulse's flat top has none), a contraction's stay
        up. So the first gated sample of an episode (one that starts after the hold of
        every earlier one) schedules a test ``LEVEL_AFTER_S`` + ``LEVEL_WINDOW_S`` later;
        a level change ends the hold at the test's sample, and for one reference window
        after it nothing is a spike (the reference still lags the new level). Every
        decision uses samples up to its own only: the gate is the same however the
        stream is chunked."""
        flag = flag.copy()
        ends = ends.copy()
        quiet = absidx <= self._level_until
        if quiet.any():
            flag[quiet] = False
            ends[quiet] = -(10**12)
        n = absidx.size
        last = np.empty(n, dtype=np.int64)
        start, held = 0, self._last_flag
        while start < n:
            last[start:] = np.maximum.accumulate(np.maximum(ends[start:], held))
            if self._check_at is None:
                before = np.concatenate(([held], last[start:-1]))
                new = np.flatnonzero(flag[start:] & (absidx[start:] > before))
                if new.size == 0:
                    break
                i = start + int(new[0])
                self._check_from = int(absidx[i])
                self._check_at = self._check_from + self._lv_after + self._lv_len - 1
                self._check_ch = int(np.argmax(r2[i])) if r2 is not None else 0
            at = self._check_at - int(absidx[0])
            if at >= n:
                break
            self._check_at = None
            if self._is_level(self._check_from, int(absidx[at]), self._check_ch):
                self._level_until = int(absidx[at]) + self._ref_len
                after = slice(at + 1, n)
                quiet = absidx[after] <= self._level_until
                flag[after][quiet] = False
                ends[after][quiet] = -(10**12)
                held = int(absidx[at])  # the hold ends at the test's sample
            else:
                held = int(last[at])  # a spike: its hold goes on
            start = at + 1
        # the hold after the chunk: the last row's, or where a test on that row cut it
        return last, flag, held if start >= n else int(last[-1])

    def _is_level(self, first: int, at: int, ch: int) -> bool:
        """Whether the episode gated from sample ``first`` on is a level change: the raw
        first differences of channel ``ch`` over the test's window (ending at ``at``)
        against those over the spike test's reference window before ``first``."""
        assert self._raw is not None
        lo = first - self._ref_skip - self._ref_len - 1
        k = self._raw.seen - lo
        rows = self._raw.last(k)
        if rows.shape[0] < k:
            return False  # the stream's first samples: no reference
        x = rows[:, ch]
        ref = np.diff(x[: self._ref_len + 1])
        w0 = first + self._lv_after - lo
        win = np.diff(x[w0 - 1 : at - lo + 1])
        return bool(np.median(win * win) > LEVEL_RATIO * np.median(ref * ref))

    def _no_spike(self, n: int) -> FloatArray:
        """The gate of a chunk without spikes or saturation: on only while an earlier
        spike's hold lasts."""
        gate = np.zeros(n)
        m = self._held()
        if m > 0:
            gate[:m] = 1.0
        return gate

    def process(self, chunk: Chunk) -> Chunk:
        if self._hum_rows is not None:
            return self._process_choosing(chunk)
        return self._process(chunk)

    def _process_choosing(self, chunk: Chunk) -> Chunk:
        """:meth:`_process` while the rest calibration's raw rows are gathered for the
        mains hum and the heartbeats; at the calibration's last row (a fixed sample count,
        wherever the chunks are cut) the filters are chosen (:meth:`_choose_filters`), and
        the rest of the chunk goes on with them."""
        assert self._hum_rows is not None
        n = chunk.data.shape[0]
        take = min(n, self._cal_n - self._hum_have)
        self._hum_rows.append(np.array(chunk.data[:take], dtype=np.float64))
        self._hum_have += take
        if self._hum_have < self._cal_n:
            return self._process(chunk)
        head = self._process(_rows_of(chunk, 0, take))
        rows, self._hum_rows = np.concatenate(self._hum_rows), None
        self._choose_filters(chunk, rows)
        if take == n:
            return self._out(chunk, head.data)
        tail = self._process(_rows_of(chunk, take, n))
        return self._out(chunk, np.concatenate((head.data, tail.data)))

    def _ecg_check(self) -> bool:
        """Whether the calibration's rest is asked for heartbeats (``ecg_auto``, the edge
        below ``ecg_low_hz``, a rate whose band reaches well above it)."""
        return (self.ecg_auto and self.fs >= 250.0
                and (self.low_hz if self.low_hz is not None else 20.0) < self.ecg_low_hz)

    def _choose_filters(self, chunk: Chunk, rows: FloatArray) -> None:
        """The filters the calibration's rest (``rows``, raw) asks for, chosen at its end.

        Notch the mains frequency it hums at, when it is not the configured one and that
        one does not hum (:func:`measure_hum`: a line ten times the spectrum beside it
        and three times the other's); raise the band-pass's low edge to ``ecg_low_hz``
        when at least half of the channels show heartbeats through the configured band
        (:func:`measure_heartbeats`: an even train of short bursts at a heart's
        intervals). Either way the chain is built again (:meth:`_reset`) and the
        calibration run through it once more, so its state is what it would have been
        with those filters from the start. The outputs already given are not changed:
        during the calibration the detector takes none of them. The detector keeps the
        configured filters' ringing and delay in its timing models (a notch differs
        little; the higher edge rings less, so a release is placed a few ms late)."""
        raw = rows[:, self._idx] if not self._all else rows
        rebuild = False
        if self.mains_auto and self.mains_hz > 0:
            hum = measure_hum(raw, self.fs)
            self.hum = (hum, self._cal_n - 1)
            if hum.hz is not None and hum.hz != self.mains_hz:
                self.mains_switched_from, self.mains_hz = self.mains_hz, hum.hz
                rebuild = True
        if self._ecg_check():
            y = SosFilter(self._band(), raw.shape[1]).process(raw)
            beats = [measure_heartbeats(y[:, k], self.fs) for k in range(y.shape[1])]
            self.heartbeats = (max(beats, key=lambda b: (b.found, len(b.times))),
                               self._cal_n - 1)
            if 2 * sum(b.found for b in beats) >= len(beats):
                self.low_switched_from = self.low_hz if self.low_hz is not None else 20.0
                self.low_hz = self.ecg_low_hz
                rebuild = True
        if not rebuild:
            return
        self._reset()
        again = self._process(Chunk.trusted(chunk.stream, chunk.fs, 0, 0.0, rows,
                                            chunk.channels, chunk.device))
        self._calibration_again = again.data

    def take_calibration_rows(self) -> FloatArray | None:
        """The output over the whole calibration as the chain filters it now, once, when
        it chose another notch or band edge at the calibration's end (else None): the rows
        it gave during the calibration came through the configured filters, and a detector that
        calibrated its rest on them would take the hum for rest (a baseline several
        times too high: the patient's reference contraction looked too weak and the
        calibration failed)."""
        rows, self._calibration_again = self._calibration_again, None
        return rows

    def _process(self, chunk: Chunk) -> Chunk:
        raw = chunk.data if self._all else chunk.data[:, self._idx]
        n = raw.shape[0]
        if n == 0:
            return self._out(chunk, np.zeros((0, 4)))
        few = self._few(n, raw.shape[1])
        y, yg = self._filter(raw, few)
        power = self._power(yg)  # yg², a view of the spike gate's history
        if self._raw is not None:
            self._raw.push(raw)
        clear = self._clear_few(power, raw) if few and not self._level_due(n) else None
        if clear is None:
            gate, spikes = self._gate(power, raw)
        else:  # no spike, no saturation: only an earlier spike's hold
            held = self._held()
            gates, spikes = [1.0 if i < held else 0.0 for i in range(n)], None
        if self._notch is not None and self._gate_notch is not None:
            if spikes is None and self._notch_shared:
                # same filter, same state, same input (no spike to zero): the gate's
                # notch output is this notch's output to the bit; skip the second pass
                y = yg
                if not self._cascading:  # (a cascade keeps one state for both)
                    self._notch.copy_state(self._gate_notch)
            else:
                if y is None:  # the cascade gave the gate's output only
                    y = self._bandpass_again(raw)
                if spikes is not None:
                    y[spikes] = 0.0
                y = self._notch.process(y, overwrite=True)  # y is the band-pass's own output
                # the two notches' states meet again, bit for bit, once a zeroed spike's
                # difference has decayed below rounding (a few seconds)
                self._notch_shared = self.share_notch and self._notch.same_state(
                    self._gate_notch
                )
        assert y is not None  # (None only from a cascade, whose output is then ``yg``)
        if few:  # a live packet: what _fuse and _slow do, in Python floats
            assert self.rest_var is not None
            # the output's square: the gate's (the same products) when the output is the
            # gate's notch output
            rows = clear if clear is not None and y is yg else (y * y).tolist()
            if self._chan_power is not None:
                self._chan_power.push(np.asarray(rows))
            if clear is None:
                gates = gate.tolist()
            out = self._fuse_few(rows, self._rms.mean_square_few(rows), gates)
            if not self._learnt:
                # the array path's very expression: the block's mean sums its rows in an
                # order that follows their memory layout (``y`` is column-major), so
                # rows rebuilt from the floats would change the learnt weights' last bits
                self._learn(y * y / self.rest_var, sum(gates))
            self._n += n
            return self._out(chunk, out)
        steady = self.rest_var is not None and self._learnt
        # in the steady state, when the output is the gate's notch output, its square is
        # that history's slice (the same products; read before the next chunk can move
        # the history). Not before: the weight learning's block means sum over rows, and
        # numpy sums the (column-major) ``y * y`` in another order than the history's
        # row-major slice, so the learnt weights would differ in the last bits
        y2 = power if steady and y is yg else y * y
        if self._chan_power is not None:
            self._chan_power.push(y2)
        ms = self._rms.mean_square(y2)
        if steady:  # the whole chunk with the current weights
            out = np.empty((n, 4))
            self._fuse(y2, ms, out, 0, n)
            out[:, 2] = gate
        else:
            out = np.empty((n, 4))
            self._slow(y2, ms, gate, out)
            out[:, 2] = gate
        self._n += n
        return self._out(chunk, out)

    def _filter(self, raw: FloatArray, few: bool) -> tuple[FloatArray | None, FloatArray]:
        """The band-pass output (None when not computed) and the gate's notch output.

        A live packet, while the two notches are shared (the usual case), goes through
        the band-pass and the notch as one cascade of sections: the compiled kernel runs
        a sample through the sections in order, each section's recurrence seeing only its
        own input, so the cascade's output and final state are the two filters' to the
        bit — in one call and one copy instead of two of each, and the main notch's state
        is the gate notch's without a copy. The band-pass output itself is then not
        seen; the one chunk in a while that needs it (a spike to zero before the main
        notch) gets it from the cascade's state before the chunk (:meth:`_uncascade`)."""
        cascade, gate_notch = self._cascade, self._gate_notch
        if (few and self._notch_shared and self.cascade and cascade is not None
                and gate_notch is not None):
            if not self._cascading:
                if self._bandpass._zi is None or gate_notch._zi is None:
                    return self._filter(raw, False)
                cascade._zi = np.concatenate((self._bandpass._zi, gate_notch._zi), axis=1)
                self._before = np.empty_like(cascade._zi)
                self._cascading = True
            assert cascade._zi is not None
            np.copyto(self._before, cascade._zi)
            return None, cascade.process(raw)
        if self._cascading:
            self._uncascade(False)
        y = self._bandpass.process(raw)
        return y, gate_notch.process(y) if gate_notch is not None else y

    def _uncascade(self, before: bool) -> None:
        """The filters' own states back from the cascade's: the gate notch's after the
        last chunk; the band-pass's and the main notch's (shared: the gate notch's) after
        it too, or, ``before``, before it (see :meth:`_bandpass_again`)."""
        cascade, notch, gate_notch = self._cascade, self._notch, self._gate_notch
        assert cascade is not None and cascade._zi is not None
        assert notch is not None and gate_notch is not None
        k = self._bandpass.sos.shape[0]
        after = cascade._zi
        start = self._before if before else after
        self._bandpass._zi = start[:, :k].copy()
        gate_notch._zi = after[:, k:].copy()
        notch._zi = start[:, k:].copy()
        self._cascading = False

    def _bandpass_again(self, raw: FloatArray) -> FloatArray:
        """The band-pass output of ``raw``, the chunk the cascade just filtered, wanted
        after all (a spike to zero before the main notch): the filters leave the cascade
        with the band-pass and the main notch as they were before the chunk, and the
        band-pass runs over it again — the same arithmetic, so the same output, and its
        state ends where the cascade's did."""
        self._uncascade(True)
        return self._bandpass.process(raw)

    def _few(self, n: int, channels: int) -> bool:
        """A chunk of a few rows over several channels, after the rest calibration, within
        one learning block (so :meth:`_slow` would take it whole, with one set of
        weights): :meth:`_fuse_few` gives its rows."""
        return (n <= FEW_ROWS and channels > 1 and self.rest_var is not None
                and (self._learnt or n <= self._to_block_end(self._n)))

    def _to_block_end(self, a: int) -> int:
        """Samples from absolute index ``a`` (after the rest calibration) to the end of its
        weight-learning block. The blocks are counted from the calibration's end, where
        :meth:`_learn` starts counting rows: cut anywhere else (at multiples of the block
        from sample 0), a calibration that does not end on such a multiple made a first
        block of another length in one chunking than in another, and the learnt weights
        (and every envelope after them) depended on the chunking."""
        return self._block - (a - self._cal_n) % self._block

    def _fuse(self, y2: FloatArray, ms: FloatArray, out: FloatArray, i: int, j: int) -> None:
        """Fused power, envelope and channel count of samples ``i:j`` with the current
        weights."""
        assert self.rest_var is not None
        out[i:j, 3] = self.dof
        if y2.shape[1] == 1:
            np.multiply(y2[i:j, 0], 1.0 / float(self.rest_var[0]), out=out[i:j, 1])
            np.sqrt(ms[i:j, 0], out=out[i:j, 0])
        else:
            w, w_rest, _, _ = self._fusion()
            out[i:j, 1] = weighted_columns(y2[i:j], w_rest)
            out[i:j, 0] = np.sqrt(weighted_columns(ms[i:j], w))

    def _fusion(self) -> tuple[FloatArray, FloatArray, list[float], list[float]]:
        """The fusion weights normalised to sum 1, and over the rest variance (arrays,
        then the same as lists): computed once per change of the weights or the rest
        variance (both are only ever replaced, never changed in place) instead of per
        chunk; the same divisions, so the same bits."""
        assert self.rest_var is not None
        made = self._fusion_for
        if made is None or made[0] is not self.weights or made[1] is not self.rest_var:
            w = self.weights / self.weights.sum()
            w_rest = w / self.rest_var
            self._fusion_w = (w, w_rest, w.tolist(), w_rest.tolist())
            self._fusion_for = (self.weights, self.rest_var)
        return self._fusion_w

    def _fuse_few(self, y2: list[list[float]], ms: list[list[float]],
                  gate: list[float]) -> FloatArray:
        """:meth:`_fuse` of a whole chunk of a few rows (several channels, given as Python
        floats) and the gate (``out[:, 2]``), the output rows built in Python floats: the
        sums are :func:`weighted_columns`' (:func:`weighted_rows`), the square root is
        IEEE's correctly rounded one in both ``math`` and numpy (numpy's kept for a NaN
        or a negative, whose NaN's bits it decides). A live packet's dozen numpy calls
        become one."""
        _, _, w, w_rest = self._fusion()
        dof = self.dof
        power = weighted_rows(y2, w_rest)
        level = weighted_rows(ms, w)
        return np.array([[math.sqrt(e) if e >= 0.0 else float(np.sqrt(e)), p, g, dof]
                         for e, p, g in zip(level, power, gate, strict=True)],
                        dtype=np.float64)

    def _slow(self, y2: FloatArray, ms: FloatArray, gate: FloatArray, out: FloatArray) -> None:
        """Calibration and channel-weight learning: decisions at fixed sample indices."""
        n = y2.shape[0]
        i = 0
        while i < n:
            a = self._n + i  # absolute index of sample i
            if self.rest_var is None:
                take = min(n - i, self._cal_n - a)
                self._cal.add(y2[i : i + take])
                w0 = self.weights / self.weights.sum()
                out[i : i + take, 1] = 0.0
                out[i : i + take, 3] = self.dof
                out[i : i + take, 0] = np.sqrt(weighted_columns(ms[i : i + take], w0))
                gate[i : i + take] = 1.0
                if a + take >= self._cal_n:
                    cal = self._cal.filled()
                    self.rest_var = np.maximum(np.median(cal, axis=0) / _CHI2_MEDIAN, 1e-24)
                    self._cal = Rows(0)
                    self._drop_dead_channels()
                i += take
                continue
            # up to the next block boundary (learning decisions happen only there)
            take = n - i if self._learnt else min(n - i, self._to_block_end(a))
            self._fuse(y2, ms, out, i, i + take)
            if not self._learnt:
                self._learn(y2[i : i + take] / self.rest_var, float(gate[i : i + take].sum()))
            i += take

    def _drop_dead_channels(self) -> None:
        """A channel whose rest power is a millionth of the liveliest's carries no signal
        (an electrode off, a flat line, a channel the device leaves at zero): it is out of
        the fusion from the start (``drop_dead``). Before, it counted until the weights
        were learnt and then left the fused rest level twice what the detector had
        measured: a train of false activations after the first contraction."""
        assert self.rest_var is not None
        if not self.drop_dead or self.rest_var.size < 2:
            return
        dead = self.rest_var < DEAD_CHANNEL_RATIO * float(self.rest_var.max())
        if dead.any() and not dead.all():
            self.weights = np.where(dead, 0.0, 1.0)
            self.dof = effective_channels(self.weights)

    @staticmethod
    def _out(chunk: Chunk, data: FloatArray) -> Chunk:
        """The output chunk (``data``: (n, 4) by construction; ``chunk`` was checked)."""
        return Chunk.trusted("emg_env", chunk.fs, chunk.start_index, chunk.t_first, data,
                             CHANNELS, chunk.device, chunk.gap_before)

    def _learn(self, norm: FloatArray, gated: float) -> None:
        """Accumulate per-channel excess power over clearly active blocks (``gated``: the
        rows' sum of the gate, whole numbers); set the weights once enough activity has
        been seen (at a block boundary)."""
        self._blk.append(norm)
        self._blk_gate += gated
        self._blk_n += norm.shape[0]
        if self._blk_n < self._block:
            return
        blk = np.vstack(self._blk)
        self._blk = []
        self._blk_n = 0
        gated = self._blk_gate
        self._blk_gate = 0.0
        if gated > 0:
            return
        mean = blk.mean(axis=0)
        # clearly active on some channel: the fused (equal-weight) mean would dilute a
        # muscle under one electrode of eight below the bar, and at 5 dB the weights were
        # then never learnt and 42 of 96 contractions missed
        level = (
            float(np.maximum.reduce(mean))
            if self.learn_on_best
            else dot(mean, self.weights / self.weights.sum())
        )
        if level < self.active_k:
            return
        self._act_sum += mean
        self._act_blocks += 1
        if self._act_blocks * self._block >= self.learn_s * self.fs:
            snr = np.maximum(self._act_sum / self._act_blocks - 1.0, 0.0)
            self.activity = snr
            w = snr / (1.0 + snr)
            w = np.where(w >= 0.2 * w.max(), w, 0.0)
            self.weights = w / w.max() if w.max() > 0 else np.ones_like(w)
            self.dof = effective_channels(self.weights)
            self._learnt = True
