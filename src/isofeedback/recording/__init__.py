"""Recordings: the native crash-safe format, import of foreign data and export.

Every live session is written by a :class:`Recorder`; :func:`isofeedback.research.replay.replay`
runs any recording (native ``.isorec``, CSV, EDF/BDF) through the real pipeline and can
check it reproduces the live run exactly.
"""

from isofeedback.recording.format import FORMAT_VERSION, SUFFIX
from isofeedback.recording.reader import RecordingReader, open_recording
from isofeedback.recording.writer import Recorder

__all__ = [
    "FORMAT_VERSION",
    "SUFFIX",
    "Recorder",
    "RecordingReader",
    "open_recording",
]
