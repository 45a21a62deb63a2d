"""progress keeps PIR and MET (and muscles) apart, counts violations, gives units."""

from __future__ import annotations

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
