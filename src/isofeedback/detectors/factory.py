"""The EMG chain and onset/release detector of a configuration, built in one place.

Live sessions (:class:`~isofeedback.pipeline.Pipeline`), replays and the offline
evaluation (``isofeedback eval``) all call :func:`build_emg_detection`, so a figure
measured by the evaluation is a figure of the detector a patient gets.
"""

from __future__ import annotations

from isofeedback.config import PipelineConfig
from isofeedback.detectors.double_threshold import DoubleThresholdDetector
from isofeedback.detectors.onset_release import OnsetReleaseDetector
from isofeedback.detectors.rest_model import POWER_CAP
from isofeedback.detectors.sensor_rise import sensor_part, sensor_share
from isofeedback.dsp.emg_chain import EmgChain
from isofeedback.dsp.exact import dot

__all__ = [
    "OnsetDetector",
    "build_emg_chain",
    "build_emg_detection",
    "build_onset_detector",
    "chain_sensor_rise",
]

OnsetDetector = OnsetReleaseDetector | DoubleThresholdDetector


def build_emg_chain(fs: float, n_channels: int, cfg: PipelineConfig,
                    chunk_invariant: bool = False) -> EmgChain:
    """The EMG chain (band-pass, spike gate, notches, power, envelope) of ``cfg``
    (``chunk_invariant``: see :class:`EmgChain`)."""
    c = cfg.chain
    return EmgChain(
        fs,
        n_channels,
        c.mains_hz,
        c.envelope_s,
        c.channels,
        calibration_s=cfg.calibration_s,
        mains_harmonics=int(c.mains_harmonics),
        # the converter's limit gates samples only where the version does so
        full_scale=(c.full_scale or None) if c.gate_saturation else None,
        notch_q=c.mains_q,
        low_hz=c.low_hz,
        learn_on_best=c.weights_from_best_channel,
        chunk_invariant=chunk_invariant,
        drop_dead=c.drop_dead_channels,
        mains_auto=c.mains_auto,
        ecg_auto=c.ecg_auto,
        ecg_low_hz=c.ecg_low_hz,
        spike_level=c.spike_level,
        # where on the electrodes a rest left raised after a hold lies
        channel_powers_s=(max(cfg.detector.level_drop.s, cfg.detector.rest.train_s)
                          + 2 * cfg.detector.rest.block_s if cfg.detector.spatial_rest else 0.0),
    )


def build_onset_detector(fs: float, chain: EmgChain, cfg: PipelineConfig) -> OnsetDetector:
    """The configured onset/release detector on ``chain``'s output."""
    if cfg.onset_detector == "double_threshold":
        d = cfg.double_threshold
        return DoubleThresholdDetector(
            fs, cfg.calibration_s, d.onset_k, d.onset_low_k, d.release_k,
            d.min_on_s, d.min_off_s, d.refractory_s,
            calibration_rows=chain.take_calibration_rows,
        )
    return OnsetReleaseDetector(
        fs, cfg.detector.at_rate(fs), delay_s=chain.power_delay_s,
        chain_filters=lambda: chain.filters, calibration_rows=chain.take_calibration_rows,
        sensor_rise=lambda a, b: chain_sensor_rise(chain, a, b,
                                                   cfg.detector.spatial_release),
    )


def chain_sensor_rise(chain: EmgChain, a: int, b: int, capped: bool = False) -> float | None:
    """How much the power of the chain's envelope (its channels mixed by its weights)
    rose over samples ``a`` to ``b`` as the sensor's noise, in rest units: the part the
    channels show alike (:func:`sensor_share`, :func:`sensor_part`); None when they
    cannot tell (one channel, the samples no longer kept, no weights learnt yet).
    ``capped`` (detector version 23, which asks after every release): each sample's
    power at most ``POWER_CAP`` × its channel's calibrated rest, as the rest model
    measures a rest (a few samples at the converter's limit on one electrode — a knock on
    the sensor — read as a rise of every electrode's rest: the least squares spread it)."""
    low = chain.channel_power(a, b, POWER_CAP if capped else None)
    rest, hold = chain.rest_var, chain.activity
    if low is None or rest is None or hold is None:
        return None
    split = sensor_share(low, rest, hold)
    if split is None:
        return None
    mixed = dot(chain.weights, low) / dot(chain.weights, rest) - 1.0
    return sensor_part(split, mixed)


def build_emg_detection(
    fs: float, n_channels: int, cfg: PipelineConfig, chunk_invariant: bool = False
) -> tuple[EmgChain, OnsetDetector]:
    """Chain and detector for an EMG stream of ``n_channels`` at ``fs``."""
    chain = build_emg_chain(fs, n_channels, cfg, chunk_invariant)
    return chain, build_onset_detector(fs, chain, cfg)
