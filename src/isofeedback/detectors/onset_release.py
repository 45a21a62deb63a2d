"""Contraction onset and release: the detector that joins its parts. Causal, chunked.

The detector works on the chain's ``pow`` channel: the filtered EMG squared, in rest-noise
units, with no smoothing delay. Each concept is its own part, with its reasons in its
docstring; parameters (:mod:`.params`, names below as ``group.field``) are kept as given
and every part's state is built in a reset:

- *rest model* (:mod:`.rest_model`): calibration on the first ``rest.calibration_s``,
  then the baselines follow drift in quiet blocks;
- *evidence* (:mod:`.evidence`, :mod:`.fusion`): each sample's log-likelihood ratio for
  the onset test ("variance ``onset.ratio`` × rest", capped per sample) and the release
  test (rest against a fraction of the hold), counted as the channels' worth of one
  fused sample measured on the rest;
- *change test* (:mod:`.change_test`): Page's CUSUM, decided above ``onset.h`` /
  ``release.h``; gated samples (spikes, saturation) add nothing;
- *onset back-dating* (:mod:`.onset_timing`) and *release back-dating*
  (:mod:`.release_timing`): maximum likelihood of a rest → ramp → plateau model in a
  bounded window of recent samples (:mod:`.history`), minus the chain's delay
  (``delay_s``); the release with each fall's own ringing through the filters (version
  19; before, a scaled step's decay added to every fall) and, at wearable rates, moved
  ``release.envelope_blend`` of the way to the envelope's fall;
- *level-drop release* (:mod:`.level_drop`): a rest that does not return to the
  calibrated level;
- *retraction* (:mod:`.retraction`): activations too short for a contraction;
- *refinement*: ``onset.refine_s`` after an onset's decision, if the activation goes on,
  the onset back-dated again over everything seen since (``onset_refined``): decided
  early in the rise, the first estimate cannot see how fast the rest of it rose.

*Never split a hold.* A release needs ``release.min_active_s`` of activity first; an onset
needs ``onset.refractory_s`` after a release. The CUSUMs themselves give hysteresis: a short
dip during a hold only lowers the release statistic's drift, it does not reset the state.
Decisions about the baseline and the hold are taken only at fixed sample indices (every
``rest.block_s``), so results do not depend on chunk boundaries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from isofeedback.checks import number
from isofeedback.detectors.change_test import PageTest
from isofeedback.detectors.changepoint import BoolArray, FallShapes
from isofeedback.detectors.evidence import OnsetEvidence, ReleaseEvidence
from isofeedback.detectors.fusion import FusedEvidence
from isofeedback.detectors.history import RecentSamples
from isofeedback.detectors.level_drop import LevelDropTracker
from isofeedback.detectors.onset_timing import first_candidate, onset_index
from isofeedback.detectors.params import DetectorParams, SampleCounts
from isofeedback.detectors.release_timing import (
    envelope_fall_time,
    fall_shapes,
    release_index,
    release_tail,
)
from isofeedback.detectors.rest_model import POWER_CAP, RestTracker, local_rest
from isofeedback.detectors.rest_rise import RestRiseWatch
from isofeedback.detectors.retraction import Retraction
from isofeedback.dsp.emg_chain import CHANNELS as _CHAIN_CHANNELS
from isofeedback.dsp.exact import FEW_ROWS, mean
from isofeedback.errors import ConfigError
from isofeedback.types import Chunk, Event, EventType, FloatArray

__all__ = ["OnsetReleaseDetector", "release_tail"]

#: the envelope's rest this many times the calibration's power: a noisy sensor, said
NOISY_RISE = 2.0
#: ... and back under this many times: said to have ended
NOISY_BACK = 1.4


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
    [('onset', 2.98), ('release', 5.0)]
    """

    def __init__(
        self,
        fs: float,
        params: DetectorParams | None = None,
        *,
        delay_s: float = 0.0,
        chain_filters: Sequence[FloatArray] | Callable[[], Sequence[FloatArray]] | None = None,
        calibration_rows: Callable[[], FloatArray | None] | None = None,
        sensor_rise: Callable[[int, int], float | None] | None = None,
    ) -> None:
        # parameters are kept as given (``params``: resolved for the rate by
        # DetectorParams.at_rate, the one place the rate decides); state is built in _reset
        self.fs = number(fs, "fs", low=0.0, low_open=True, error=ConfigError)
        self.params = params if params is not None else DetectorParams(low_rate=None)
        if self.params.low_rate is not None:
            raise ConfigError("detector parameters must be resolved for the sample rate: "
                              "pass params.at_rate(fs)")
        self.delay_s = delay_s
        #: the chain's SOS cascade (band-pass, notches), or a function giving it as it is
        #: now: a chain may choose its notch or band edge at the calibration's end
        self.chain_filters = chain_filters
        #: the chain's own output over the whole calibration when it changed its filters
        #: there (a mains notch chosen at the calibration's end), else None: what the
        #: rest is calibrated on (the rows taken before came through the other filters)
        self.calibration_rows = calibration_rows
        #: how much of the rest over samples ``a`` to ``b`` (the stream's count) rose on
        #: every electrode alike, the sensor's noise, in rest units
        #: (:func:`~.sensor_rise.sensor_share`; None: the channels cannot tell), for
        #: ``spatial_rest``
        self.sensor_rise = sensor_rise
        self._reset()

    def _reset(self) -> None:
        p = self.params
        #: every duration of the parameters in samples at this rate
        self.samples: SampleCounts = p.samples(self.fs)
        # the release is back-dated with the filters' decay in the model
        self.release_tail: FloatArray | FallShapes | None = None
        if p.release.decay == "convolved":
            self.release_tail = fall_shapes(self.fs, self.delay_s, self._filters())
        elif p.release.tail > 0:
            self.release_tail = release_tail(self.fs, self.delay_s, p.release.tail,
                                             self._filters())
        self.rest = RestTracker(p.rest, self.samples)
        self._onset = OnsetEvidence(p.onset)
        self._release = ReleaseEvidence(p.release, self.samples.weight)
        self._fusion = FusedEvidence(self.fs)
        self._test = PageTest()
        self._history = RecentSamples(self.samples.keep)
        # the release's fit may need a strong hold's power above the change tests' clip
        self._keep_unclipped = p.release.fit_cap > 0
        self._drop = LevelDropTracker(p.level_drop.ratio, self.samples.drop_blocks)
        self._retraction = Retraction(p.confirmation.min_contraction_s)
        self._rise = (RestRiseWatch(self.samples.train, p.rest.train_count,
                                    self.samples.block, p.rest.train_quantile,
                                    p.rest.train_duty)
                      if self.samples.train > 0 else None)
        # a rise the train showed and the sensor's part of it, applied at the next block end
        self._rise_by = self._rise_noise = 1.0
        self._rise_told = False  # the electrodes told the sensor's part of it
        self._noisy = False  # the rest's noise far above the calibration's (said)
        # where the rest told again after a rise begins (see _sensor_again)
        self._sensor_from: int | None = None
        self._onset_t = 0.0  # the current activation's back-dated onset
        self._n = 0  # samples seen
        self._t0: float | None = None
        self.active = False
        self._since = 0  # absolute index of the last onset / release decision
        self._last_release = -(10**12)
        # the onset to back-date again: (sample, its first candidate, its time, decided)
        self._refine: tuple[int, int, float, float] | None = None
        # active samples of the current block (arrays, or a live packet's floats)
        self._act_z: list[FloatArray | list[float]] = []
        self._all_valid = False
        self._valid_true = np.ones(0, dtype=bool)  # "all valid", sliced for ungated chunks

    def _filters(self) -> Sequence[FloatArray] | None:
        f = self.chain_filters
        return f() if callable(f) else f

    # the rest model's view, as the pipeline and the coach read it
    @property
    def calibrated(self) -> bool:
        return self.rest.calibrated

    @property
    def baseline(self) -> float | None:
        """Envelope at rest, input units (None before calibration)."""
        return self.rest.baseline

    @property
    def noise(self) -> float | None:
        return self.rest.noise

    @property
    def pow_baseline(self) -> float:
        return self.rest.pow_baseline

    @property
    def block_s(self) -> float:
        """The rest model's block: the baseline moves only at multiples of it."""
        return self.params.rest.block_s

    @property
    def release_blend(self) -> float:
        return self.params.release.envelope_blend

    @property
    def evidence(self) -> float:
        """How many independent samples' worth one fused sample is: the channels' worth
        (:class:`FusedEvidence`) times what one sample counts at this rate
        (``samples.weight``: less than 1 above ``params.evidence_hz``)."""
        w = self.samples.weight
        return self._fusion.evidence if w == 1.0 else self._fusion.evidence * w

    def level(self, envelope: float) -> float:
        """Envelope in multiples of rest noise above baseline (0 before calibration)."""
        return self.rest.level(envelope)

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
        ref = self.rest.baseline if self.rest.baseline else 1.0
        return env, (env / ref) ** 2, np.zeros(chunk.n), None

    def process(self, chunk: Chunk) -> list[Event]:
        if (chunk.n <= FEW_ROWS and self.rest.baseline is not None
                and chunk.channels == _CHAIN_CHANNELS):
            done = self._process_few(chunk)
            if done is not None:
                return done
        env, pw, gate, dof = self._power(chunk)
        t0 = self._anchor(chunk)
        events: list[Event] = []
        n = chunk.n
        i = 0
        rest = self.rest
        if rest.baseline is None:
            has_power = "pow" in chunk.channels
            again = (self.calibration_rows() if self.calibration_rows is not None
                     and self._n + n >= rest.calibration_n else None)
            if again is not None:
                # the calibration as the chain now filters it, every row of it; the
                # release model rings as the chain's filters now do (from version 19)
                rest.restart_calibration()
                if self.params.release.decay == "convolved":
                    self.release_tail = fall_shapes(self.fs, self.delay_s, self._filters())
                e, p, g, _ = self._power(Chunk.trusted(chunk.stream, chunk.fs, 0, 0.0, again,
                                                       chunk.channels))
                i = rest.calibrate(e, p, g, 0, has_power) - self._n
            else:
                i = rest.calibrate(env, pw, gate, self._n, has_power)
            if rest.baseline is not None:
                if not has_power:
                    pw = (env / max(rest.baseline, 1e-12)) ** 2
                t = t0 + (self._n + i - 1) / self.fs if i else chunk.t_first
                events.append(Event(EventType.CALIBRATED, t, t, "emg", rest.baseline,
                                    {"noise": rest.noise, "baseline": rest.baseline,
                                     "pow_baseline": rest.pow_baseline}))
                self._test.restart(self._n + i)
            else:
                self._n += n
                return events
        self._all_valid = not np.logical_or.reduce(gate)
        if self._all_valid:
            if self._valid_true.size < n:
                self._valid_true = np.ones(n, dtype=bool)
            valid = self._valid_true[:n]
        else:
            valid = gate == 0
        blk = rest.block_n
        fused = self.params.fused_evidence
        while i < n:
            a = self._n + i
            take = min(n - i, blk - a % blk)
            if dof is not None and fused and float(dof[i]) != self._fusion.dof_cap:
                self._fusion.restart(float(dof[i]))
            # normalise here: the baseline may have moved at the previous block boundary
            q = pw[i : i + take] / rest.pow_baseline
            z = np.minimum(q, self.params.onset.z_max)
            events += self._segment(z, valid[i : i + take], env[i : i + take], a, t0,
                                    q if self._keep_unclipped else None)
            i += take
        return self._done(n, events)

    def _anchor(self, chunk: Chunk) -> float:
        """The session time of absolute index 0, fixed once (recomputed from every chunk's
        ``t_first`` its last bit would depend on the chunking); re-anchored only when the
        stream's clock really jumps."""
        t0 = chunk.t_first - self._n / self.fs
        if self._t0 is None or abs(t0 - self._t0) > 0.25 / self.fs:
            self._t0 = t0
            return t0
        return self._t0

    def _done(self, n: int, events: list[Event]) -> list[Event]:
        """A chunk of ``n`` samples was taken: its events, after the retraction."""
        self._n += n
        if self.params.confirmation.min_contraction_s > 0:
            return self._retraction.process(events)
        return events

    def _process_few(self, chunk: Chunk) -> list[Event] | None:
        """:meth:`process` of a live packet's few rows of the EMG chain's output (after
        the rest calibration) in Python floats, when nothing happens in it but the
        running sums: no decision, no gated sample, no NaN or infinite power, not in the
        refractory time, no restart of the fused evidence, within one block (whose end is
        then taken by :meth:`_end_block`, as on the array path). Otherwise None, with
        nothing changed: :meth:`process` takes the chunk on the array path.

        Why: a Myo packet is 2 samples, ~100 a second per wearable, and the array path's
        ~25 numpy calls (~1 µs each on arrays of 2) were most of this detector's cost in a
        live session. The arithmetic is the array path's, operation for operation (the
        evidence: :meth:`.OnsetEvidence.llr_few`; the CUSUM: :meth:`.PageTest.scan_few`),
        so the outputs are the same to the bit (``tests/detectors/test_onset_few_rows.py``).
        """
        n, a = chunk.n, self._n
        counts, rest = self.samples, self.rest
        if n == 0 or n >= counts.keep or a % rest.block_n + n > rest.block_n:
            return None
        if not self.active and a < self._last_release + counts.refractory:
            return None
        if self._refine is not None and self._refine[0] < a + n:
            return None  # the onset is back-dated again in this packet: the array path
        rows = chunk.data.tolist()
        pb, z_max = rest.pow_baseline, self.params.onset.z_max
        z: list[float] = []
        single = True  # every channel count at most 1 (a NaN is not)
        for row in rows:
            if row[2] != 0.0:  # gated (or a NaN gate)
                return None
            q = row[1] / pb
            if q - q != 0.0:  # NaN or infinite
                return None
            z.append(q if q < z_max else z_max)
            single = single and row[3] <= 1.0
        # the fused channel count, as process() reads it: restarted when it changed
        if not single and self.params.fused_evidence and rows[0][3] != self._fusion.dof_cap:
            return None
        if self.active:
            llr = self._release.llr_few(z)
            h = self.params.release.h
            earliest = self._since + counts.min_active - a
        else:
            llr = self._onset.llr_few(z, float(self.evidence))  # numpy's scalar: slower
            h = self.params.onset.h
            earliest = 0
        if not self._test.scan_few(llr, a, h, earliest):
            return None  # a decision: back-dated on the array path
        t0 = self._anchor(chunk)
        env = [row[0] for row in rows]
        # the unclipped power for the release's fit, only when kept (the same divisions)
        qs = [row[1] / pb for row in rows] if self._keep_unclipped else None
        self._history.push_few(z, env, qs)
        self._taken(z, env, None, a, False)
        events: list[Event] = []
        if (a + n) % rest.block_n == 0:
            events += self._end_block(a + n, t0)
        return self._done(n, events)

    def _segment(
        self, z: FloatArray, valid: BoolArray, env: FloatArray, a: int, t0: float,
        q: FloatArray | None = None,
    ) -> list[Event]:
        """Process samples ``a .. a+len(z)`` (within one block), switching modes as needed
        (``q``: their power before the clip, kept for the release's fit)."""
        events: list[Event] = []
        n = z.size
        j = 0
        test, hist, counts = self._test, self._history, self.samples
        while j < n:
            start = a + j
            # stop at the sample where the onset is back-dated again (chunk-independent)
            pending = self._refine if self._refine and self._refine[0] < a + n else None
            stop = max(pending[0] - a + 1, j + 1) if pending is not None else n
            if not self.active:
                lo = self._last_release + counts.refractory
                if start < lo:  # refractory: nothing accumulates
                    skip = min(n - j, lo - start)
                    hist.push(z[j : j + skip], valid[j : j + skip], env[j : j + skip],
                              self._all_valid, None if q is None else q[j : j + skip])
                    test.zero = start + skip
                    j += skip
                    continue
                llr = self._onset.llr(z[j:stop], self.evidence)
                h = self.params.onset.h
                earliest = 0
            else:
                llr = self._release.llr(z[j:stop])
                h = self.params.release.h
                earliest = self._since + counts.min_active - start
            if not self._all_valid:
                llr = np.where(valid[j:stop], llr, 0.0)
            end, hit = test.scan(llr, start, h, earliest)
            hist.push(z[j : j + end], valid[j : j + end], env[j : j + end], self._all_valid,
                      None if q is None else q[j : j + end])
            self._taken(z[j : j + end], env[j : j + end],
                        None if self._all_valid else valid[j : j + end], start, hit)
            j += end
            if hit:
                k = start + end - 1  # decision sample (absolute)
                events.append(self._decide(k, t0, float(env[j - 1])))
                test.restart(k + 1)
            elif pending is not None and j == stop:
                better = self._refined(pending, t0)
                if better is not None:
                    events.append(better)
            else:
                break
        if (a + n) % self.rest.block_n == 0:
            events += self._end_block(a + n, t0)
        return events

    def _taken(self, z: FloatArray | list[float], env: FloatArray | list[float],
               valid: BoolArray | None, start: int, hit: bool) -> None:
        """Samples from absolute index ``start`` went through the change test (``hit``:
        the last one decided; ``valid`` None: none gated): while active they are the
        hold's level, for the release test; at rest, the rest model's samples."""
        if self.active or hit:
            self.rest.disturb()
            if self.active and not hit:  # the hold's level, for the release test
                self._act_z.append(z if valid is None else np.asarray(z)[valid])
        else:
            self.rest.add(z, env, valid)
            if start < self._last_release + self.samples.settle:
                self.rest.disturb()  # just after a release: residual activity is not rest

    def _decide(self, k: int, t0: float, env_now: float) -> Event:
        """Switch mode at decision sample ``k`` and back-date the change."""
        counts = self.samples
        first = first_candidate(self._history, k, self._test.zero, counts.backdate,
                                self._since)
        t_dec = t0 + k / self.fs
        if not self.active:
            fit = self.params.onset.rest_fit
            idx = onset_index(self._history, k, first,
                              counts.onset_anchor if fit else counts.rest_anchor, self.fs,
                              self.evidence, fit)
            t = min(max(t0 + idx / self.fs - self.delay_s, 0.0), t_dec)
            self.active = True
            self._onset_t = t
            # a rise not yet applied (only with a refractory time shorter than a block)
            # is dropped: applied during this activation it would rescale the rest its
            # release is judged against
            self._rise_by = 1.0
            self._since = k
            self._act_z = []
            self._drop.start()
            self.rest.onset()
            self._release.start(self._local_rest(k, first) if self.params.release.local_rest
                                else 1.0)
            if counts.refine > 0:
                self._refine = (k + counts.refine, first, t, t_dec)
            return Event(EventType.ONSET, t, t_dec, "emg", self.level(env_now))
        self._refine = None
        idx = release_index(self._history, k, first, counts.rest_anchor, self.fs,
                            self.release_tail, self._release.rest, self.params.release.estimate,
                            self._fit_clip())
        t = t0 + idx / self.fs - self.delay_s
        blend = self.params.release.envelope_blend
        if blend > 0:
            crossing = self.envelope_fall(k, t0)
            if crossing is not None:
                t += blend * (crossing - t)
        t = min(max(t, 0.0), t_dec)
        self.active = False
        self._since = k
        self._last_release = k
        if self._rise is not None:
            self._released(k, t, t0)
        return Event(EventType.RELEASE, t, t_dec, "emg")

    def _fit_clip(self) -> float | None:
        """Where the release's fit clips the power: ``release.fit_cap`` × the activation's
        strongest block when that is above the change tests' clip (a hold far above the
        rest sat at the clip, its ringing after the release then looked like activity:
        releases 30 dB above the rest came 11–17 ms late), else None (the clipped power
        as the tests saw it). The strongest block is measured on clipped power too, so a
        clipped hold gives a clip several times its own level: loose enough for the
        plateau's spread, not for an artifact far above the hold."""
        cap = self.params.release.fit_cap
        if cap <= 0:
            return None
        clip = cap * self._drop.peak
        return clip if clip > self.params.onset.z_max else None

    def _released(self, k: int, t: float | None, t0: float) -> None:
        """An activation was released at sample ``k``, back-dated to time ``t`` (None: a
        level-drop release, never brief): a contraction starts the train's window
        afresh; a brief one may show that the rest rose (:mod:`.rest_rise`), followed at
        the next block end (the power of the block under way is already measured
        against the present rest)."""
        assert self._rise is not None
        if t is None or not self._retraction.brief(self._onset_t, t):
            self._rise.contraction(k + self.samples.settle)
            if t is not None and self.params.spatial_rest and self.params.spatial_release:
                # (a level drop, t None, told its own) the rest after any release may be
                # raised by the sensor's noise, too little for a level drop (version 23)
                until = self._follow_from(k + self.samples.settle, True)
                assert until is not None
                self.rest.watch(until)
            return
        spread = self.sensor_rise if self.params.spatial_rest else None
        rise = self._rise.brief(round((self._onset_t - t0) * self.fs),
                                round((t - t0) * self.fs), self.rest.pow_baseline, spread)
        if rise is not None:
            self._rise_by, self._rise_noise, self._rise_told = rise

    def _refined(self, pending: tuple[int, int, float, float], t0: float) -> Event | None:
        """The onset back-dated again at sample ``k`` (the newest kept), over the same
        candidates as at its decision and everything seen since; None when the kept
        history no longer holds the rest before them (an onset just after the rest
        calibration: its rest level would come from a few samples, and the estimate
        moved tens of milliseconds early on the development records)."""
        self._refine = None
        k, first, t_onset, t_decided = pending
        fit = self.params.onset.rest_fit
        pre = self.samples.onset_anchor if fit else self.samples.rest_anchor
        if first - pre < k - self._history.z.size + 1:
            return None
        idx = onset_index(self._history, k, first, pre, self.fs, self.evidence, fit)
        t = min(max(t0 + idx / self.fs - self.delay_s, 0.0), t_decided)
        return Event(EventType.ONSET_REFINED, t, t0 + k / self.fs, "emg", None,
                     {"onset_t": t_onset, "onset_decided": t_decided})

    def _local_rest(self, k: int, first: int) -> float:
        """The rest level before an onset decided at ``k`` (:func:`.rest_model.local_rest`
        of the kept samples up to the rest anchor before ``first``, the earliest sample
        the onset could be at)."""
        z, valid = self._history.z, self._history.valid
        n = z.size - (k + 1 - first) - self.samples.rest_anchor
        return local_rest(z[: max(n, 0)], valid[: max(n, 0)], self.samples.block)

    def envelope_fall(self, k: int, t0: float) -> float | None:
        """When the envelope last fell below the release threshold before decision sample
        ``k`` (:func:`~isofeedback.detectors.release_timing.envelope_fall`)."""
        rest = self.rest
        if rest.baseline is None or rest.noise is None:
            return None
        return envelope_fall_time(self._history, k, t0, self.fs, rest.baseline, rest.noise)

    def _end_block(self, end: int, t0: float) -> list[Event]:
        """At a block boundary (absolute sample ``end``): while active, let the release
        test's alternative follow the hold's level, and decide a release by level drop
        (returned) when the muscle let go to a level above the calibrated rest; let the
        rest model follow a block that was rest throughout; say when the rest's noise
        rose far above the calibration's, or came back (:meth:`_noisy_rest`)."""
        # the block's power in input units, with the rest it was measured against (before
        # a level drop or the rest model move it)
        power = self._block_power() if self._rise is not None else None
        act = np.concatenate(self._act_z) if self._act_z else np.zeros(0)
        dropped: Event | None = None
        if self.active and act.size >= self.rest.block_n // 2:
            hold = float(mean(act))
            self._release.follow(hold)
            dropped = self._level_drop(hold, end, t0)
        self._act_z = []
        for followed in self.rest.end_block(self.active, end):
            self._fusion.update(followed, self.rest.alpha)
        if self._rise is not None:
            self._rise.block(end, power)
            if self._rise_by != 1.0:
                self.rest.rise(self._rise_by, envelope_by=self._rise_noise,
                               follow_until=self._follow_from(
                                   end, self._rise_told and self._rise_noise > 1.0),
                               from_calibration=self.params.spatial_release)
                self._rise_by = self._rise_noise = 1.0
        if self._sensor_from is not None and self.rest.following(end) and not self.active:
            self._sensor_again(end)
        events = [dropped] if dropped is not None else []
        if self.params.spatial_rest:
            noisy = self._noisy_rest(end, t0)
            if noisy is not None:
                events.append(noisy)
        return events

    def _noisy_rest(self, end: int, t0: float) -> Event | None:
        """A ``signal_quality`` event (``issue`` ``noisy``) when the envelope's rest
        baseline — what the coach judges relaxation against — has risen to
        :data:`NOISY_RISE` × the calibration's power (the sensor's noise: sweat, a strap
        that moved; the electrodes told it, :mod:`.sensor_rise`), and when it came back
        under :data:`NOISY_BACK` ×: the patient's page says "noisy signal" and the
        clinician's report names it, instead of the coach's judgements only growing
        less sure."""
        rest = self.rest
        if rest.baseline is None or not rest.calibrated_baseline:
            return None
        rise = (rest.baseline / rest.calibrated_baseline) ** 2
        if self._noisy == (rise >= (NOISY_BACK if self._noisy else NOISY_RISE)):
            return None
        self._noisy = not self._noisy
        t = t0 + (end - 1) / self.fs
        return Event(EventType.SIGNAL_QUALITY, t, t, "emg", round(rise, 2),
                     {"issue": "noisy", "state": "start" if self._noisy else "end",
                      "channel": None, "rise": round(rise, 2)})

    def _follow_from(self, start: int, told: bool) -> int | None:
        """A rise of which the electrodes told a part to be the sensor's: they tell it
        again over the rest from sample ``start`` (a level drop's: after the release
        settled) until ``samples.follow`` after it, the sample returned (None: none told;
        the baseline then follows the rest as before)."""
        if not told:
            self._sensor_from = None
            return None
        self._sensor_from = start
        return start + self.samples.follow

    def _sensor_again(self, end: int) -> None:
        """The sensor's part of the rise told again over the rest since it, its last
        half of ``samples.follow`` (2 s) at most: longer, so firmer than at the rise (a
        span fixed by the samples alone: the same whatever the chunks)."""
        start = self._sensor_from
        assert start is not None and self.sensor_rise is not None
        if end - start < self.rest.block_n:
            return
        share = self.sensor_rise(max(start, end - self.samples.follow // 2), end)
        if share is not None:
            self.rest.sensor_level(share)

    def _block_power(self) -> float | None:
        """The mean power of the block just ended, in input units (each sample capped as
        the rest model caps it), whatever the detector's state; None when fewer than half
        its samples are valid. Read before the block's end moves the rest: its samples
        were measured against the rest as it was."""
        n = self.rest.block_n
        z, valid = self._history.z[-n:], self._history.valid[-n:]
        kept = z[valid]
        if kept.size < max(1, n // 2):
            return None
        return float(mean(np.minimum(kept, POWER_CAP))) * self.rest.pow_baseline

    def _level_drop(self, level: float, end: int, t0: float) -> Event | None:
        """The release when the power fell far below the hold but not to the calibrated
        rest (:mod:`.level_drop`); the rest baseline moves to the new level."""
        dropped = self._drop.block(level)
        if dropped is None:
            return None
        low_blocks, rest_rise = dropped
        first_low = end - low_blocks * self.rest.block_n
        t = max(t0 + first_low / self.fs - self.delay_s, 0.0)
        t_dec = t0 + (end - 1) / self.fs
        # the part of the new level that is the sensor's noise, not tension that did not
        # let go, moves the coach's baseline too (at most the whole rise), told again over
        # the rest that follows for a few seconds
        share = (self.sensor_rise(first_low, end)
                 if self.params.spatial_rest and self.sensor_rise is not None else None)
        sensor = min(1.0 + share, rest_rise) if share is not None else 1.0
        self.rest.rise(rest_rise, envelope_by=sensor, follow_until=self._follow_from(
            end + self.samples.settle, sensor > 1.0),
            from_calibration=self.params.spatial_release)
        self.active = False
        self._refine = None
        self._since = end - 1
        self._last_release = end - 1
        if self._rise is not None:
            self._released(end - 1, None, t0)
        self._test.restart(end)
        return Event(EventType.RELEASE, t, t_dec, "emg", None,
                     {"by": "level_drop", "rest_rise": rest_rise}
                     | ({"sensor_rise": sensor} if sensor > 1.0 else {}))
