"""What is wrong with the signal, in a patient's words: one table for every place that
says it (the terminal view's ``signal:`` line and the device quality message's ``words``,
which the page's signal light shows), so a phrase is written once."""

from __future__ import annotations

__all__ = ["signal_words"]

#: the detector's signal issues (``signal_quality`` events, the quality topic's
#: ``issues``) in a patient's words, read after "Signal poor: " (the page) or "signal: "
#: (the terminal), so no colon of their own; ``{on}`` names the channel where known
_SIGNAL_WORDS = {
    "flat": "no signal{on}, is the sensor on the skin?",
    "saturation": "too strong for the sensor{on}",
    "mains": "electrical hum, tell your clinician",
    "noisy": "the sensor is noisy, press it gently onto the skin",
}


def signal_words(issue: str, channel: object = None) -> str:
    """A signal issue in a patient's words (an issue without words: its name).

    >>> signal_words("flat", 2)
    'no signal on channel 2, is the sensor on the skin?'
    >>> signal_words("noisy")
    'the sensor is noisy, press it gently onto the skin'
    >>> signal_words("new{issue}", 1)
    'new{issue} on channel 1'
    """
    on = f" on channel {channel}" if channel is not None else ""
    words = _SIGNAL_WORDS.get(issue)
    return issue + on if words is None else words.format(on=on)
