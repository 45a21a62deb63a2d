"""isofeedback: live biofeedback for isometric muscle-balancing exercise."""

__version__ = "0.1.0"
__all__ = ["__version__"]
