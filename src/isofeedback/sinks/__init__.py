"""Sinks: where events and feedback go (MQTT, terminal, recorder)."""
