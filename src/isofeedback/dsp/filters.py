"""Streaming causal filters whose chunked output equals their one-shot output exactly.

Each filter keeps its own state (SOS sections with per-channel ``zi``; a window's tail) so
it can be fed chunks of any size. They read no clock and do no I/O (the designs are
cached on disk by :mod:`.design_cache`).

``scipy.signal`` is not imported here unless a design is missing from the cache or the
compiled kernel cannot be loaded on its own: importing it costs 0.5–2 s, several times a
one-minute replay (see :func:`_load_kernel`).
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import numpy as np

from isofeedback.dsp.design_cache import cached_design
from isofeedback.types import FloatArray

log = logging.getLogger(__name__)

#: scipy's in-place SOS kernel: ``kernel(sos, x, zi)`` with ``x`` (channels, n) and
#: ``zi`` (channels, sections, 2), both C-ordered float64
Kernel = Callable[[FloatArray, FloatArray, FloatArray], None]

__all__ = ["MovingRms", "SosFilter", "emg_bandpass", "mains_notch", "pole_radius", "step_state"]


def step_state(sos: FloatArray) -> FloatArray:
    """The state ``(sections, 2)`` of a cascade of second-order sections (transposed
    direct form II, as scipy's SOS kernel runs them) that has settled on a unit input.

    Same values as :func:`scipy.signal.sosfilt_zi`, computed in closed form: that function
    solves a linear system with LAPACK, whose result changes in the last bits with the CPU
    and the number of BLAS threads, and the state seeds every later sample (a recording
    made on one machine did not replay exactly on another). A settled section with gain
    ``g = Σb / Σa`` has ``z1 = b2 − a2·g`` and ``z0 = b1 − a1·g + z1``; each section's input
    is the previous sections' gain.

    >>> from scipy import signal
    >>> sos = signal.butter(4, [20, 450], btype="bandpass", fs=1000, output="sos")
    >>> bool(np.allclose(step_state(sos), signal.sosfilt_zi(sos), rtol=1e-12, atol=1e-15))
    True
    """
    out = np.zeros((sos.shape[0], 2))
    scale = 1.0
    for i, row in enumerate(np.asarray(sos, dtype=np.float64).tolist()):
        _, b1, b2, _, a1, a2 = (v / row[3] for v in row)
        g = (row[0] + row[1] + row[2]) / (row[3] + row[4] + row[5])
        z1 = b2 - a2 * g
        out[i, 0] = scale * (b1 - a1 * g + z1)
        out[i, 1] = scale * z1
        scale *= g
    return out


def pole_radius(sos: FloatArray) -> float:
    """Largest pole magnitude of a cascade of second-order sections, in closed form (the
    roots of ``z² + a1·z + a2``; no eigenvalue solver, whose last bits depend on the CPU).

    >>> pole_radius(np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.25]]))
    0.5
    """
    radius = 0.0
    for row in np.asarray(sos, dtype=np.float64).tolist():
        a1, a2 = row[4] / row[3], row[5] / row[3]
        disc = a1 * a1 - 4.0 * a2
        if disc < 0:  # a complex pair: |p|² = a2
            r = math.sqrt(a2)
        else:
            root = math.sqrt(disc)
            r = max(abs(-a1 + root), abs(-a1 - root)) / 2.0
        radius = max(radius, r)
    return radius


class SosFilter:
    """IIR filter in second-order sections, state carried across chunks.

    The state starts at the steady state for the first sample seen, so a DC offset does not
    ring through a high-pass at start-up.

    Live chunks are short (10–50 samples), so the per-call overhead of
    :func:`scipy.signal.sosfilt` (input checks, axis moves: ~25 µs) would dominate the
    whole EMG chain's budget. The filter therefore calls scipy's compiled SOS kernel
    directly when it can be loaded and checked (:func:`kernel`: same arithmetic, ~1 µs
    per call) and falls back to the public function otherwise; a test checks that both
    give the same output.

    >>> from scipy import signal
    >>> f = SosFilter(signal.butter(2, 0.1, output="sos"), channels=1)
    >>> x = np.ones((10, 1))
    >>> bool(np.allclose(np.vstack([f.process(x[:3]), f.process(x[3:])]), 1.0))
    True
    """

    def __init__(self, sos: FloatArray, channels: int, *, compiled: bool = True) -> None:
        self.sos = np.ascontiguousarray(sos, dtype=np.float64)
        self.channels = channels
        self._kernel = kernel() if compiled else None
        self.compiled = self._kernel is not None
        self._reset()

    def _reset(self) -> None:
        self._zi: FloatArray | None = None  # (channels, sections, 2)

    def process(self, x: FloatArray, *, overwrite: bool = False) -> FloatArray:
        """Filter ``x`` of shape (n, channels). ``overwrite``: ``x`` may be filtered in
        place (saves a copy when it is the transpose of a C-ordered float array, as this
        filter's own outputs are)."""
        if x.shape[0] == 0:
            return x.astype(np.float64, copy=True)
        if self._zi is None:
            base = step_state(self.sos)  # (sections, 2)
            self._zi = np.ascontiguousarray(
                base[None, :, :] * np.asarray(x[0], dtype=np.float64)[:, None, None]
            )
        if self._kernel is not None:
            y = x.T  # (channels, n), filtered in place
            if not (overwrite and y.dtype == np.float64 and y.flags.c_contiguous):
                y = np.array(y, dtype=np.float64, order="C")
            self._kernel(self.sos, y, self._zi)
            return y.T
        from scipy import signal

        yy, zf = signal.sosfilt(self.sos, x, axis=0, zi=np.moveaxis(self._zi, 0, -1))
        self._zi = np.ascontiguousarray(np.moveaxis(zf, -1, 0))
        return np.asarray(yy, dtype=np.float64)


    def same_state(self, other: SosFilter) -> bool:
        """True when ``other`` holds this filter's state bit for bit (so, given the same
        input, both give the same output to the bit)."""
        a, b = self._zi, other._zi
        if a is None or b is None:
            return a is None and b is None
        return a.tobytes() == b.tobytes()

    def copy_state(self, other: SosFilter) -> None:
        """Take ``other``'s state (same coefficients and channels), as if this filter had
        filtered the same samples."""
        if other._zi is None:
            self._zi = None
        elif self._zi is None:
            self._zi = other._zi.copy()
        else:
            self._zi[...] = other._zi


def reference_sosfilt(sos: FloatArray, x: FloatArray, zi: FloatArray) -> None:
    """The SOS recurrence (transposed direct form II) in plain Python floats, in place, in
    the order scipy's compiled kernel computes it: each product rounded, then each sum,
    left to right. Far too slow to filter with; it is the yardstick the kernel is held to.

    >>> x, zi = np.array([[1.0, 0.0, 0.0]]), np.zeros((1, 1, 2))
    >>> reference_sosfilt(np.array([[0.5, 0.25, 0.0, 1.0, -0.5, 0.0]]), x, zi)
    >>> x.tolist()
    [[0.5, 0.5, 0.25]]
    """
    rows = np.asarray(sos, dtype=np.float64).tolist()
    for c in range(x.shape[0]):
        for n in range(x.shape[1]):
            v = float(x[c, n])
            for s, (b0, b1, b2, _, a1, a2) in enumerate(rows):
                z0, z1 = float(zi[c, s, 0]), float(zi[c, s, 1])
                new = b0 * v + z0
                zi[c, s, 0] = b1 * v - a1 * new + z1
                zi[c, s, 1] = b2 * v - a2 * new
                v = new
            x[c, n] = v


def _load_kernel() -> Kernel | None:
    """scipy's compiled SOS kernel without importing ``scipy.signal``, or None.

    The kernel is one small compiled module (``scipy/signal/_sosfilt``) that needs only
    numpy and scipy's top-level package, but importing it by name first runs
    ``scipy.signal/__init__``, which imports most of scipy (0.5–2 s). So, unless
    scipy.signal is already imported, the module is loaded from its file beside that
    package. It is private to scipy: if it is missing or its calling convention changed,
    this returns None and the filters use :func:`scipy.signal.sosfilt`.
    """
    import sys

    name = "scipy.signal._sosfilt"
    if "scipy.signal" in sys.modules or name in sys.modules:
        from scipy.signal._sosfilt import _sosfilt

        return cast(Kernel, _sosfilt)
    spec = importlib.util.find_spec("scipy")  # locates the package, imports nothing
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(folder) / "signal" / f"_sosfilt{suffix}"
            if path.is_file():
                module_spec = importlib.util.spec_from_file_location(name, path)
                if module_spec is None or module_spec.loader is None:
                    return None
                module = importlib.util.module_from_spec(module_spec)
                module_spec.loader.exec_module(module)
                return cast(Kernel, module._sosfilt)
    return None


@functools.cache
def kernel() -> Kernel | None:
    """The compiled SOS kernel, loaded once and accepted only if it reproduces
    :func:`reference_sosfilt` to the last bit on a band-pass with a non-zero state
    (several sections and channels); None when it cannot be loaded or differs."""
    try:
        found = _load_kernel()
    except Exception:  # pragma: no cover - depends on the scipy version
        log.debug("scipy's compiled SOS kernel could not be loaded", exc_info=True)
        return None
    if found is None:  # pragma: no cover - depends on the scipy version
        return None
    sos = np.array([[0.0675, 0.135, 0.0675, 1.0, -1.143, 0.4128],
                    [1.0, -2.0, 1.0, 1.0, -1.561, 0.6414]])
    x = np.sin(np.arange(48.0) * 0.7).reshape(2, 24) * 3.0
    zi = np.cos(np.arange(8.0)).reshape(2, 2, 2)
    want, want_zi = x.copy(), zi.copy()
    reference_sosfilt(sos, want, want_zi)
    try:
        found(sos, x, zi)
    except Exception:  # pragma: no cover - depends on the scipy version
        log.debug("scipy's compiled SOS kernel has another signature", exc_info=True)
        return None
    if x.tobytes() != want.tobytes() or zi.tobytes() != want_zi.tobytes():
        log.debug("scipy's compiled SOS kernel differs from the reference; not used")
        return None  # pragma: no cover - depends on how scipy was compiled
    return found


def emg_bandpass(fs: float, low: float = 20.0, high: float = 450.0, order: int = 4) -> FloatArray:
    """Band-pass for surface EMG adapted to the sample rate: the upper edge is lowered to
    0.45·fs for wearables (a 200 Hz Myo keeps 20–90 Hz; its envelope is still usable)."""
    hi = min(high, 0.45 * fs)
    lo = min(low, hi / 2)

    def design() -> FloatArray:
        from scipy import signal

        return np.asarray(signal.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos"))

    return cached_design("butter-bandpass-sos", [float(fs), lo, hi, int(order)], design)


def mains_notch(
    fs: float, mains_hz: float, harmonics: int = 3, q: float = 30.0
) -> FloatArray | None:
    """Notches at the mains frequency and its harmonics below Nyquist (None if none fit)."""
    sections = []
    for k in range(1, harmonics + 1):
        f = mains_hz * k
        if f >= 0.49 * fs:
            break
        sections.append(_notch_section(float(fs), float(f), float(q)))
    if not sections:
        return None
    return np.asarray(np.vstack(sections), dtype=np.float64)


def _notch_section(fs: float, f: float, q: float) -> FloatArray:
    """One notch at ``f`` as SOS rows (cached design)."""

    def design() -> FloatArray:
        from scipy import signal

        b, a = signal.iirnotch(f, q, fs=fs)
        return np.asarray(signal.tf2sos(b, a), dtype=np.float64)

    return cached_design("iirnotch-tf2sos", [fs, f, q], design)


def impulse_energy(fs: float, filters: Sequence[FloatArray], seconds: float = 0.5) -> FloatArray:
    """Energy per sample (``h²``) of the impulse response of the SOS cascade ``filters``
    over ``seconds``: how a white input's power is spread in time after them (the
    ringing a detector models after a release).

    >>> impulse_energy(10.0, [np.array([[1.0, 0, 0, 1.0, 0, 0]])]).tolist()  # a wire
    [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    >>> from scipy import signal
    >>> e = impulse_energy(1000.0, [signal.butter(4, 0.2, output="sos")])
    >>> round(float(e.sum()), 2)  # white-noise power gain of a low-pass at 0.1·fs: ~0.2
    0.2
    """
    n = max(8, int(round(seconds * fs)))

    def design() -> FloatArray:
        from scipy import signal

        h = np.zeros(n)
        h[0] = 1.0
        for sos in filters:
            h = signal.sosfilt(sos, h)
        return np.asarray(h * h, dtype=np.float64)

    return cached_design("impulse-energy", [n, *filters], design)


class MovingRms:
    """Causal moving RMS over ``window`` samples (shorter at the very start).

    The window sums are differences of one running sum carried from the stream's first
    sample (accumulated sequentially, chunk after chunk). A full window's sum is
    multiplied by ``1 / window`` and a partial one (the stream's first samples) divided by
    its length. ``by_index`` chooses between the two by the sample's index, so every output
    is the same to the last bit however the stream is chunked; without it (what recorded
    sessions were made with) a chunk that begins before the first full window divides
    all of its rows, so the first chunk that reaches a full window gives other last bits
    depending on where it ends.

    >>> m = MovingRms(window=4, channels=1)
    >>> y = m.process(np.full((6, 1), 2.0))
    >>> y[:, 0].tolist()
    [2.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    """

    def __init__(self, window: int, channels: int, by_index: bool = False) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1 sample, got {window}")
        self.window = window
        self.channels = channels
        self.by_index = by_index
        self._reset()

    def _reset(self) -> None:
        # running sums, written forward: the last ``window`` sums before ``_pos`` are the
        # state; the buffer is shifted back only when full (no reallocation per chunk)
        self._csum = np.zeros((4 * self.window + 64, self.channels))
        self._pos = self.window
        self._n = 0
        # the last ``window`` running sums as the few-rows path keeps them (oldest first),
        # newer than ``_csum`` while set (:meth:`_arrays` writes them back)
        self._sums: list[list[float]] | None = None

    def process(self, x: FloatArray) -> FloatArray:
        return np.asarray(np.sqrt(self.mean_square(np.asarray(x, dtype=np.float64) ** 2)))

    @property
    def full(self) -> bool:
        """Every window from now on is full. Until then a chunk's windows are divided by
        their length (a full one too), after it multiplied by its inverse, so a chunk that
        reaches the first full window gives other last bits than the same samples in
        smaller chunks: a caller that chunks differently from the live path (a bulk
        replay) must follow the live chunks until this is true."""
        return self._n >= self.window - 1

    def mean_square(self, sq: FloatArray) -> FloatArray:
        """Moving mean of already squared samples ``sq`` (n, channels), ≥ 0."""
        n, w = sq.shape[0], self.window
        if n == 0:
            return np.zeros((0, self.channels))
        self._arrays()
        pos = self._pos
        if pos + n > self._csum.shape[0]:
            keep = self._csum[pos - w : pos]
            if w + n > self._csum.shape[0]:
                self._csum = np.zeros((2 * (w + n), self.channels))
            self._csum[:w] = keep
            pos = w
        buf = self._csum
        buf[pos : pos + n] = sq
        run = buf[pos - 1 : pos + n]  # the previous running sum, then the new samples
        np.add.accumulate(run, axis=0, out=run)  # np.cumsum without its wrapper
        if self._n >= w - 1:  # steady state: every window is full
            mean = (buf[pos : pos + n] - buf[pos - w : pos - w + n]) * (1.0 / w)
        else:
            div = np.minimum(np.arange(self._n + 1, self._n + n + 1), w).astype(np.float64)
            mean = (buf[pos : pos + n] - buf[pos - w : pos - w + n]) / div[:, None]
            if self.by_index:  # full windows as in the steady state, to the bit
                full = max(0, w - 1 - self._n)
                mean[full:] = (buf[pos + full : pos + n]
                               - buf[pos - w + full : pos - w + n]) * (1.0 / w)
        self._pos = pos + n
        self._n += n
        return np.maximum(mean, 0.0, out=mean)

    def mean_square_few(self, rows: list[list[float]]) -> list[list[float]]:
        """:meth:`mean_square` of a few rows given as Python floats, once every window is
        full (before, the array path): the same IEEE operations in the same order — each
        running sum the previous one plus the sample (``np.add.accumulate``'s order), the
        window's difference times ``1 / window``, then ``np.maximum(·, 0.0)`` (a NaN kept,
        as numpy keeps it; a difference of sums of squares is never ``-0.0``). The sums
        stay floats between chunks: a live packet's eight numpy calls become none."""
        if not self.full or not rows:
            done: list[list[float]] = self.mean_square(np.array(rows, dtype=np.float64)).tolist()
            return done
        sums = self._sums
        if sums is None:
            sums = self._csum[self._pos - self.window : self._pos].tolist()
        inv = 1.0 / self.window
        prev = sums[-1]
        out = []
        for row in rows:
            new = [s + v for s, v in zip(prev, row, strict=True)]
            old = sums.pop(0)
            sums.append(new)
            out.append([m if (m := (a - b) * inv) >= 0.0 or m != m else 0.0
                        for a, b in zip(new, old, strict=True)])
            prev = new
        self._sums = sums
        self._n += len(rows)
        return out

    def _arrays(self) -> None:
        """Before the array path reads the running sums: the few-rows path's newer ones
        written back as the last ``window`` rows before ``_pos`` (all it reads)."""
        if self._sums is not None:
            self._csum[self._pos - self.window : self._pos] = self._sums
            self._sums = None
