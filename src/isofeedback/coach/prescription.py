"""A clinician's prescription: which protocol, adapted to this patient, how often.

A prescription is a TOML file (or the same document as JSON, as it arrives retained on
``isofeedback/<patient>/prescription``):

    [prescription]
    patient = "p-17"
    protocol = "hamstrings-met"      # a shipped protocol or a path
    times_per_day = 2                # home programmes: 2-3 times a day
    days = 14
    start = "2026-12-07"
    reminders = ["08:00", "18:00"]   # local times, one per session of the day

    [patient]                        # the protocol's keys this patient differs in
    side = "left"
    hold_s = 5.0

Validated before use with the protocol's own checks (every error names the key), so a
prescription that would make an invalid protocol is refused as a whole.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isofeedback.checks import integer, of_type
from isofeedback.coach.protocol import FIELDS, ExerciseProtocol, find_protocol, parse_protocol
from isofeedback.errors import ConfigError
from isofeedback.tomlfile import read_toml

__all__ = ["APPLIES", "Prescription", "adherence", "load_prescription", "next_reminder",
           "parse_prescription", "prescription_message", "schedule_status", "session_day"]

#: What every acknowledgement says: a prescription never changes a session under way.
APPLIES = "stored; applies from the next session"

_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_PATIENT_KEYS = frozenset({"side", "reps", "max_reps", "intensity", "hold_s", "relax_s",
                           "stretch_s", "stretch_mode", "pain_rule", "setup", "breathing",
                           "repeat_broken", "hold_step_s", "hold_max_s", "progress_after"})


@dataclass(frozen=True)
class Prescription:
    patient: str
    protocol_name: str
    protocol: ExerciseProtocol
    times_per_day: int
    days: int
    start: dt.date
    reminders: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"patient": self.patient, "protocol": self.protocol_name,
                "times_per_day": self.times_per_day, "days": self.days,
                "start": self.start.isoformat(), "reminders": list(self.reminders)}

    def due(self, day: dt.date) -> list[dt.datetime]:
        """The reminder times of ``day`` (none outside the prescription's days)."""
        if not self.start <= day < self.start + dt.timedelta(days=self.days):
            return []
        return [dt.datetime.combine(day, dt.time.fromisoformat(r)) for r in self.reminders]


def parse_prescription(doc: Mapping[str, Any], where: str) -> Prescription:
    """Validate a prescription document (parsed TOML or JSON)."""
    extra = set(doc) - {"prescription", "patient"}
    if extra:
        raise ConfigError(f"{where}: unknown tables {sorted(extra)} (allowed: prescription, "
                          "patient)")
    rx = doc.get("prescription")
    if not isinstance(rx, Mapping):
        raise ConfigError(f"{where}: missing [prescription] table")
    known = {"patient", "protocol", "times_per_day", "days", "start", "reminders"}
    unknown = set(rx) - known
    if unknown:
        raise ConfigError(f"{where}: prescription.{sorted(unknown)[0]}: unknown key (allowed: "
                          f"{', '.join(sorted(known))})")
    patient = of_type(rx.get("patient"), "prescription.patient", str, where=where)
    name = of_type(rx.get("protocol"), "prescription.protocol", str, where=where)
    times = integer(rx.get("times_per_day", 2), "prescription.times_per_day", low=1, high=6,
                    where=where)
    days = integer(rx.get("days", 14), "prescription.days", low=1, high=365, where=where)
    start_raw = rx.get("start")
    try:
        start = (start_raw if isinstance(start_raw, dt.date)
                 else dt.date.fromisoformat(of_type(start_raw, "prescription.start", str,
                                                    where=where)))
    except ValueError:
        raise ConfigError(f"{where}: prescription.start must be a date like 2026-12-07, got "
                          f"{start_raw!r}") from None
    reminders = rx.get("reminders", [])
    if not isinstance(reminders, Sequence) or isinstance(reminders, str) or not all(
            isinstance(r, str) and _TIME.match(r) for r in reminders):
        raise ConfigError(f"{where}: prescription.reminders must be a list of times like "
                          f"\"08:00\", got {reminders!r}")
    if len(reminders) not in (0, times):
        raise ConfigError(f"{where}: prescription.reminders: {len(reminders)} times for "
                          f"times_per_day = {times} (give one per session, or none)")
    base = find_protocol(name)
    overrides = doc.get("patient", {})
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{where}: [patient] must be a table of protocol keys")
    bad = set(overrides) - _PATIENT_KEYS
    if bad:
        raise ConfigError(f"{where}: patient.{sorted(bad)[0]}: not a key a prescription may "
                          f"adapt (allowed: {', '.join(sorted(_PATIENT_KEYS))})")
    exercise = {k: v for k, v in dataclasses.asdict(base).items() if k in FIELDS}
    exercise["intensity"] = [exercise.pop("intensity_low"), exercise.pop("intensity_high")]
    exercise["channels"] = list(exercise["channels"])
    exercise["antagonist_channels"] = list(exercise["antagonist_channels"])
    exercise.update(overrides)
    try:
        protocol = parse_protocol({"exercise": exercise, "cues": dict(base.cues)}, where)
    except ConfigError as exc:  # name the prescription's key, not the protocol's
        raise ConfigError(str(exc).replace(f"{where}: exercise.", f"{where}: patient.")
                          ) from None
    return Prescription(patient, name, protocol, times, days, start, tuple(reminders))


def prescription_message(payload: bytes, patient: str) -> tuple[Prescription | None,
                                                                  dict[str, Any]]:
    """A prescription received on ``isofeedback/<patient>/prescription`` (retained, JSON)
    and the acknowledgement to publish: ``{"accepted": true, "prescription": {...}}`` or
    ``{"accepted": false, "reason": "<one sentence>"}``. Nothing is used unless valid, and
    a prescription for another patient is refused."""
    where = f"prescription for {patient}"
    try:
        doc = json.loads(payload.decode("utf-8"))
        if not isinstance(doc, dict):
            raise ConfigError(f"{where}: expected a JSON object")
        rx = parse_prescription(doc, where)
        if rx.patient != patient:
            raise ConfigError(f"{where}: prescription.patient is {rx.patient!r}, not this "
                              "patient's")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, {"accepted": False, "reason": f"{where}: not JSON ({exc})"}
    except ConfigError as exc:
        return None, {"accepted": False, "reason": str(exc)}
    return rx, {"accepted": True, "prescription": rx.as_dict(), "reason": APPLIES}


def load_prescription(path: Path) -> Prescription:
    return parse_prescription(read_toml(path, "prescription"), str(path))


def adherence(rx: Prescription, session_days: Sequence[dt.date], today: dt.date
              ) -> dict[str, Any]:
    """Sessions done against sessions prescribed, from the start to ``today`` (inclusive,
    within the prescription's days), overall and per day."""
    last = min(today, rx.start + dt.timedelta(days=rx.days - 1))
    span = [rx.start + dt.timedelta(days=k) for k in range((last - rx.start).days + 1)]
    per_day = {d.isoformat(): sum(1 for s in session_days if s == d) for d in span}
    due = rx.times_per_day * len(span)
    done = sum(min(n, rx.times_per_day) for n in per_day.values())
    return {"due": due, "done": done, "rate": round(done / due, 3) if due else None,
            "per_day": per_day, "times_per_day": rx.times_per_day}


def exercised_days(sessions: Sequence[Mapping[str, Any]]) -> list[dt.date]:
    """The days of the sessions that count for adherence: at least one repetition done. A
    session stopped before its first repetition (the gateway shut down, the patient gave
    up during the rest measurement) is no exercise, and counted as done it showed a
    clinician 100 % adherence for none.

    >>> exercised_days([{"wall": "2026-12-01T08:00:00", "reps_done": 3},
    ...                 {"wall": "2026-12-02T08:00:00", "reps_done": 0}])
    [datetime.date(2026, 12, 1)]
    """
    days = [session_day(s.get("wall")) for s in sessions if int(s.get("reps_done") or 0) > 0]
    return [d for d in days if d is not None]


def session_day(wall: Any) -> dt.date | None:
    """The day of a stored session summary's ``wall`` (ISO 8601), ``None`` if unreadable."""
    try:
        return dt.date.fromisoformat(str(wall)[:10])
    except ValueError:
        return None


def next_reminder(rx: Prescription, after: dt.datetime) -> dt.datetime | None:
    """The first reminder strictly after ``after`` (same naive local clock as the
    prescription's times), or ``None`` when the prescription has no reminders or has
    ended. Pure, so the service's loop and the tests share it."""
    day = max(after.date(), rx.start)
    end = rx.start + dt.timedelta(days=rx.days)
    while day < end:
        later = [t for t in rx.due(day) if t > after]
        if later:
            return min(later)
        day += dt.timedelta(days=1)
    return None


def schedule_status(rx: Prescription, session_days: Sequence[dt.date], now: dt.datetime
                    ) -> dict[str, Any]:
    """What the patient's page shows: the next reminder, today's sessions done and due,
    and adherence so far (the body of the retained ``schedule`` message)."""
    today = now.date()
    due_today = rx.times_per_day if rx.start <= today < rx.start + dt.timedelta(
        days=rx.days) else 0
    nxt = next_reminder(rx, now)
    adh = adherence(rx, session_days, today) if today >= rx.start else None
    return {"protocol": rx.protocol_name,
            "next_reminder": nxt.isoformat(timespec="minutes") if nxt else None,
            "done_today": sum(1 for d in session_days if d == today),
            "due_today": due_today,
            "adherence": adh["rate"] if adh else None,
            "start": rx.start.isoformat(), "days": rx.days}
