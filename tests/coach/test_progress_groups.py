"""progress keeps PIR and MET (and muscles) apart, counts violations, gives units."""

from __future__ import annotations

from pathlib import Path

import pytest

from isofeedback.cli import main
from isofeedback.coach.calibration_store import PatientStore
from isofeedback.coach.progress import progress_report


def s(technique: str, muscle: str, rom: float, quality: float, *violations: str,
      variant: str = "post_isometric") -> dict[str, object]:
    return {"technique": technique, "variant": variant, "muscle": muscle, "side": "right",
            "rom_deg": rom, "hold_quality": quality, "violations": list(violations),
            "reps_done": 3, "reps_planned": 3, "complete": True}


def test_trends_never_mix_techniques_or_muscles() -> None:
    r = progress_report([
        s("pir", "hamstrings", 10.0, 0.50, "too_strong", "too_strong"),
        s("met", "hamstrings", 30.0, 0.90),
        s("pir", "hamstrings", 13.0, 0.75, "too_strong", "moved"),
        s("met", "hamstrings", 20.0, 0.60, variant="reciprocal_inhibition"),
    ])
    groups = {g["group"]: g for g in r["groups"]}
    assert set(groups) == {"PIR · hamstrings right", "MET · hamstrings right",
                           "MET (reciprocal inhibition) · hamstrings right"}
    pir = groups["PIR · hamstrings right"]
    assert (pir["sessions"], pir["rom_change_deg"], pir["hold_quality_change_pp"]) == (2, 3.0,
                                                                                        25.0)
    assert groups["MET · hamstrings right"]["rom_change_deg"] is None  # one session only
    assert r["violations"] == "too_strong ×3, moved ×1"
    assert r["history"][0]["violations_text"] == "too_strong ×2"
    # the top-level change is the latest session's group, not PIR 10° → RI 20°
    assert r["rom_change_deg"] is None


def test_progress_command_words_one_session_and_a_change_of_zero(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """"1 session" (not "1 sessions", and no "-°" change for the first), and a change that
    rounds to nothing reads "+0", never "-0 percentage points"."""
    store = PatientStore(tmp_path, "p-9")
    store.add_session({**s("pir", "wrist flexors", 12.6, 0.943), "wall": "2026-12-07T08:00"})
    assert main(["progress", "--patient", "p-9", "--data-dir", str(tmp_path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Progress of p-9: 1 session " in out and "1 sessions" not in out
    assert "-°" not in out and "no change to show yet" in out
    store.add_session({**s("pir", "wrist flexors", 12.58, 0.940), "wall": "2026-12-08T08:00"})
    assert main(["progress", "--patient", "p-9", "--data-dir", str(tmp_path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "2 sessions; ROM change since the first: +0.0°" in out, out
    assert "hold quality change: +0 percentage points" in out, out
