"""isofeedback."""
