"""The per-patient store: calibration and session summaries, one JSON file per patient.

This is file I/O, used by commands at the edge (never by the pure coach). The folder is
created owner-only (0700) and every file owner-only (0600): EMG calibration and exercise
history are health data even under a pseudonym. Writes go to a temporary file renamed
over the old one, so a crash never leaves a half-written store.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from isofeedback.coach.calibration import Calibration
from isofeedback.errors import ConfigError

__all__ = ["DamagedStore", "PatientStore", "default_data_dir"]

STORE_VERSION = 1


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/isofeedback/patients`` (``~/.local/share/isofeedback/patients``):
    the one default of every command that stores or reads patients (run, demo, progress,
    report), so what ``run`` stores ``progress`` finds."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "isofeedback" / "patients"


class DamagedStore(ConfigError):
    """The store file is there and readable but its content is not a patient store (cut
    short, overwritten, edited by hand)."""


class PatientStore:
    """Calibration and session history of one pseudonymous patient."""

    def __init__(self, folder: Path, patient: str) -> None:
        if not patient or any(c in patient for c in "/\\") or patient.startswith("."):
            raise ConfigError(f"patient id {patient!r} cannot name a store file")
        self.folder = Path(folder)
        self.patient = patient
        self.path = self.folder / f"{patient}.json"

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"version": STORE_VERSION, "patient": self.patient, "sessions": []}
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read the patient store: {exc}") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DamagedStore(
                f"{self.path}: the patient store is corrupt ({exc}); move it away to start afresh"
            ) from None
        if not isinstance(doc, dict) or doc.get("version") != STORE_VERSION:
            raise DamagedStore(f"{self.path}: not a version {STORE_VERSION} patient store")
        if not isinstance(doc.get("sessions", []), list):
            raise DamagedStore(f"{self.path}: 'sessions' must be a list")
        doc.setdefault("sessions", [])
        return doc

    def set_aside_if_damaged(self) -> tuple[Path, str] | None:
        """A session must not be blocked by a damaged store (the patient cannot repair a
        file): rename it to ``<patient>.json.damaged-<UTC time>`` beside it — kept, for
        the clinician — so the session starts a new one. Returns (where it went, what was
        wrong), or None when the store is fine or absent. Unreadable (permissions) stays
        an error: renaming would not help and could hide it."""
        try:
            self._read()
            return None
        except DamagedStore as exc:
            why = str(exc).removeprefix(f"{self.path}: ")
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            raise ConfigError(f"{self.path}: the patient store is damaged ({why}) and cannot "
                              f"be set aside: {exc}") from None
        return aside, why

    def damaged_copies(self) -> list[Path]:
        """Stores set aside by :meth:`set_aside_if_damaged`, oldest first."""
        return sorted(self.folder.glob(f"{self.path.name}.damaged-*"))

    def _write(self, doc: dict[str, Any]) -> None:
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.folder, 0o700)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{self.patient}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(doc, f, indent=1, sort_keys=True)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o600)
                os.replace(tmp, self.path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write the patient store: {exc}") from None

    def calibration(self) -> Calibration | None:
        """The stored calibration, or ``None`` when there is none yet."""
        raw = self._read().get("calibration")
        return None if raw is None else Calibration.from_dict(raw, f"{self.path}: calibration")

    def save_calibration(self, cal: Calibration) -> None:
        doc = self._read()
        doc["calibration"] = cal.as_dict()
        self._write(doc)

    def prescription_doc(self) -> dict[str, Any] | None:
        """The clinician's last accepted prescription as received (the JSON document, so
        it is validated again with today's protocols when used), or ``None``. Stores
        written before prescriptions existed simply have none."""
        raw = self._read().get("prescription")
        return raw if isinstance(raw, dict) else None

    def save_prescription(self, doc: Mapping[str, Any]) -> None:
        """Keep a validated prescription document for the next sessions."""
        stored = self._read()
        stored["prescription"] = dict(doc)
        self._write(stored)

    def sessions(self) -> list[dict[str, Any]]:
        """Earlier session summaries, oldest first."""
        return [s for s in self._read()["sessions"] if isinstance(s, dict)]

    def add_session(self, summary: Mapping[str, Any]) -> None:
        doc = self._read()
        doc["sessions"].append(dict(summary))
        self._write(doc)
