"""Exercise coaching: protocol files and the pure coaching state machine."""
