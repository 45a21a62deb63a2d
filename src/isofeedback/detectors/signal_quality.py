"""Signal quality of raw EMG: flat line (electrode off, stuck converter), saturation, and
a mains hum the chain does not notch.

Neither is a contraction: both are reported as ``signal_quality`` events with
``detail = {"issue": "flat" | "saturation", "state": "start" | "end", "channel": k}``
(``value`` is the channel). A channel is flat once its samples have not changed for
``flat_s``; the start is back-dated to the first unchanged sample. It saturates when a
sample reaches ``full_scale``; the episode ends ``hold_s`` after the last saturated
sample. Both states are functions of run lengths, so chunking never changes them.

The hum (``issue = "mains"``, ``detail["hz"]``; ``channel`` None, ``value`` the hum's share
of the rest's power): measured once over the first :data:`HUM_S` (the session starts at
rest), reported when the EMG hums at a mains frequency the chain does not notch
(``mains_hz``: a sensor used in the Americas with the 50 Hz default) and the hum is at
least half the power the detector sees at rest: it then raises the rest level the onset
test compares with, and gentle contractions go unseen. It has no end: the clinician sets
``chain.mains_hz``. Measured at a fixed sample count, so chunking never changes it.
When the chain chooses its notch itself (``chain_hum``: its measurement over its rest
calibration, and the sample it was taken at), the watch measures nothing: it says the
chain's choice, at that sample. A hum at the other mains frequency is then notched, not an
issue: it is said once with ``state = "notched"`` (``hz`` the one notched, ``configured``
the one set), which no quality light counts, so that the clinician can set
``chain.mains_hz`` for the country. The chain must have taken the chunk first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from isofeedback.dsp.exact import FEW_ROWS
from isofeedback.dsp.mains_hum import MainsHum, measure_hum
from isofeedback.types import Chunk, Event, EventType, FloatArray

__all__ = ["HUM_S", "HUM_SHARE", "SignalQualityDetector", "hz_text", "notched_hum_note"]

_NEVER = -(10**12)
#: the hum is measured over the session's first seconds (its rest)
HUM_S = 2.0
#: a hum this share of the rest's power or more is reported (it doubles the rest level)
HUM_SHARE = 0.5


class SignalQualityDetector:
    """Raw ``emg`` chunks → ``signal_quality`` events.

    >>> import numpy as np
    >>> from isofeedback.types import Chunk
    >>> x = np.random.default_rng(0).normal(0, 10, (1000, 1))
    >>> x[300:600] = 0.0; x[800:820] = 127.0
    >>> det = SignalQualityDetector(fs=200.0, full_scale=127.0)
    >>> ev = det.process(Chunk("emg", 200.0, 0, 0.0, x, ("a",)))
    >>> [(e.detail["issue"], e.detail["state"], round(e.t, 2)) for e in ev]
    [('flat', 'start', 1.5), ('flat', 'end', 3.0), ('saturation', 'start', 4.0), \
('saturation', 'end', 4.6)]
    """

    def __init__(
        self,
        fs: float,
        full_scale: float | None = None,
        flat_s: float = 0.25,
        hold_s: float = 0.5,
        mains_hz: float | None = None,
        chain_hum: Callable[[], tuple[MainsHum, int] | None] | None = None,
    ) -> None:
        if fs <= 0:
            raise ValueError("fs must be positive")
        self.fs = fs
        self.full_scale = full_scale
        self.flat_s = flat_s
        self.hold_s = hold_s
        self.mains_hz = mains_hz  # the chain's notch (0: none); None: no hum watch
        self.chain_hum = chain_hum  # the chain's own measurement, when it chooses its notch
        self._reset()

    def _reset(self) -> None:
        self._n = 0
        # the first HUM_S of samples, gathered for the hum (None once measured)
        self._hum_rows: list[FloatArray] | None = None if self.mains_hz is None else []
        self._hum_have = 0
        self._prev: FloatArray | None = None
        self._last_change: FloatArray | None = None  # per channel, absolute index
        # _prev and _last_change as the few-rows path keeps them, newer than the arrays
        # while set (:meth:`_arrays` writes them back before an array path reads them)
        self._few: tuple[list[float], list[float]] | None = None
        self._last_sat: FloatArray | None = None
        self._flat: FloatArray | None = None
        self._sat: FloatArray | None = None
        self._clear = True  # no channel flat or saturated after the last chunk
        self._oldest_change = float(_NEVER)  # the earliest of the channels' last changes

    @property
    def samples_seen(self) -> int:
        return self._n

    def process(self, chunk: Chunk) -> list[Event]:
        """The chunk's events; :attr:`decided` then holds, for each, the sample index it
        was decided at and the one it starts at (see :meth:`retimed`)."""
        self.decided: list[tuple[int, float]] = []
        hum = self._hum(chunk) if self._hum_rows is not None else []
        runs = self._runs(chunk)
        return runs + hum if hum else runs

    def retimed(self, event: Event, t_first: float, n: int, index: tuple[int, float]
                ) -> Event:
        """``event`` (one of :meth:`process`'s, ``index`` its :attr:`decided` entry) with
        the times a chunk starting at session time ``t_first`` and sample ``n`` would
        have given it: a chunk's times are its own start plus samples over the rate, so a
        stream fed in one piece (a replay's bulk pass) and packet by packet (live) differ
        in the last bits wherever the packets' times are not on one grid; retimed from
        the packet it was decided in, it is the live event to the bit."""
        t, t_dec = _event_times(t_first - n / self.fs, index[0], index[1],
                                event.detail.get("state") != "end", self.fs)
        return Event(event.type, t, t_dec, event.source, event.value, event.detail)

    def _hum(self, chunk: Chunk) -> list[Event]:
        """The hum's event, once: when the first :data:`HUM_S` have been seen, or when
        the chain has chosen its notch (``chain_hum``)."""
        assert self._hum_rows is not None and self.mains_hz is not None
        if self.chain_hum is not None:
            chosen = self.chain_hum()
            if chosen is None:
                return []
            self._hum_rows = None
            hum, at = chosen
            if hum.hz is None or hum.hz == self.mains_hz:
                return []  # the chain kept its notch
            detail: dict[str, object] = {"issue": "mains", "state": "notched",
                                         "channel": None, "hz": hum.hz, "notched": hum.hz,
                                         "configured": self.mains_hz}
        else:
            at = int(round(HUM_S * self.fs)) - 1
            if chunk.n:
                self._hum_rows.append(np.array(chunk.data[: at + 1 - self._hum_have],
                                               dtype=np.float64))
                self._hum_have += self._hum_rows[-1].shape[0]
            if self._hum_have <= at:
                return []
            rows, self._hum_rows = np.concatenate(self._hum_rows), None
            hum = measure_hum(rows, self.fs)
            if hum.hz is None or hum.hz == self.mains_hz or hum.shares[hum.hz] < HUM_SHARE:
                return []
            detail = {"issue": "mains", "state": "start", "channel": None, "hz": hum.hz,
                      "notched": self.mains_hz}
        # at the sample that completed the measurement (this chunk's first is ``_n``)
        t, _ = _event_times(chunk.t_first - self._n / self.fs, at, at, True, self.fs)
        self.decided.append((at, float(at)))
        return [Event(EventType.SIGNAL_QUALITY, t, t, "emg", hum.shares[hum.hz], detail)]

    def _runs(self, chunk: Chunk) -> list[Event]:
        """Flat and saturated runs."""
        x = chunk.data
        n, c = x.shape
        if n == 0:
            return []
        if self._prev is None:
            self._prev = x[0].copy() + 1.0  # the first sample counts as a change
            self._last_change = np.full(c, float(_NEVER))
            self._last_sat = np.full(c, float(_NEVER))
            self._flat = np.zeros(c)
            self._sat = np.zeros(c)
        assert self._last_change is not None and self._last_sat is not None
        assert self._flat is not None and self._sat is not None
        if self._quiet(x):
            return []
        self._arrays()
        t0 = chunk.t_first - self._n / self.fs
        idx = (self._n + np.arange(n)).astype(np.float64)[:, None]
        changed = np.empty(x.shape, dtype=bool)
        np.not_equal(x[0], self._prev, out=changed[0])
        np.not_equal(x[1:], x[:-1], out=changed[1:])
        last_change = _running_last(changed, idx, self._last_change)
        flat = idx - last_change + 1 >= self.flat_s * self.fs
        states = [("flat", flat, self._flat, last_change)]
        if self.full_scale is not None:
            last_sat = _running_last(np.abs(x) >= self.full_scale, idx, self._last_sat)
            sat = idx - last_sat <= self.hold_s * self.fs
            states.append(("saturation", sat, self._sat, last_sat))
        # else nothing can saturate: the last saturated sample stays never, so the state
        # stays unsaturated and no saturation event is due (two accumulations saved)
        events: list[tuple[float, int, Event, tuple[int, float]]] = []
        for name, state, prev_state, ref in states:
            if not prev_state.any() and not state.any():
                continue  # neither before nor in the chunk: no transition
            trans = np.diff(np.vstack([prev_state[None, :], state.astype(np.float64)]),
                            axis=0)
            for k, ch in zip(*np.nonzero(trans), strict=True):
                dec = self._n + int(k)
                rising = bool(trans[k, ch] > 0)
                start = float(ref[k, ch]) if name == "flat" and rising else float(dec)
                t, t_dec = _event_times(t0, dec, start, rising, self.fs)
                detail = {"issue": name, "state": "start" if rising else "end",
                          "channel": int(ch)}
                ev = Event(EventType.SIGNAL_QUALITY, t, t_dec, "emg", float(ch), detail)
                events.append((t_dec, int(ch), ev, (dec, start)))
        self._prev = x[-1].copy()
        self._last_change = last_change[-1].copy()
        if self.full_scale is not None:
            self._last_sat = last_sat[-1].copy()
            self._sat = sat[-1].astype(np.float64)
        self._flat = flat[-1].astype(np.float64)
        self._clear = not (self._flat.any() or self._sat.any())
        self._oldest_change = float(self._last_change.min())
        self._n += n
        ordered = sorted(events, key=lambda v: (v[0], v[1], v[2].detail["issue"]))
        self.decided += [index for _, _, _, index in ordered]
        return [e for _, _, e, _ in ordered]

    def _quiet(self, x: FloatArray) -> bool:
        """The usual chunk, told apart cheaply (a live Myo sends 2-sample chunks, 100 a
        second, and the full check costs a dozen numpy calls each): no channel flat or
        saturated before it, none that can turn flat within it (its last change is less
        than ``flat_s`` before the chunk's last sample even if it never changes in it) and
        no sample at full scale. Then no state changes and no event is due; the last change
        per channel moves on exactly as :meth:`process` moves it. False: nothing done."""
        assert self._prev is not None and self._last_change is not None
        n = x.shape[0]
        end = self._n + n - 1
        # whole numbers: exact, so the oldest last change answers for every channel
        if not self._clear or end - self._oldest_change + 1 >= self.flat_s * self.fs:
            return False
        if n <= FEW_ROWS and x.dtype == np.float64:
            quiet = self._quiet_few(x.tolist())
            if quiet is not None:
                return quiet
        if self.full_scale is not None and float(np.abs(x).max()) >= self.full_scale:
            return False
        self._arrays()
        changed = np.empty(x.shape, dtype=bool)
        np.not_equal(x[0], self._prev, out=changed[0])
        np.not_equal(x[1:], x[:-1], out=changed[1:])
        last = n - 1 - np.argmax(changed[::-1], axis=0)
        self._last_change = np.where(changed.any(axis=0), (self._n + last).astype(np.float64),
                                     self._last_change)
        self._oldest_change = float(self._last_change.min())
        self._prev = x[-1].copy()
        self._n += n
        return True

    def _quiet_few(self, rows: list[list[float]]) -> bool | None:
        """:meth:`_quiet`'s test and update for a few rows, in Python floats: the same
        comparisons (``!=`` and ``>=`` on the same doubles), the last change per channel
        as the same whole number. None when a value is NaN (numpy's maximum would then be
        NaN, which no ``>=`` passes: left to the array path to keep its answer)."""
        assert self._prev is not None and self._last_change is not None
        full = self.full_scale
        for row in rows:
            for v in row:
                if v != v:
                    return None
                if full is not None and abs(v) >= full:
                    return False
        if self._few is None:
            prev, last = self._prev.tolist(), self._last_change.tolist()
        else:
            prev, last = self._few
        base = self._n
        for c, before in enumerate(prev):
            for k in range(len(rows) - 1, -1, -1):
                if rows[k][c] != (rows[k - 1][c] if k else before):
                    last[c] = float(base + k)
                    break
        # kept as floats for the next packet (two conversions each way fewer)
        self._few = (rows[-1], last)
        self._oldest_change = float(min(last))
        self._n += len(rows)
        return True

    def _arrays(self) -> None:
        """Before an array path reads ``_prev`` and ``_last_change``: the few-rows
        path's newer floats written back (the same numbers)."""
        if self._few is not None:
            prev, last = self._few
            self._prev = np.array(prev, dtype=np.float64)
            self._last_change = np.array(last, dtype=np.float64)
            self._few = None


def _running_last(hit: npt.NDArray[np.bool_], idx: FloatArray, before: FloatArray) -> FloatArray:
    """Per channel, the index of the last sample at or before each row where ``hit``
    (``before``: the last one before the chunk; ``_NEVER`` for none): the running maximum
    of the hits' indices, the carried value folded into the first row (a maximum is
    exact, so this is the running maximum over the carried row and the chunk's)."""
    marks = np.where(hit, idx, float(_NEVER))
    np.maximum(marks[0], before, out=marks[0])
    return np.maximum.accumulate(marks, axis=0, out=marks)


def _event_times(t0: float, dec: int, start: float, rising: bool, fs: float,
                 ) -> tuple[float, float]:
    """An event's time and decision time from the session time ``t0`` of sample 0 (as a
    chunk puts it): decided at sample ``dec``; a start back-dated to ``start``, an end
    at its decision. One expression for every event and for :meth:`retimed`, so that
    both give the same bits."""
    t_dec = float(t0 + dec / fs)
    t = t0 + start / fs if rising else t_dec
    return min(t, t_dec), t_dec


def notched_hum_note(events: Iterable[object]) -> str | None:
    """What a session's notched hum tells the clinician (the ``notched`` event of a chain
    that chose its notch), or None when there was none.

    >>> ev = Event(EventType.SIGNAL_QUALITY, 2.999, 2.999, "emg", 0.8, {"issue": "mains",
    ...            "state": "notched", "channel": None, "hz": 60.0, "notched": 60.0,
    ...            "configured": 50.0})
    >>> print(notched_hum_note([ev]))  # doctest: +NORMALIZE_WHITESPACE
    the EMG hummed at 60 Hz: notched at 60 Hz, not the configured 50
    (set chain.mains_hz = 60 for this place)
    """
    for e in events:
        if (isinstance(e, Event) and e.type == EventType.SIGNAL_QUALITY
                and e.detail.get("state") == "notched"):
            hz, was = hz_text(e.detail.get("hz")), hz_text(e.detail.get("configured"))
            return (f"the EMG hummed at {hz} Hz: notched at {hz} Hz, not the configured "
                    f"{was} (set chain.mains_hz = {hz} for this place)")
    return None


def hz_text(value: object) -> str:
    """A frequency from an event's detail as text (``60``; what a damaged or hand-edited
    recording holds there as it is, never a formatting error in a report)."""
    return f"{value:g}" if isinstance(value, int | float) else str(value)
