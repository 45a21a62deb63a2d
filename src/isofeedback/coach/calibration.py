"""A patient's calibration: rest level, MVC, and the checks that say when to redo it.

Pure values and rules; the file that keeps them is :mod:`calibration_store`. A stored
calibration saves the patient the maximal contraction at every session, but it is only
reused when it still fits: same firmware profile and device, not older than
``max_age_days``, an MVC clearly above rest, and today's resting noise close to the stored
one (electrodes in another place, or another skin contact, change both).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from isofeedback.errors import ConfigError

__all__ = [
    "MAX_AGE_DAYS",
    "MVC_MIN_X_REST",
    "REST_NOISE_RATIO",
    "Calibration",
    "mvc_problem",
    "rest_problem",
    "stale_reason",
]

MAX_AGE_DAYS = 14.0
MVC_MIN_X_REST = 10.0  # an MVC must be at least this many rest-noise units above rest
REST_NOISE_RATIO = 2.0  # today's rest noise within [1/r, r] x the stored one


def _vector(value: Any) -> tuple[float, float, float] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise ValueError(f"neutral_gravity must be 3 numbers, got {value!r}")
    x, y, z = (float(v) for v in value)
    return (x, y, z)


@dataclass(frozen=True, slots=True)
class Calibration:
    """Envelope statistics of one patient with one device, in the device's EMG units.

    ``rest_baseline`` and ``rest_noise`` are the resting envelope's median and robust
    spread; ``mvc`` is the activity (above rest) of a maximal voluntary contraction, or
    ``None`` when none was captured. ``created`` is a Unix time (wall clock, set at the
    edge by the command that saves it)."""

    profile: str
    device: str
    created: float
    rest_baseline: float
    rest_noise: float
    mvc: float | None = None
    version: int = 1
    # gravity direction (sensor frame) at rest in the first session: the neutral pose that
    # range of motion is measured from, across sessions (None: no accelerometer)
    neutral_gravity: tuple[float, float, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "calibration") -> Calibration:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
        try:
            cal = cls(
                profile=str(data["profile"]),
                device=str(data["device"]),
                created=float(data["created"]),
                rest_baseline=float(data["rest_baseline"]),
                rest_noise=float(data["rest_noise"]),
                mvc=None if data.get("mvc") is None else float(data["mvc"]),
                version=int(data.get("version", 1)),
                neutral_gravity=_vector(data.get("neutral_gravity")),
            )
        except KeyError as exc:
            raise ConfigError(f"{where}: missing {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: bad value: {exc}") from None
        if cal.version != 1:
            raise ConfigError(f"{where}: version {cal.version} is not supported (expected 1)")
        return cal


def stale_reason(
    cal: Calibration, *, now: float, profile: str, device: str, max_age_days: float = MAX_AGE_DAYS
) -> str | None:
    """Why ``cal`` must not be reused for a session with ``profile``/``device`` at ``now``
    (Unix time), or ``None`` when it may be.

    >>> c = Calibration("myo", "sim", created=0.0, rest_baseline=1.0, rest_noise=0.1, mvc=20.0)
    >>> stale_reason(c, now=86400.0, profile="myo", device="sim") is None
    True
    >>> stale_reason(c, now=20 * 86400.0, profile="myo", device="sim")
    'calibration is 20.0 days old (limit 14 days)'
    """
    if cal.profile != profile:
        return f"calibration was made with profile {cal.profile!r}, this session uses {profile!r}"
    if cal.device != device:
        return f"calibration was made with device {cal.device!r}, this session uses {device!r}"
    age = (now - cal.created) / 86400.0
    if age < -1.0 / 24:
        return "calibration is dated in the future (check the computer's clock)"
    if age > max_age_days:
        return f"calibration is {age:.1f} days old (limit {max_age_days:g} days)"
    if cal.mvc is not None and mvc_problem(cal.mvc, cal.rest_noise) is not None:
        return mvc_problem(cal.mvc, cal.rest_noise)
    return None


def mvc_problem(mvc: float, rest_noise: float) -> str | None:
    """Why an MVC is implausible (not clearly above rest), or ``None``.

    >>> mvc_problem(3.0, 1.0)
    'MVC 3 is only 3.0x the resting noise (need at least 10x)'
    """
    ratio = mvc / rest_noise if rest_noise > 0 else 0.0
    if ratio < MVC_MIN_X_REST:
        return (
            f"MVC {mvc:.3g} is only {ratio:.1f}x the resting noise "
            f"(need at least {MVC_MIN_X_REST:g}x)"
        )
    return None


def rest_problem(stored_noise: float, measured_noise: float) -> str | None:
    """Why today's resting noise does not fit the stored calibration, or ``None``.

    >>> rest_problem(1.0, 1.5) is None, rest_problem(1.0, 3.0)
    (True, 'resting noise 3x the stored one (electrodes moved or poor contact?)')
    """
    if stored_noise <= 0 or measured_noise <= 0:
        return "resting noise is zero (no signal?)"
    r = measured_noise / stored_noise
    if r > REST_NOISE_RATIO or r < 1.0 / REST_NOISE_RATIO:
        return f"resting noise {r:.2g}x the stored one (electrodes moved or poor contact?)"
    return None
