"""Provisional onsets: an activation shorter than a contraction is retracted.

A contraction in isometric exercise lasts seconds; a 60–140 ms twitch, a heartbeat's QRS
complex or a tap on an electrode does not, but a detector that decides onsets in tens of
milliseconds cannot tell them apart at the onset. So the onset is reported at once
(the live feedback needs it) and, once its release shows the activation lasted less than
``min_s`` (back-dated onset to back-dated release), a ``retracted`` event follows the
release. It carries the onset's back-dated time (``t``, equal to the onset's, bit for bit)
and decision time (``detail.onset_decided``): a researcher who wants confirmed contractions
only drops every onset/release pair a ``retracted`` event names (on MQTT and in
``replay --events`` files it also names the onset's ``seq``: :class:`OnsetNames`,
docs/mqtt.md).

The alternative, a confirmation delay (report an onset only once it has lasted
``min_s``), gives the same confirmed set but every onset ``min_s`` late: measured in
docs/detection.md (*False onsets*).
"""

from __future__ import annotations

from collections.abc import Sequence

from isofeedback.types import Event, EventType

__all__ = ["OnsetNames", "Retraction", "confirmed", "confirmed_refined", "refined"]


#: the events that name an onset, and the field that carries its number
_NAMES_ONSET = {EventType.RETRACTED: "retracts", EventType.ONSET_REFINED: "refines"}


class OnsetNames:
    """Which earlier onset a ``retracted`` or ``onset_refined`` event is about, by the
    onset's number in a numbered stream (MQTT's ``seq``, an events file's line): a
    subscriber then drops or re-times that onset by its number, with no float matching.

    >>> names = OnsetNames()
    >>> names.named(Event(EventType.ONSET, 1.0, 1.05, "emg"), 7) is None
    True
    >>> names.named(Event(EventType.RETRACTED, 1.0, 1.4, "emg", None,
    ...                   {"onset_decided": 1.05}), 9)
    ('retracts', 7)
    """

    def __init__(self) -> None:
        self._onsets: dict[str, tuple[float, float | None, int]] = {}

    def named(self, event: Event, seq: int) -> tuple[str, int] | None:
        """``event``, numbered ``seq``: for an onset, remember it and return None; for an
        event that names one, ``(field, that onset's number)``; else None."""
        if event.type == EventType.ONSET:
            self._onsets[event.source] = (event.t, event.t_decided, seq)
            return None
        field = _NAMES_ONSET.get(event.type)
        last = self._onsets.get(event.source)
        if field is None or last is None:
            return None
        about = ((event.detail.get("onset_t"), event.detail.get("onset_decided"))
                 if event.type == EventType.ONSET_REFINED
                 else (event.t, event.detail.get("onset_decided")))
        return (field, last[2]) if last[:2] == about else None


class Retraction:
    """Follows onset/release events; ``process`` returns them with a ``retracted`` event
    after each release that ends an activation shorter than ``min_s`` (0 = never).

    >>> r = Retraction(0.5)
    >>> on = Event(EventType.ONSET, 1.0, 1.05, "emg")
    >>> off = Event(EventType.RELEASE, 1.2, 1.4, "emg")
    >>> [e.type.value for e in r.process([on, off])]
    ['onset', 'release', 'retracted']
    >>> r.process([Event(EventType.ONSET, 3.0, 3.05, "emg"),
    ...            Event(EventType.RELEASE, 5.0, 5.2, "emg")])[-1].type.value
    'release'
    """

    def __init__(self, min_s: float) -> None:
        if not min_s >= 0.0:
            raise ValueError("min_s must be a number of seconds, 0 or more")
        self.min_s = min_s
        self._reset()

    def _reset(self) -> None:
        self._open: Event | None = None  # the onset of the current activation

    def brief(self, onset_t: float, release_t: float) -> bool:
        """Whether an activation from ``onset_t`` to ``release_t`` (back-dated) is
        retracted."""
        return self.min_s > 0 and release_t - onset_t < self.min_s

    def process(self, events: Sequence[Event]) -> list[Event]:
        out: list[Event] = []
        for e in events:
            out.append(e)
            if e.type == EventType.ONSET:
                self._open = e
            elif e.type == EventType.RELEASE and self._open is not None:
                onset, self._open = self._open, None
                if self.brief(onset.t, e.t):
                    out.append(Event(EventType.RETRACTED, onset.t, e.t_decided, e.source,
                                     None, {"onset_decided": onset.t_decided,
                                            "duration_s": e.t - onset.t}))
        return out


def confirmed(events: Sequence[Event]) -> list[Event]:
    """The onsets and releases of confirmed contractions: every onset a ``retracted``
    event names (same back-dated time, same decision time) is dropped with its release.

    >>> on = Event(EventType.ONSET, 1.0, 1.05, "emg")
    >>> off = Event(EventType.RELEASE, 1.2, 1.4, "emg")
    >>> back = Event(EventType.RETRACTED, 1.0, 1.4, "emg", None, {"onset_decided": 1.05})
    >>> keep = Event(EventType.ONSET, 3.0, 3.05, "emg")
    >>> [(e.type.value, e.t) for e in confirmed([on, off, back, keep])]
    [('onset', 3.0)]
    """
    gone = {(e.t, e.detail.get("onset_decided")) for e in events
            if e.type == EventType.RETRACTED}
    out: list[Event] = []
    dropping = False
    for e in events:
        if e.type == EventType.ONSET:
            dropping = (e.t, e.t_decided) in gone
        elif e.type == EventType.RETRACTED:
            continue
        if not dropping:
            out.append(e)
        if e.type == EventType.RELEASE:
            dropping = False
    return out


def refined(events: Sequence[Event]) -> list[Event]:
    """``events`` with each onset at its refined time (an ``onset_refined`` event names it
    by its time and decision time; the decision time is kept: it is when the live
    feedback knew), and without the ``onset_refined`` events.

    >>> on = Event(EventType.ONSET, 1.0, 1.05, "emg")
    >>> better = Event(EventType.ONSET_REFINED, 0.98, 1.35, "emg", None,
    ...                {"onset_t": 1.0, "onset_decided": 1.05})
    >>> [(e.type.value, e.t, e.t_decided) for e in refined([on, better])]
    [('onset', 0.98, 1.05)]
    """
    better = {(e.detail.get("onset_t"), e.detail.get("onset_decided")): e.t for e in events
              if e.type == EventType.ONSET_REFINED}
    out: list[Event] = []
    for e in events:
        if e.type == EventType.ONSET_REFINED:
            continue
        t = better.get((e.t, e.t_decided)) if e.type == EventType.ONSET else None
        out.append(e if t is None else Event(e.type, t, e.t_decided, e.source, e.value,
                                             e.detail))
    return out


def confirmed_refined(events: Sequence[Event]) -> list[Event]:
    """What a researcher scores: the confirmed contractions (:func:`confirmed`), each onset
    at its refined time (:func:`refined`)."""
    return refined(confirmed(events))
