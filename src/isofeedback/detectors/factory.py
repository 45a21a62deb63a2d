"""The EMG chain and onset/release detector of a configuration, built in one place.

Live sessions (:class:`~isofeedback.pipeline.Pipeline`), replays and the offline
evaluation (``isofeedback eval``) all call :func:`build_emg_detection`, so a figure
measured by the evaluation is a figure of the detector a patient gets.
"""

from __future__ import annotations

from isofeedback.config import PipelineConfig
from isofeedback.detectors.double_threshold import DoubleThresholdDetector
from isofeedback.detectors.onset_release import OnsetReleaseDetector
from isofeedback.detectors.params import detector_params
from isofeedback.dsp.emg_chain import EmgChain

__all__ = ["OnsetDetector", "build_emg_chain", "build_emg_detection", "build_onset_detector"]

OnsetDetector = OnsetReleaseDetector | DoubleThresholdDetector


def build_emg_chain(fs: float, n_channels: int, cfg: PipelineConfig) -> EmgChain:
    """The EMG chain (band-pass, spike gate, notches, power, envelope) of ``cfg``."""
    return EmgChain(
        fs,
        n_channels,
        cfg.mains_hz,
        cfg.envelope_s,
        cfg.emg_channels,
        calibration_s=cfg.calibration_s,
        mains_harmonics=int(cfg.mains_harmonics),
        full_scale=cfg.emg_full_scale or None,
        notch_q=cfg.mains_q,
        low_hz=cfg.emg_low_hz,
        learn_on_best=cfg.weights_from_best_channel,
    )


def build_onset_detector(fs: float, chain: EmgChain, cfg: PipelineConfig) -> OnsetDetector:
    """The configured onset/release detector on ``chain``'s output."""
    if cfg.onset_detector == "double_threshold":
        return DoubleThresholdDetector(
            fs, cfg.calibration_s, cfg.onset_k, cfg.onset_low_k, cfg.release_k,
            cfg.min_on_s, cfg.min_off_s, cfg.refractory_s,
        )
    return OnsetReleaseDetector(
        fs, detector_params(cfg).at_rate(fs), delay_s=chain.power_delay_s,
        chain_filters=chain.filters,
    )


def build_emg_detection(
    fs: float, n_channels: int, cfg: PipelineConfig
) -> tuple[EmgChain, OnsetDetector]:
    """Chain and detector for an EMG stream of ``n_channels`` at ``fs``."""
    chain = build_emg_chain(fs, n_channels, cfg)
    return chain, build_onset_detector(fs, chain, cfg)
