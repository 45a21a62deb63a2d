"""Moved to :mod:`isofeedback.research.replay`; kept so existing imports keep working."""

from isofeedback.research.replay import *  # noqa: F403
from isofeedback.research.replay import __all__  # noqa: F401
