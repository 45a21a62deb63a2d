"""The project's error types.

One root, :class:`IsofeedbackError`, so the CLI can turn every expected failure into one
clear line for the user instead of a traceback. Messages say what is wrong *and* what to do.
"""

from __future__ import annotations

__all__ = [
    "BrokerError",
    "ConfigError",
    "DeviceError",
    "IsofeedbackError",
    "NoSampleRateError",
    "PacketError",
    "ProfileError",
    "RecordingError",
]


class IsofeedbackError(Exception):
    """Root of every error isofeedback raises on purpose."""


class ConfigError(IsofeedbackError):
    """A configuration value, protocol file or command-line option is invalid."""


class ProfileError(ConfigError):
    """A firmware profile is missing, unreadable or does not validate."""


class PacketError(IsofeedbackError):
    """One packet from a device could not be decoded (the session goes on)."""


class RecordingError(IsofeedbackError):
    """A recording is missing, truncated, corrupt or of an unsupported version."""


class NoSampleRateError(RecordingError):
    """A file of samples that does not say its sample rate (no time column, no rate line):
    the caller must give it. Its own class so that a reader of many files can give a
    default rate to these files only, and to no file whose own rate it would contradict."""


class DeviceError(IsofeedbackError):
    """A BLE device could not be found, connected or configured."""


class BrokerError(IsofeedbackError):
    """The MQTT broker could not be reached or refused the connection."""
