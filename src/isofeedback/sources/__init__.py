"""Packet sources: BLE, recording replay and the simulated patient, interchangeable."""

from isofeedback.sources.base import PacketSource

__all__ = ["PacketSource"]
