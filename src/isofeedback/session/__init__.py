"""Live sessions: a plan (what the session is made of) and ``open_session`` (wiring and
the one stop path). Every command that runs a session builds a plan and calls it."""

from isofeedback.session.plan import RecordingPlan, SessionPlan, SourceContext, StorePlan
from isofeedback.session.runner import SessionOutcome, new_session_id, open_session

__all__ = [
    "RecordingPlan",
    "SessionOutcome",
    "SessionPlan",
    "SourceContext",
    "StorePlan",
    "new_session_id",
    "open_session",
]
