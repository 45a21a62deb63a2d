"""Contraction onset and release: CUSUM decision, likelihood back-dating. Causal, chunked.

The detector works on the chain's ``pow`` channel: the filtered EMG squared, in rest-noise
units, with no smoothing delay. Parameters (:mod:`.params`, names below as
``group.field``) are kept as given. The first ``rest.calibration_s`` of rest give the baseline and
noise of the envelope (for :meth:`level`) and of the power; the power baseline then
follows slow changes while the muscle is clearly at rest.

*Decision.* At rest a one-sided CUSUM accumulates the log-likelihood ratio of "variance
``onset.ratio`` × rest" against "rest" for every ungated sample; the onset is decided when
it exceeds ``onset.h``. While active a second CUSUM tests "rest" against ``release.ratio``
× rest and decides the release when it exceeds ``release.h``. Both are sequential tests with bounded
false-alarm rates (Page's CUSUM); gated samples (spikes, saturation) add nothing.
One sample adds at most ``onset.sample_max`` × ``onset.h`` to the onset statistic, so the first
sample of a contact spike (not yet gated) cannot decide an onset alone.
The release alternative follows the hold: after each full block of activity it becomes
``hold power / release.hold_div`` (between ``release.ratio`` and ``release.ratio_max``), so the
evidence per rest sample grows with the contraction's strength and releases are decided
sooner, which matters most at wearable rates (5× fewer samples per second).

*Back-dating.* At a decision the change point is estimated in a bounded window of recent
samples (up to ``onset.backdate_s`` before the CUSUM last left zero), by maximum likelihood
under a rest → ramp → plateau variance model
(:func:`~isofeedback.detectors.changepoint.ramp_change_point`); the release is the same
with time reversed. The filter's group delay (``delay_s``) is then subtracted.
The release model has the filters' decay after the change (:mod:`.release_timing`, scaled
by ``release.tail``) instead of an instant return to rest, and is moved
``release.envelope_blend`` of the way to the envelope's fall.

*Other parts.* Several fused channels: :mod:`.fusion`; a rest that does not return to
the calibrated level: :mod:`.level_drop`; activations too short for a contraction:
:mod:`.retraction`.

*Never split a hold.* A release needs ``release.min_active_s`` of activity first; an onset
needs ``onset.refractory_s`` after a release. The CUSUMs themselves give hysteresis: a short dip
during a hold only lowers the release statistic's drift, it does not reset the state.

Decisions about the baseline are taken only at fixed sample indices (every
``rest.block_s``), so results do not depend on chunk boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from isofeedback.checks import number
from isofeedback.detectors.changepoint import BoolArray, cusum, ramp_change_point
from isofeedback.detectors.fusion import FusedEvidence
from isofeedback.detectors.level_drop import LevelDropTracker
from isofeedback.detectors.params import DetectorParams
from isofeedback.detectors.release_timing import envelope_fall, release_tail
from isofeedback.detectors.retraction import Retraction
from isofeedback.dsp.emg_chain import CHANNELS as _CHAIN_CHANNELS
from isofeedback.errors import ConfigError
from isofeedback.types import Chunk, Event, EventType, FloatArray

__all__ = ["OnsetReleaseDetector", "release_tail"]

class OnsetReleaseDetector:
    """``emg_env`` chunks → onset / release events (plus one ``calibrated`` event).

    Works on an :class:`~isofeedback.dsp.emg_chain.EmgChain` output (channels env, pow,
    gate); given only an envelope channel, it uses the squared envelope over its rest
    baseline as the power.

    >>> import numpy as np
    >>> from isofeedback.dsp.emg_chain import EmgChain
    >>> from isofeedback.types import Chunk
    >>> rng = np.random.default_rng(0)
    >>> a = np.zeros(6000); a[3000:3050] = np.linspace(0, 1, 50); a[3050:5000] = 1.0
    >>> x = 0.1 * rng.standard_normal(6000) + a * rng.standard_normal(6000)
    >>> env = EmgChain(1000.0, 1).process(Chunk("emg", 1000.0, 0, 0.0, x[:, None], ("a",)))
    >>> det = OnsetReleaseDetector(fs=1000.0)
    >>> ev = det.process(env)
    >>> [(e.type.value, round(e.t, 2)) for e in ev if e.type != "calibrated"]
    [('onset', 2.98), ('release', 5.03)]
    """

    def __init__(
        self,
        fs: float,
        params: DetectorParams | None = None,
        *,
        delay_s: float = 0.0,
        chain_filters: Sequence[FloatArray] | None = None,
    ) -> None:
        # parameters are kept as given (``params``: resolved for the rate by
        # DetectorParams.at_rate, the one place the rate decides); state is built in _reset
        self.fs = number(fs, "fs", low=0.0, low_open=True, error=ConfigError)
        self.params = params if params is not None else DetectorParams(low_rate=None)
        if self.params.low_rate is not None:
            raise ConfigError("detector parameters must be resolved for the sample rate: "
                              "pass params.at_rate(fs)")
        self.delay_s = delay_s
        self.chain_filters = chain_filters
        self._reset()

    def _derive(self) -> None:
        """Flat working copies of the parameters (the hot path reads attributes)."""
        p = self.params
        self.calibration_s = p.rest.calibration_s
        self.adapt_s = p.rest.adapt_s
        self.block_s = p.rest.block_s
        self.on_ratio, self.on_h = p.onset.ratio, p.onset.h
        self.on_llr_max = p.onset.sample_max
        self.z_max = p.onset.z_max
        self.backdate_s = p.onset.backdate_s
        self.refractory_s = p.onset.refractory_s
        self.off_ratio, self.off_h = p.release.ratio, p.release.h
        self.off_hold_div = p.release.hold_div
        self.off_ratio_max = p.release.ratio_max
        self.min_active_s = p.release.min_active_s
        self.tail = p.release.tail
        self.release_blend = p.release.envelope_blend
        self.drop_ratio, self.drop_s = p.level_drop.ratio, p.level_drop.s
        self.fused_evidence = p.fused_evidence
        self.min_contraction_s = p.confirmation.min_contraction_s
        # the release is back-dated with the filters' decay in the model
        self.release_tail = (
            release_tail(self.fs, self.delay_s, self.tail, self.chain_filters)
            if self.tail > 0 else None
        )

    def _reset(self) -> None:
        self._derive()
        self._retraction = Retraction(self.min_contraction_s)
        self._n = 0  # samples seen
        self._t0: float | None = None
        self._cal_n = max(1, int(round(self.calibration_s * self.fs)))
        self._cal_env: list[FloatArray] = []
        self._cal_pow: list[FloatArray] = []
        self.baseline: float | None = None  # envelope at rest, input units
        self.noise: float | None = None  # envelope noise at rest (robust SD)
        self.pow_baseline = 1.0
        self.active = False
        self._s = 0.0  # CUSUM statistic of the current mode
        self._zero = 0  # absolute index where the CUSUM was last zero
        self._since = 0  # absolute index of the last onset / release decision
        self._last_release = -(10**12)
        keep = int(round((self.backdate_s + 1.0) * self.fs))
        self._keep = max(keep, 8)
        # recent power (rest units) and validity for back-dating: a buffer written
        # forward, shifted back only when full (no reallocation per chunk)
        self._hbuf = np.zeros(4 * self._keep)
        self._hvbuf = np.zeros(4 * self._keep, dtype=bool)
        self._hebuf = np.zeros(4 * self._keep)  # the envelope, for the release's crossing
        self._hpos = 0
        self._a_on = 0.5 * (1.0 - 1.0 / self.on_ratio)
        self._b_on = 0.5 * float(np.log(self.on_ratio))
        # one sample adds at most ``on_llr_max`` × the threshold to the onset statistic:
        # a contact spike's first, not yet gated sample cannot decide an onset alone
        self._z_on_max = (self.on_llr_max * self.on_h + self._b_on) / self._a_on
        # several fused channels: half that per sample — a blip common to all electrodes
        # (contact, a cable tug) is one event, not ``evidence`` independent ones; with the
        # full cap such a 2-sample blip decided onsets and split a simulated hold
        self._on_cap = 0.5 * self.on_llr_max * self.on_h
        self._set_off_ratio(self.off_ratio)
        # several fused channels: evidence per sample measured on the rest
        self._fusion = FusedEvidence(self.fs)
        self._act_z: list[FloatArray] = []  # active samples of the current block
        self._blk_z: list[FloatArray] = []  # rest samples of the current block (summed at
        self._blk_e: list[FloatArray] = []  # its end, so the sums do not depend on chunking)
        self._blk_quiet = True
        self._all_valid = False
        self._valid_true = np.ones(0, dtype=bool)  # "all valid", sliced for ungated chunks
        # sample counts, fixed by the parameters
        self._blk = max(1, int(round(self.block_s * self.fs)))
        self._refractory = int(round(self.refractory_s * self.fs))
        self._min_active = int(round(self.min_active_s * self.fs))
        self._settle = int(round(1.0 * self.fs))  # after a release, not yet rest
        self._drop_blocks = max(1, int(round(self.drop_s / self.block_s)))
        self._drop = LevelDropTracker(self.drop_ratio, self._drop_blocks)

    def _set_off_ratio(self, r: float) -> None:
        self._a_off = 0.5 * (1.0 - 1.0 / r)
        self._b_off = 0.5 * float(np.log(r))

    @property
    def calibrated(self) -> bool:
        return self.baseline is not None

    def level(self, envelope: float) -> float:
        """Envelope in multiples of rest noise above baseline (0 before calibration)."""
        if self.baseline is None or self.noise is None:
            return 0.0
        return (envelope - self.baseline) / self.noise

    def _power(
        self, chunk: Chunk
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray | None]:
        """Envelope, power, gate and channel count per sample (``None``: one channel)."""
        env = chunk.data[:, 0]
        if chunk.channels == _CHAIN_CHANNELS:  # the EMG chain's output: the fast path
            dof = chunk.data[:, 3]
            single = float(np.maximum.reduce(dof, axis=None)) <= 1.0
            return env, chunk.data[:, 1], chunk.data[:, 2], None if single else dof
        if "pow" in chunk.channels:
            pw = chunk.data[:, chunk.channels.index("pow")]
            gate = (
                chunk.data[:, chunk.channels.index("gate")] > 0
                if "gate" in chunk.channels
                else np.zeros(chunk.n, dtype=bool)
            )
            return env, pw, gate.astype(np.float64), None
        ref = self.baseline if self.baseline else 1.0
        return env, (env / ref) ** 2, np.zeros(chunk.n), None

    def process(self, chunk: Chunk) -> list[Event]:
        env, pw, gate, dof = self._power(chunk)
        # session time of absolute index 0, fixed once (recomputed from every chunk's
        # t_first its last bit would depend on the chunking); re-anchored only when the
        # stream's clock really jumps
        t0 = chunk.t_first - self._n / self.fs
        if self._t0 is None or abs(t0 - self._t0) > 0.25 / self.fs:
            self._t0 = t0
        t0 = self._t0
        events: list[Event] = []
        n = chunk.n
        i = 0
        if self.baseline is None:
            take = min(n, self._cal_n - self._n)
            self._cal_env.append(env[:take].copy())
            ok = gate[:take] == 0
            self._cal_pow.append(pw[:take][ok])
            i = take
            if self._n + take >= self._cal_n:
                rest = np.concatenate(self._cal_env)
                self.baseline = float(np.median(rest))
                mad = float(np.median(np.abs(rest - self.baseline))) * 1.4826
                self.noise = max(mad, 1e-12 * max(abs(self.baseline), 1.0))
                pws = np.concatenate(self._cal_pow)
                if "pow" not in chunk.channels:
                    pw = (env / max(self.baseline, 1e-12)) ** 2
                    self.pow_baseline = 1.0
                elif pws.size:
                    self.pow_baseline = max(float(np.mean(np.minimum(pws, 25.0))), 1e-12)
                self._cal_env, self._cal_pow = [], []
                t = t0 + (self._n + take - 1) / self.fs if take else chunk.t_first
                events.append(
                    Event(
                        EventType.CALIBRATED,
                        t,
                        t,
                        "emg",
                        self.baseline,
                        {
                            "noise": self.noise,
                            "baseline": self.baseline,
                            "pow_baseline": self.pow_baseline,
                        },
                    )
                )
                self._zero = self._n + take
        if self.baseline is None:
            self._n += n
            return events
        self._all_valid = not np.logical_or.reduce(gate)
        if self._all_valid:
            if self._valid_true.size < n:
                self._valid_true = np.ones(n, dtype=bool)
            valid = self._valid_true[:n]
        else:
            valid = gate == 0
        blk = self._blk
        while i < n:
            a = self._n + i
            take = min(n - i, blk - a % blk)
            if (dof is not None and self.fused_evidence
                    and float(dof[i]) != self._fusion.dof_cap):
                self._fusion.restart(float(dof[i]))
            # normalise here: the baseline may have moved at the previous block boundary
            z = np.minimum(pw[i : i + take] / self.pow_baseline, self.z_max)
            events += self._segment(z, valid[i : i + take], env[i : i + take], a, t0)
            i += take
        self._n += n
        return self._retraction.process(events) if self.min_contraction_s > 0 else events

    @property
    def _hz(self) -> FloatArray:
        return self._hbuf[max(0, self._hpos - self._keep) : self._hpos]

    @property
    def _hv(self) -> BoolArray:
        return self._hvbuf[max(0, self._hpos - self._keep) : self._hpos]

    @property
    def _he(self) -> FloatArray:
        return self._hebuf[max(0, self._hpos - self._keep) : self._hpos]

    def _history(self, z: FloatArray, valid: BoolArray, env: FloatArray) -> None:
        m, keep, pos = z.size, self._keep, self._hpos
        if m >= keep:
            self._hbuf[:keep] = z[-keep:]
            self._hvbuf[:keep] = valid[-keep:]
            self._hebuf[:keep] = env[-keep:]
            self._hpos = keep
            return
        if pos + m > self._hbuf.size:
            self._hbuf[:keep] = self._hbuf[pos - keep : pos]
            self._hvbuf[:keep] = self._hvbuf[pos - keep : pos]
            self._hebuf[:keep] = self._hebuf[pos - keep : pos]
            pos = keep
        self._hbuf[pos : pos + m] = z
        self._hvbuf[pos : pos + m] = True if self._all_valid else valid
        self._hebuf[pos : pos + m] = env
        self._hpos = pos + m

    def _segment(
        self, z: FloatArray, valid: BoolArray, env: FloatArray, a: int, t0: float
    ) -> list[Event]:
        """Process samples ``a .. a+len(z)`` (within one block), switching modes as needed."""
        events: list[Event] = []
        n = z.size
        j = 0
        while j < n:
            start = a + j
            if not self.active:
                lo = self._last_release + self._refractory
                if start < lo:  # refractory: nothing accumulates
                    skip = min(n - j, lo - start)
                    self._history(z[j : j + skip], valid[j : j + skip], env[j : j + skip])
                    self._zero = start + skip
                    j += skip
                    continue
                if self.evidence == 1.0:
                    llr = np.minimum(z[j:], self._z_on_max) * self._a_on - self._b_on
                else:  # several channels' evidence per sample; one still cannot decide
                    llr = np.minimum((z[j:] * self._a_on - self._b_on) * self.evidence,
                                     self._on_cap)
            else:
                llr = self._b_off - z[j:] * self._a_off
            if not self._all_valid:
                llr = np.where(valid[j:], llr, 0.0)
            s, zero = cusum(llr, self._s)
            h = self.off_h if self.active else self.on_h
            end = s.size
            hit = False
            if np.maximum.reduce(s) > h:
                over = s > h
                if self.active:
                    earliest = self._since + self._min_active - start
                    if earliest > 0:
                        over[:earliest] = False
                first = int(np.argmax(over))
                if over[first]:
                    hit = True
                    end = first + 1
            if zero[end - 1]:  # the usual case, at rest and during a steady hold
                self._zero = start + end - 1
            else:
                zi = np.flatnonzero(zero[:end])
                if zi.size:
                    self._zero = start + int(zi[-1])
            self._history(z[j : j + end], valid[j : j + end], env[j : j + end])
            if self.active or hit:
                self._blk_quiet = False
                if self.active and not hit:  # the hold's level, for the release test
                    v = valid[j : j + end]
                    self._act_z.append(z[j : j + end] if self._all_valid else z[j : j + end][v])
            else:
                self._adapt(z[j : j + end], env[j : j + end], valid[j : j + end], start)
            if not hit:
                self._s = float(s[-1])
                break
            k = start + end - 1  # decision sample (absolute)
            events.append(self._decide(k, t0, float(env[j + end - 1])))
            self._s = 0.0
            self._zero = k + 1
            j += end
        if (a + n) % self._blk == 0:
            dropped = self._end_block(a + n, t0)
            if dropped is not None:
                events.append(dropped)
        return events

    def _decide(self, k: int, t0: float, env_now: float) -> Event:
        """Switch mode at decision sample ``k`` and back-date the change."""
        look = int(round(self.backdate_s * self.fs))
        first = max(self._zero - look, k - self._hz.size + 1, self._since)
        pre = int(round(0.1 * self.fs))
        w0 = max(first - pre, k - self._hz.size + 1)
        seg = self._hz[w0 - k - 1 :] if w0 <= k else self._hz[-1:]
        val = self._hv[w0 - k - 1 :] if w0 <= k else self._hv[-1:]
        t_dec = t0 + k / self.fs
        if not self.active:
            # the same evidence per sample in the back-dating likelihood: without it the
            # posterior is as wide as one channel's and, decided early in the ramp, the
            # onset came 7 ms later (median, 8 channels, 20 dB)
            weight: FloatArray | BoolArray = (
                np.multiply(val, self.evidence) if self.evidence != 1.0 else val
            )
            cp = ramp_change_point(seg, weight, self.fs, first - w0)
            idx = w0 + cp
            t = min(max(t0 + idx / self.fs - self.delay_s, 0.0), t_dec)
            self.active = True
            self._since = k
            self._act_z = []
            self._drop.start()
            self._set_off_ratio(self.off_ratio)
            return Event(EventType.ONSET, t, t_dec, "emg", self.level(env_now))
        # release: the same model with time reversed; the change is the last active sample
        last = k - first
        cp = ramp_change_point(seg[::-1], val[::-1], self.fs, 0, tail=self.release_tail)
        idx = k - cp
        idx = min(idx, float(w0 + last + (k - w0)))
        t = t0 + idx / self.fs - self.delay_s
        if self.release_blend > 0:
            crossing = self._envelope_fall(k, t0)
            if crossing is not None:
                t += self.release_blend * (crossing - t)
        t = min(max(t, 0.0), t_dec)
        self.active = False
        self._since = k
        self._last_release = k
        return Event(EventType.RELEASE, t, t_dec, "emg")

    def _envelope_fall(self, k: int, t0: float) -> float | None:
        """When the envelope last fell below the release threshold before decision sample
        ``k`` (:func:`envelope_fall`)."""
        if self.baseline is None or self.noise is None:
            return None
        i = envelope_fall(self._he, self.baseline, self.noise)
        if i is None:
            return None
        return t0 + (k - (self._he.size - 1) + i) / self.fs

    def _adapt(self, z: FloatArray, env: FloatArray, valid: BoolArray, start: int) -> None:
        """Accumulate the block's rest statistics (used only if the whole block was rest:
        every rest block counts, whatever its level, so the estimate is not biased low)."""
        if self._all_valid:
            self._blk_z.append(z)
            self._blk_e.append(env)
        else:
            self._blk_z.append(z[valid])
            self._blk_e.append(env[valid])
        if start < self._last_release + self._settle:
            self._blk_quiet = False  # just after a release: residual activity is not rest

    def _end_block(self, end: int, t0: float) -> Event | None:
        """At a block boundary (absolute sample ``end``): let the rest baselines follow
        slow drift; while active, let the release test's alternative follow the hold's
        level, and decide a release by level drop (returned) when the muscle let go to a
        level above the calibrated rest."""
        blk = self._blk
        act = np.concatenate(self._act_z) if self._act_z else np.zeros(0)
        dropped: Event | None = None
        if self.active and act.size >= blk // 2:
            # the release tests "rest" against a fraction of the hold's power: the
            # stronger the hold, the more each rest sample weighs against it, so the
            # decision comes sooner (a fixed 3× alternative gathers ~0.2 nat per sample,
            # 5× slower in time at 200 Hz than at 1 kHz); never below ``off_ratio``
            hold = float(act.mean())
            r = min(max(hold / self.off_hold_div, self.off_ratio), self.off_ratio_max)
            self._set_off_ratio(r)
            dropped = self._level_drop(hold, end, t0)
        self._act_z = []
        zs = np.concatenate(self._blk_z) if self._blk_z else np.zeros(0)
        if (
            not self.active
            and self._blk_quiet
            and zs.size >= blk // 2
            and self.baseline is not None
        ):
            es = np.concatenate(self._blk_e)
            alpha = min(1.0, self.block_s / max(self.adapt_s, 1e-9))
            self.pow_baseline *= (1 - alpha) + alpha * float(np.minimum(zs, 25.0).mean())
            self.baseline += alpha * (float(es.mean()) - self.baseline)
            self._fusion.update(zs, alpha)
        self._blk_z, self._blk_e = [], []
        self._blk_quiet = True
        return dropped

    @property
    def evidence(self) -> float:
        """How many channels' worth one fused sample is (:class:`FusedEvidence`)."""
        return self._fusion.evidence

    def _level_drop(self, level: float, end: int, t0: float) -> Event | None:
        """The release when the power fell far below the hold but not to the calibrated
        rest (:mod:`.level_drop`); the rest baseline moves to the new level."""
        dropped = self._drop.block(level)
        if dropped is None:
            return None
        low_blocks, rest_rise = dropped
        first_low = end - low_blocks * self._blk
        t = max(t0 + first_low / self.fs - self.delay_s, 0.0)
        t_dec = t0 + (end - 1) / self.fs
        self.pow_baseline *= rest_rise
        self.active = False
        self._since = end - 1
        self._last_release = end - 1
        self._s = 0.0
        self._zero = end
        return Event(EventType.RELEASE, t, t_dec, "emg", None,
                     {"by": "level_drop", "rest_rise": rest_rise})
