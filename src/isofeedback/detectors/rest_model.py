"""The rest model: what rest looks like, calibrated at the start, then following drift.

The first ``calibration_s`` of the session are rest: the envelope's median and robust
spread give the baseline and noise of :meth:`RestTracker.level`, and the mean power (each
sample capped at 25 rest units, so a spike does not set the rest) the power baseline every
later sample is divided by. Afterwards the baselines follow changes in blocks of
``block_s`` that were rest throughout (no activity, not within ``settle_s`` of a
release) and, with ``confirm_s``, were not followed within that time by an onset (the
rise of a weak contraction, decided slowly, is not rest): the envelope's with time
constant ``adapt_s``, the rest power with ``level_s`` (a rest whose level moves within
seconds needs a few seconds, not 30). Every such block counts, whatever its level, so
the estimate is not biased low (excluding blocks where the onset test gathered evidence
biased it 13 % low on NeuroKit2's records and decided onsets early). Decisions are taken only
at fixed sample indices (block ends), so results do not depend on chunk boundaries.
Where the baseline still lags, :func:`local_rest` gives the release the level the onset
left.
"""

from __future__ import annotations

import numpy as np

from isofeedback.detectors.changepoint import BoolArray
from isofeedback.detectors.params import RestModel, SampleCounts
from isofeedback.dsp.exact import mean
from isofeedback.dsp.rows import Rows
from isofeedback.types import FloatArray

__all__ = ["RestTracker", "local_rest"]

#: a rest sample counts at most this many rest units in the power baseline
POWER_CAP = 25.0


class RestTracker:
    """Rest baselines of the envelope (``baseline``, ``noise``) and power (``pow_baseline``).

    >>> model = RestModel(calibration_s=1.0)
    >>> r = RestTracker(model, SampleCounts.at(10.0, model))
    >>> r.calibrate(np.ones(10), np.full(10, 2.0), np.zeros(10), 0)
    10
    >>> r.baseline, r.pow_baseline
    (1.0, 2.0)
    """

    def __init__(self, model: RestModel, counts: SampleCounts) -> None:
        self.model = model
        self.calibration_n = counts.calibration
        self.block_n = counts.block
        self.confirm_n = counts.confirm
        #: weight of one rest block in the running baselines
        self.alpha = min(1.0, model.block_s / max(model.adapt_s, 1e-9))
        #: weight of one rest block in the rest power
        self.level_alpha = min(1.0, model.block_s / max(model.level_s, 1e-9))
        self._reset()

    def _reset(self) -> None:
        # the calibration's samples, gathered as they come (its end only reads them)
        self._cal_env = Rows(self.calibration_n)
        self._cal_pow = Rows(self.calibration_n)
        self.baseline: float | None = None  # envelope at rest, input units
        self.calibrated_baseline: float | None = None  # ... as the calibration measured it
        self.noise: float | None = None  # envelope noise at rest (robust SD)
        self.pow_baseline = 1.0
        # rest samples of the current block (summed at its end, so the sums do not depend
        # on chunking)
        self._blk_z: list[FloatArray | list[float]] = []
        self._blk_e: list[FloatArray | list[float]] = []
        self._quiet = True
        # rest blocks waiting for ``confirm_s`` without an onset: (end, power in input
        # units, envelope mean, powers in rest units)
        self._pending: list[tuple[int, float, float, FloatArray]] = []
        # after a rise the electrodes showed partly the sensor's, until a sample the
        # envelope's baseline is set from a level by what they show (:meth:`sensor_level`)
        # instead of following the blocks: (until, the level: before the rise, or the
        # calibration's; whether they told it yet — the blocks are followed until then)
        self._follow: tuple[int, float, bool] | None = None

    @property
    def calibrated(self) -> bool:
        return self.baseline is not None

    def restart_calibration(self) -> None:
        """Forget the calibration samples taken (they are given again, filtered anew)."""
        if self.baseline is None:
            self._cal_env = Rows(self.calibration_n)
            self._cal_pow = Rows(self.calibration_n)

    def calibrate(self, env: FloatArray, pw: FloatArray, gate: FloatArray, seen: int,
                  has_power: bool = True) -> int:
        """Take calibration samples (``seen`` already taken); returns how many of these
        were taken. Gated samples do not count towards the power baseline; without a
        power channel (``has_power`` false) the power is the squared envelope over its
        baseline, 1 at rest by construction."""
        take = min(env.size, self.calibration_n - seen)
        self._cal_env.add(env[:take])
        self._cal_pow.add(pw[:take][gate[:take] == 0])
        if seen + take >= self.calibration_n:
            rest = self._cal_env.filled()
            baseline = float(np.median(rest))
            mad = float(np.median(np.abs(rest - baseline))) * 1.4826
            self.noise = max(mad, 1e-12 * max(abs(baseline), 1.0))
            self.baseline = self.calibrated_baseline = baseline
            pws = self._cal_pow.filled()
            if has_power and pws.size:
                self.pow_baseline = max(float(np.mean(np.minimum(pws, POWER_CAP))), 1e-12)

            self._cal_env = self._cal_pow = Rows(0)
        return take

    def level(self, envelope: float) -> float:
        """Envelope in multiples of rest noise above baseline (0 before calibration)."""
        if self.baseline is None or self.noise is None:
            return 0.0
        return (envelope - self.baseline) / self.noise

    def add(self, z: FloatArray | list[float], env: FloatArray | list[float],
            valid: BoolArray | None) -> None:
        """Rest samples of the current block (``valid`` None: none gated; a live
        packet's as Python floats, which the block's end sums as the arrays' values)."""
        if valid is None:
            self._blk_z.append(z)
            self._blk_e.append(env)
        else:
            self._blk_z.append(np.asarray(z)[valid])
            self._blk_e.append(np.asarray(env)[valid])

    def disturb(self) -> None:
        """The current block is not rest (activity, or just after a release)."""
        self._quiet = False

    def end_block(self, active: bool, end: int = 0) -> list[FloatArray]:
        """At a block end (absolute sample ``end``): follow the block if it was rest
        throughout (and at least half of it valid) — at once, or with ``confirm_s`` set
        once that long has passed without an onset (:meth:`onset`). Returns the powers
        (rest units when measured) of the blocks followed now, for the fusion's evidence
        estimate."""
        zs = np.concatenate(self._blk_z) if self._blk_z else np.zeros(0)
        followed: list[FloatArray] = []
        if (not active and self._quiet and zs.size >= self.block_n // 2
                and self.baseline is not None):
            es = np.concatenate(self._blk_e)
            if self.confirm_n == 0:
                la = self.level_alpha
                self.pow_baseline *= (1 - la) + la * float(mean(np.minimum(zs, POWER_CAP)))
                self._follow_envelope(float(mean(es)), end)
                followed.append(zs)
            else:  # in absolute units: the baseline may move before it is applied
                self._pending.append((end, float(mean(np.minimum(zs, POWER_CAP)))
                                      * self.pow_baseline, float(mean(es)), zs))
        while self._pending and self._pending[0][0] <= end - self.confirm_n:
            _, power, envelope, z = self._pending.pop(0)
            la = self.level_alpha
            self.pow_baseline = (1 - la) * self.pow_baseline + la * power
            if self.baseline is not None:
                self._follow_envelope(envelope, end)
            followed.append(z)
        self._blk_z, self._blk_e = [], []
        self._quiet = True
        return followed

    def _follow_envelope(self, envelope: float, end: int) -> None:
        """Follow a rest block's mean envelope slowly (``adapt_s``) — but while the
        electrodes tell the sensor's part of a rise (:meth:`sensor_level`)."""
        assert self.baseline is not None
        if not (self.following(end) and self._follow is not None and self._follow[2]):
            self.baseline += self.alpha * (envelope - self.baseline)

    def following(self, end: int) -> bool:
        """Whether at sample ``end`` the electrodes are still to tell the sensor's part
        of a rise (:meth:`rise`'s ``follow_until``, :meth:`watch`)."""
        if self._follow is not None and end > self._follow[0]:
            self._follow = None
        return self._follow is not None

    def watch(self, until: int) -> None:
        """A release (detector version 23): until sample ``until`` the electrodes tell
        how much of the rest's rise since the calibration is the sensor's
        (:meth:`sensor_level`, against the calibrated baseline); the blocks are followed
        as before until they first do (one channel never does: nothing changes)."""
        if self.calibrated_baseline is not None:
            self._follow = (until, self.calibrated_baseline, False)

    def sensor_level(self, common: float) -> None:
        """The electrodes show the rest's power risen by ``common`` rest units on every
        one alike since the rise: the envelope's baseline is the level the telling started
        from (before the rise; from version 23 the calibration's, which the electrodes
        measure against), scaled as an RMS envelope of noise (the square root of the
        power); from then on the blocks no longer move it until the telling ends. Told
        again as the rest since the rise grows longer, the estimate firms up: the first one rests on
        0.75 s of a few channels, and the coach's judgement, ``sqrt(envelope² −
        baseline²)``, turns a baseline 8 % low into a residual of ~6 % of the reference
        contraction."""
        if self._follow is not None:
            until, level, _ = self._follow
            self.baseline = level * float(np.sqrt(1.0 + max(common, 0.0)))
            self._follow = (until, level, True)

    def onset(self) -> None:
        """An onset was decided: rest blocks not yet followed may hold its rise (a weak
        contraction is decided slowly) and are dropped; a rise's following ends."""
        self._pending.clear()
        self._follow = None

    def rise(self, factor: float, envelope_by: float = 1.0,
             follow_until: int | None = None, from_calibration: bool = False) -> None:
        """The rest settled ``factor`` × higher in power, of which ``envelope_by`` is the
        sensor's noise. A level-drop release (:mod:`.level_drop`): its new level may be
        tension that did not let go, so the envelope's baseline — what the coach judges
        relaxation against — moves only by the part the electrodes show as the sensor's
        (:mod:`.sensor_rise`); a rest that rose under a train of blips (:mod:`.rest_rise`):
        the sensor's noise, the whole factor. An RMS envelope of noise scales as the
        square root of its power; without this the coach told a relaxed patient to relax
        after the electrode's contact changed. ``follow_until``: the electrodes told the
        sensor's part; until that sample they tell it again (:meth:`sensor_level`), from
        the level before the rise or (``from_calibration``, version 23: the electrodes
        measure against the calibrated rest) from the calibration's."""
        if follow_until is not None and self.baseline is not None:
            level = (self.calibrated_baseline if from_calibration
                     and self.calibrated_baseline is not None else self.baseline)
            self._follow = (follow_until, level, True)
        self.pow_baseline *= factor
        if envelope_by > 1.0 and self.baseline is not None and self.noise is not None:
            root = float(np.sqrt(envelope_by))
            self.baseline *= root
            self.noise *= root


def local_rest(z: FloatArray, valid: BoolArray, block_n: int) -> float:
    """The rest level (rest units) of the samples ``z`` just before an onset, if above
    the baseline (else 1; 1 also when fewer than a block of them were kept or fewer than
    half a block are valid).

    Between contractions the rest may rise within seconds (electrode impedance, tone
    that does not let go) while the baseline, which follows only quiet blocks, lags: an
    activation that began on such a raised rest never returns "to rest", its release is
    not decided, and it swallows the next contraction. Measured where the change test
    was still at rest, the level the release returns to is the one the onset left.

    >>> round(local_rest(np.full(100, 1.8), np.ones(100, bool), 50), 6)
    1.8
    >>> local_rest(np.full(100, 0.7), np.ones(100, bool), 50)
    1.0
    """
    if z.size < block_n:
        return 1.0
    pre = z[valid]
    if pre.size < max(1, block_n // 2):
        return 1.0
    return max(1.0, float(np.minimum(pre, POWER_CAP).mean()))
