"""EMG chain: band-pass, mains notch, envelope, channel fusion. Causal and chunked.

Output is the envelope of the target muscle in the input's units (RMS), one value per
input sample; normalisation (× rest noise, % MVC) is the detector's and coach's business
because it depends on calibration.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from isofeedback.dsp.filters import MovingRms, SosFilter, emg_bandpass, mains_notch
from isofeedback.types import Chunk

__all__ = ["EmgChain"]


class EmgChain:
    """Raw EMG chunks → fused envelope chunks (stream ``emg_env``, channel ``env``).

    ``channels``: indices of the channels over the target muscle (all when ``None``);
    their envelopes are combined as an RMS, which keeps the units and favours the channel
    with the strongest activity.
    """

    def __init__(
        self,
        fs: float,
        n_channels: int,
        mains_hz: float = 50.0,
        envelope_s: float = 0.05,
        channels: Sequence[int] | None = None,
    ) -> None:
        self.fs = fs
        self.n_channels = n_channels
        self.mains_hz = mains_hz
        self.envelope_s = envelope_s
        self.channels = tuple(channels) if channels is not None else tuple(range(n_channels))
        self._reset()

    def _reset(self) -> None:
        self._bandpass = SosFilter(emg_bandpass(self.fs), len(self.channels))
        notch = mains_notch(self.fs, self.mains_hz) if self.mains_hz > 0 else None
        self._notch = SosFilter(notch, len(self.channels)) if notch is not None else None
        self._rms = MovingRms(max(1, int(round(self.envelope_s * self.fs))), len(self.channels))

    @property
    def delay_s(self) -> float:
        """Approximate group delay of the envelope (half the RMS window)."""
        return self.envelope_s / 2

    def process(self, chunk: Chunk) -> Chunk:
        x = chunk.data[:, list(self.channels)]
        x = self._bandpass.process(x)
        if self._notch is not None:
            x = self._notch.process(x)
        env = self._rms.process(x)
        fused = np.sqrt(np.mean(env**2, axis=1, keepdims=True))
        return Chunk(
            stream="emg_env",
            fs=chunk.fs,
            start_index=chunk.start_index,
            t_first=chunk.t_first,
            data=fused,
            channels=("env",),
            device=chunk.device,
            gap_before=chunk.gap_before,
        )
