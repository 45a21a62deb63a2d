"""Causal detectors: one per module, pure, explicit state."""
