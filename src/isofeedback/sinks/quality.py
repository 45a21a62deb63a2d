"""Signal quality per device for the ``device/<device>/quality`` topic.

The pipeline already says what goes wrong with the signal, as events: ``signal_quality``
(a flat channel — electrode off — or a saturated one, each with its start and end) and
``gap`` (samples lost on the link). This sink turns them into the retained quality message
a page's signal light and a home dashboard read: at once when an issue starts or ends, and
every ``interval_s`` of session time with the fraction of signal lost in that interval.
"""

from __future__ import annotations

from collections.abc import Callable

from isofeedback.sinks.messages import MqttMessage, Serializer
from isofeedback.types import Event, EventType, Feedback

__all__ = ["OK_LOSS", "QualityReporter"]

#: Losing less than this fraction of the signal still counts as a good link (a dropped
#: notification now and then does not change the feedback).
OK_LOSS = 0.05


class QualityReporter:
    """An output sink: ``send`` gets each quality message for ``device``.

    >>> from isofeedback.sinks.messages import Serializer
    >>> sent = []
    >>> q = QualityReporter(Serializer("p1", "s1", 0.0), "arm", sent.append, interval_s=5.0)
    >>> q.submit(Event(EventType.SIGNAL_QUALITY, 1.0, 1.2, "arm", 0.0,
    ...                {"issue": "flat", "state": "start", "channel": 2}))
    >>> q.submit(Event(EventType.GAP, 4.0, 4.0, "arm", 0.5, {"stream": "emg"}))
    >>> q.submit(Feedback("level", 5.1, {}))
    >>> import json
    >>> [(d["ok"], d["issues"], d["packet_loss"]) for d in
    ...  (json.loads(m.payload) for m in sent)]
    [(False, ['flat'], None), (False, ['flat'], 0.1)]
    """

    def __init__(self, serializer: Serializer, device: str,
                 send: Callable[[MqttMessage], None], interval_s: float = 5.0) -> None:
        self.serializer = serializer
        self.device = device
        self.send = send
        self.interval_s = interval_s
        self._active: set[tuple[str, object]] = set()  # (issue, channel)
        self._lost_s = 0.0
        self._next_t = interval_s

    @property
    def issues(self) -> tuple[str, ...]:
        return tuple(sorted({issue for issue, _ in self._active}))

    def submit(self, item: Event | Feedback) -> None:
        t = item.t_decided if isinstance(item, Event) else item.t
        if isinstance(item, Event):
            # quality events are about the session's EMG, which this device carries
            if item.type == EventType.SIGNAL_QUALITY:
                key = (str(item.detail.get("issue")), item.detail.get("channel"))
                before = self.issues
                if item.detail.get("state") == "start":
                    self._active.add(key)
                else:
                    self._active.discard(key)
                if self.issues != before:
                    self._publish(t, None)
            elif (item.type == EventType.GAP and item.source == self.device
                  and item.detail.get("stream") == "emg"):
                self._lost_s += float(item.value or 0.0)
        if t >= self._next_t:
            loss = min(self._lost_s / self.interval_s, 1.0)
            self._publish(t, loss)
            self._lost_s = 0.0
            while self._next_t <= t:
                self._next_t += self.interval_s

    def _publish(self, t: float, loss: float | None) -> None:
        ok = not self._active and (loss or 0.0) < OK_LOSS
        self.send(self.serializer.device_quality(
            self.device, t, ok=ok, packet_loss=loss, issues=self.issues))
