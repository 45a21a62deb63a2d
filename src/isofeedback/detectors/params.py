"""Parameters of the onset/release detector: nested, frozen, one group per concept.

The detector keeps its parameters as given and builds its state from them in a reset
(river's style); nothing in it depends on the sample rate except through
:meth:`DetectorParams.at_rate`, the one place where wearable rates (< 500 Hz) get their
own onset test, release tail and release blend, and :meth:`DetectorParams.samples`, the
one place durations become sample counts. The pipeline configuration's ``detector``
section is a :class:`DetectorParams` (:mod:`isofeedback.config`).

>>> p = DetectorParams().at_rate(200.0)
>>> p.onset.ratio, p.onset.h, p.release.envelope_blend, p.low_rate is None
(16.0, 11.0, 0.5, True)
>>> DetectorParams().at_rate(1000.0).onset.ratio
4.0
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from isofeedback.checks import choice, integer, number, of_type

__all__ = [
    "Confirmation",
    "DetectorParams",
    "LevelDrop",
    "LowRate",
    "OnsetTest",
    "ReleaseTest",
    "RestModel",
    "SampleCounts",
]


@dataclass(frozen=True, slots=True)
class RestModel:
    """The rest baseline: calibrated on the first ``calibration_s``, then following slow
    drift in blocks of ``block_s`` that were all rest and began ``settle_s`` or more after
    a release: the envelope's baseline (and the fused channels' evidence) with time
    constant ``adapt_s``, the rest power, against which both tests judge, with
    ``level_s``; with ``confirm_s`` a block is followed only once that long has passed
    without an onset (a weak contraction is decided slowly: the blocks of its rise must
    not become the rest). With ``train_s``, ``train_count`` activations too brief for a
    contraction within ``train_s`` and no contraction, active at most ``train_duty`` of
    that time, raise the rest to the ``train_quantile`` of the window's blocks
    (:mod:`.rest_rise`; 0 = never)."""

    calibration_s: float = 2.0
    adapt_s: float = 30.0
    block_s: float = 0.25
    level_s: float = 30.0
    settle_s: float = 1.0
    confirm_s: float = 0.0
    train_s: float = 0.0
    train_count: int = 3
    train_quantile: float = 0.2
    train_duty: float = 0.4

    def __post_init__(self) -> None:
        number(self.settle_s, "rest.settle_s", low=0.0)
        number(self.confirm_s, "rest.confirm_s", low=0.0, high=10.0)
        number(self.train_s, "rest.train_s", low=0.0, high=60.0)
        integer(self.train_count, "rest.train_count", low=1)
        number(self.train_quantile, "rest.train_quantile", low=0.0, high=1.0)
        number(self.train_duty, "rest.train_duty", low=0.0, high=1.0)
        for name in ("calibration_s", "adapt_s", "block_s", "level_s"):
            number(getattr(self, name), f"rest.{name}", low=0.0, low_open=True)


@dataclass(frozen=True, slots=True)
class OnsetTest:
    """CUSUM of "variance ``ratio`` × rest" against rest, decided above ``h`` nats; one
    sample adds at most ``sample_max`` × ``h``; powers clipped at ``z_max`` rest units.
    The change is back-dated within ``backdate_s``; with ``rest_fit`` against the rest
    level the samples before each candidate start show (from ``rest_anchor_s`` before
    the first candidate on), not against the baseline. ``refractory_s`` after a release
    nothing accumulates. ``refine_s`` after the decision (0 = never), an activation still
    going is back-dated again over everything seen since: an ``onset_refined`` event with
    the better estimate (the decision itself is taken early in the rise, whose later part
    tells how fast it rose)."""

    ratio: float = 4.0
    h: float = 10.0
    sample_max: float = 0.5
    z_max: float = 400.0
    backdate_s: float = 0.15
    refractory_s: float = 0.2
    rest_fit: bool = False
    rest_anchor_s: float = 0.1
    refine_s: float = 0.0

    def __post_init__(self) -> None:
        number(self.ratio, "onset.ratio", low=1.0, low_open=True)
        number(self.refine_s, "onset.refine_s", low=0.0, high=0.8)
        for name in ("h", "sample_max", "z_max"):
            number(getattr(self, name), f"onset.{name}", low=0.0, low_open=True)
        for name in ("backdate_s", "refractory_s", "rest_anchor_s"):
            number(getattr(self, name), f"onset.{name}", low=0.0)
        of_type(self.rest_fit, "onset.rest_fit", bool)


@dataclass(frozen=True, slots=True)
class ReleaseTest:
    """CUSUM of rest against "hold power / ``hold_div``" (between ``ratio`` and
    ``ratio_max`` × rest), decided above ``h`` once ``min_active_s`` of activity has been
    seen. Back-dated with the filters' ringing in the model: ``decay`` ``convolved``, each
    fall's own (the fall convolved with the filters' impulse energy: the whole decay after
    a step, little after a slow fall), or ``added`` (versions ≤ 18), ``tail`` × the decay
    after a step added to every fall; the release time is the posterior's ``estimate``
    (``median``; ``mean`` in versions ≤ 18, ``map``), fitted to the power clipped at
    ``fit_cap`` × the activation's strongest block where that is above ``onset.z_max``
    (the change tests' clip, which flattened a hold 30 dB above the rest; 0: at
    ``onset.z_max``, versions ≤ 20); then moved ``envelope_blend`` of the way to the
    envelope's fall (0 = not). ``local_rest``: "rest" is the level measured
    just before the onset when that is above the baseline (the rest rose since the
    baseline last moved), not the baseline itself."""

    ratio: float = 3.0
    h: float = 12.0
    hold_div: float = 4.0
    ratio_max: float = 30.0
    min_active_s: float = 0.2
    tail: float = 0.25
    envelope_blend: float = 0.0
    local_rest: bool = False
    decay: str = "convolved"
    estimate: str = "median"
    fit_cap: float = 10.0

    def __post_init__(self) -> None:
        number(self.ratio, "release.ratio", low=1.0, low_open=True)
        number(self.ratio_max, "release.ratio_max", low=self.ratio)
        for name in ("h", "hold_div"):
            number(getattr(self, name), f"release.{name}", low=0.0, low_open=True)
        for name in ("min_active_s", "tail"):
            number(getattr(self, name), f"release.{name}", low=0.0)
        number(self.envelope_blend, "release.envelope_blend", low=0.0, high=1.0)
        of_type(self.local_rest, "release.local_rest", bool)
        choice(self.decay, "release.decay", ("convolved", "added"))
        choice(self.estimate, "release.estimate", ("median", "mean", "map"))
        number(self.fit_cap, "release.fit_cap", low=0.0)


@dataclass(frozen=True, slots=True)
class LevelDrop:
    """A release also ends an activation whose power stayed ``s`` seconds under its
    strongest block / ``ratio`` (a rest that did not return to the calibrated level)."""

    ratio: float = 8.0
    s: float = 0.75

    def __post_init__(self) -> None:
        number(self.ratio, "level_drop.ratio", low=1.0, low_open=True)
        number(self.s, "level_drop.s", low=0.0, low_open=True)


@dataclass(frozen=True, slots=True)
class Confirmation:
    """Activations shorter than ``min_contraction_s`` are retracted (0 = never)."""

    min_contraction_s: float = 0.0

    def __post_init__(self) -> None:
        number(self.min_contraction_s, "confirmation.min_contraction_s", low=0.0)


@dataclass(frozen=True, slots=True)
class LowRate:
    """What changes below ``below_hz`` (wearables): a channel carries 5× fewer samples
    per second, so each must weigh more (a stronger onset alternative, a lower threshold,
    a looser per-sample cap), and the notch rings longer (tail, envelope blend). The
    onset's fitted rest level (``onset.rest_fit``) is off there: 0.3 s are 60 samples at
    200 Hz, too few for a level the back-dating can trust (onset error median 1–7 ms worse
    on the development records)."""

    below_hz: float = 500.0
    onset_ratio: float = 16.0
    onset_h: float = 11.0
    onset_sample_max: float = 0.9
    release_tail: float = 0.25
    release_blend: float = 0.5
    onset_rest_fit: bool = False

    def __post_init__(self) -> None:
        of_type(self.onset_rest_fit, "low_rate.onset_rest_fit", bool)
        number(self.below_hz, "low_rate.below_hz", low=0.0)
        number(self.onset_ratio, "low_rate.onset_ratio", low=1.0, low_open=True)
        for name in ("onset_h", "onset_sample_max"):
            number(getattr(self, name), f"low_rate.{name}", low=0.0, low_open=True)
        number(self.release_tail, "low_rate.release_tail", low=0.0)
        number(self.release_blend, "low_rate.release_blend", low=0.0, high=1.0)


@dataclass(frozen=True, slots=True)
class DetectorParams:
    """Every parameter of :class:`~isofeedback.detectors.onset_release.OnsetReleaseDetector`.
    ``low_rate`` (None once resolved) is applied by :meth:`at_rate`, never inside the
    detector."""

    rest: RestModel = field(default_factory=RestModel)
    onset: OnsetTest = field(default_factory=OnsetTest)
    release: ReleaseTest = field(default_factory=ReleaseTest)
    level_drop: LevelDrop = field(default_factory=LevelDrop)
    fused_evidence: bool = True
    confirmation: Confirmation = field(default_factory=Confirmation)
    low_rate: LowRate | None = field(default_factory=LowRate)
    #: the rate above which more samples bring no more evidence: the EMG band ends at
    #: 450 Hz, so above ~1 kHz a band-passed sample is largely its neighbours' and the
    #: change tests, which count samples as independent, would count the same evidence
    #: several times (white rest noise at 2 kHz decided ~25 onsets a minute, 0 at 1 kHz).
    #: Each sample counts ``evidence_hz / fs`` of one above it (``SampleCounts.weight``);
    #: 1000: the rate the tests' thresholds were chosen at; 0: every sample counts one
    evidence_hz: float = 0.0
    #: a rest raised after a hold is split on the electrodes into the sensor's noise
    #: (common to all) and the muscle's tension (in its hold's pattern;
    #: :mod:`.sensor_rise`, several channels needed): the sensor's part of a level
    #: drop's new level moves the envelope's baseline (what the coach judges relaxation
    #: against), and a train of brief activations on a rest raised on every electrode
    #: alike raises the rest even when the blips fill more than ``rest.train_duty``
    spatial_rest: bool = True
    #: with ``spatial_rest``, the electrodes are asked after every release, not only a
    #: level drop, how much of the rest's rise since the calibration is the sensor's: a
    #: milder rise (sweat: ×1.6 in power) ends the hold by an ordinary release and the
    #: baseline followed it only slowly, so every relaxation read as tension; and the
    #: sensor's part is told against the calibrated baseline (it is measured against the
    #: calibrated rest), not stacked on a baseline an earlier rise had already raised
    spatial_release: bool = True

    def __post_init__(self) -> None:
        of_type(self.fused_evidence, "fused_evidence", bool)
        of_type(self.spatial_rest, "spatial_rest", bool)
        of_type(self.spatial_release, "spatial_release", bool)
        number(self.evidence_hz, "evidence_hz", low=0.0)

    def at_rate(self, fs: float) -> DetectorParams:
        """The parameters for a stream at ``fs`` Hz, with nothing left to resolve."""
        number(fs, "fs", low=0.0, low_open=True)
        low = self.low_rate
        if low is None:
            return self
        if fs >= low.below_hz:
            return dataclasses.replace(self, low_rate=None)
        return dataclasses.replace(
            self,
            onset=dataclasses.replace(self.onset, ratio=low.onset_ratio, h=low.onset_h,
                                      sample_max=low.onset_sample_max,
                                      rest_fit=low.onset_rest_fit and self.onset.rest_fit),
            release=dataclasses.replace(self.release, tail=low.release_tail,
                                        envelope_blend=low.release_blend),
            low_rate=None,
        )

    def samples(self, fs: float) -> SampleCounts:
        """Every duration in samples at ``fs``, and what one sample counts."""
        return dataclasses.replace(
            SampleCounts.at(fs, self.rest, self.onset, self.release, self.level_drop),
            weight=min(1.0, self.evidence_hz / fs) if self.evidence_hz > 0 else 1.0)


@dataclass(frozen=True, slots=True)
class SampleCounts:
    """Every duration of the parameters as a number of samples at one rate: computed in
    one place (:meth:`DetectorParams.samples`), so the parts agree on them and a reader
    sees what a rate gets.

    >>> SampleCounts.at(200.0, RestModel()).block
    50
    """

    calibration: int  # rest.calibration_s
    block: int  # rest.block_s: the rest model's and the hold's blocks
    backdate: int = 0  # onset.backdate_s: look-back before the CUSUM left zero
    rest_anchor: int = 0  # rest before the first back-dating candidate (0.1 s)
    onset_anchor: int = 0  # onset.rest_anchor_s: the same for a fitted rest level
    keep: int = 8  # history kept for back-dating (backdate_s + 1 s)
    refractory: int = 0  # onset.refractory_s
    min_active: int = 0  # release.min_active_s
    settle: int = 0  # rest.settle_s: after a release, not yet rest
    confirm: int = 0  # rest.confirm_s: a rest block is followed once this has passed
    train: int = 0  # rest.train_s: the window of a train of brief activations
    drop_blocks: int = 1  # level_drop.s in blocks
    refine: int = 0  # onset.refine_s: an onset is back-dated again this long after it
    #: after a rise the electrodes showed partly the sensor's, the coach's baseline follows
    #: the rest this long (SENSOR_FOLLOW_S)
    follow: int = 0
    weight: float = 1.0  # the evidence one sample counts (evidence_hz / fs, at most 1)

    @classmethod
    def at(cls, fs: float, rest: RestModel, onset: OnsetTest | None = None,
           release: ReleaseTest | None = None, drop: LevelDrop | None = None) -> SampleCounts:
        onset, release, drop = onset or OnsetTest(), release or ReleaseTest(), drop or LevelDrop()
        return cls(
            calibration=max(1, int(round(rest.calibration_s * fs))),
            block=max(1, int(round(rest.block_s * fs))),
            backdate=int(round(onset.backdate_s * fs)),
            rest_anchor=int(round(REST_ANCHOR_S * fs)),
            onset_anchor=int(round(onset.rest_anchor_s * fs)),
            keep=max(int(round((onset.backdate_s + max(1.0, onset.rest_anchor_s)) * fs)), 8),
            refractory=int(round(onset.refractory_s * fs)),
            min_active=int(round(release.min_active_s * fs)),
            settle=int(round(rest.settle_s * fs)),
            confirm=int(round(rest.confirm_s * fs)),
            train=int(round(rest.train_s * fs)),
            drop_blocks=max(1, int(round(drop.s / rest.block_s))),
            refine=int(round(onset.refine_s * fs)),
            follow=int(round(SENSOR_FOLLOW_S * fs)),
        )


#: rest samples before the first back-dating candidate, anchoring the rest level
REST_ANCHOR_S = 0.1
#: after a rest rise the electrodes showed partly the sensor's (detector version 22), the
#: envelope's baseline follows the rest blocks this long: the coach judges relaxation over
#: the relax phase's second half, a few seconds after the release
SENSOR_FOLLOW_S = 4.0
