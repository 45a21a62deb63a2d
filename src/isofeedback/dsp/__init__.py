"""Stateful causal signal chains: filters, envelopes, IMU orientation."""
