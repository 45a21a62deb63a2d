"""The per-patient store as the commands use it: reuse a calibration, keep the results.

Shared by ``demo`` (opt-in with ``--data-dir``) and ``run`` (on by default), so a live
patient is calibrated once and sees progress across sessions.
"""

from __future__ import annotations

import time

from rich.console import Console

from isofeedback.coach.calibration import Calibration, stale_reason
from isofeedback.coach.calibration_store import PatientStore, default_data_dir
from isofeedback.coach.prescription import parse_prescription
from isofeedback.coach.protocol import ExerciseProtocol
from isofeedback.errors import ConfigError
from isofeedback.pipeline import Pipeline

__all__ = ["default_data_dir", "prescribed_protocol", "reusable_calibration", "save_session"]


def prescribed_protocol(store: PatientStore, console: Console) -> ExerciseProtocol | None:
    """The protocol of the clinician's stored prescription (validated again), or None when
    there is none; a stored one that no longer validates is told and not used, so the
    configured protocol runs instead of the service stopping."""
    doc = store.prescription_doc()
    if doc is None:
        return None
    try:
        rx = parse_prescription(doc, f"{store.path}: prescription")
    except ConfigError as exc:
        console.print(f"[red]stored prescription not used: {exc}[/]")
        return None
    console.print(f"prescribed protocol: {rx.protocol_name} ({rx.times_per_day} a day from "
                  f"{rx.start.isoformat()})")
    return rx.protocol


def reusable_calibration(store: PatientStore, profile: str, device: str,
                         console: Console) -> Calibration | None:
    """The stored calibration if it still fits this device and is fresh, else None (and
    the reason is told, so the patient knows why the MVC is asked again)."""
    calibration = store.calibration()
    if calibration is None:
        return None
    reason = stale_reason(calibration, now=time.time(), profile=profile, device=device)
    if reason:
        console.print(f"stored calibration not reused: {reason}")
        return None
    return calibration


def save_session(store: PatientStore, pipeline: Pipeline, used: Calibration | None,
                 profile: str, device: str, session_id: str, wall_start: str) -> None:
    """Keep a newly measured calibration and the session summary for next time."""
    coach = pipeline.coach
    if coach.noise is not None and coach.baseline is not None and (
        coach.mvc_source == "captured" or used is None
    ):
        mvc = coach.mvc if coach.mvc_source == "captured" else None
        neutral = used.neutral_gravity if used is not None else None
        store.save_calibration(Calibration(
            profile=profile, device=device, created=time.time(),
            rest_baseline=coach.baseline, rest_noise=coach.noise, mvc=mvc,
            neutral_gravity=neutral or pipeline.neutral_gravity))
    store.add_session({**coach.summary(), "session": session_id, "wall": wall_start})
