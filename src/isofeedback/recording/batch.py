"""Moved to :mod:`isofeedback.research.batch`; kept so existing imports keep working."""

from isofeedback.research.batch import *  # noqa: F403
from isofeedback.research.batch import __all__  # noqa: F401
