"""A protocol-file test table: each invalid file gives one clear error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from isofeedback.coach.protocol import find_protocol, load_protocol, shipped_protocols
from isofeedback.errors import ConfigError

BASE = {
    "technique": '"met"', "variant": '"post_isometric"', "muscle": '"hamstrings"',
    "reps": "3", "intensity": "[60, 150]", "intensity_unit": '"%ref"',
    "mvc_capture": "false", "hold_s": "7.0", "relax_s": "3.0", "stretch_s": "20.0",
    "stretch_mode": '"chronic"',
}

# (changed keys, the key the error must name, words it must contain)
TABLE: list[tuple[dict[str, str], str, str]] = [
    ({"variant": '"reciprocal"'}, "exercise.variant", "must be one of"),
    ({"technique": '"pir"', "variant": '"reciprocal_inhibition"'}, "exercise.variant",
     "MET variant"),
    ({"variant": '"reciprocal_inhibition"'}, "exercise.antagonist", "antagonist muscle"),
    ({"variant": '"reciprocal_inhibition"', "antagonist": '"quadriceps"'},
     "exercise.antagonist_channels", "EMG channels"),
    ({"variant": '"reciprocal_inhibition"', "antagonist": '"quadriceps"',
      "channels": "[0]", "antagonist_channels": "[0]"}, "exercise.antagonist_channels",
     "must not share"),
    ({"channels": "[-1]"}, "exercise.channels[]", "at least 0"),
    ({"channels": "0"}, "exercise.channels", "list of channel numbers"),
    ({"stretch_mode": '"long"'}, "exercise.stretch_mode", "must be one of"),
    ({"stretch_s": "5.0"}, "exercise.stretch_s", "10–60 s"),
    ({"stretch_mode": '"acute"'}, "exercise.stretch_s", "takes up the slack"),
    ({"intensity": "[120, 150]"}, "exercise.intensity", "must hold 100"),
    ({"mvc_capture": "true"}, "exercise.mvc_capture", "no maximal contraction"),
    ({"intensity_unit": '"%max"'}, "exercise.intensity_unit", "expected '%ref'"),
    ({"pain_rule": '"ignore"'}, "exercise.pain_rule", "must be one of"),
    ({"pain_rule": '"antagonist"'}, "exercise.antagonist", "pain_rule 'antagonist'"),
    ({"intensity_unit": '"%MVC"', "intensity": "[20, 30]", "mvc_capture": "true",
      "pain_rule": '"antagonist"', "antagonist": '"quadriceps"',
      "antagonist_channels": "[1]"}, "exercise.pain_rule", "no maximal contraction"),
    ({"max_reps": "2"}, "exercise.max_reps", "at least reps"),
    ({"credit_in_band": "1.5"}, "exercise.credit_in_band", "at most 1"),
    ({"credit_in_band": "nan"}, "exercise.credit_in_band", "finite"),
    ({"rom_plateau_deg": "-1.0"}, "exercise.rom_plateau_deg", "at least 0"),
    ({"rom_plateau_reps": "0"}, "exercise.rom_plateau_reps", "at least 1"),
    ({"breathing": '"yes"'}, "exercise.breathing", "expected bool"),
    ({"repeat_broken": "1"}, "exercise.repeat_broken", "expected bool"),
    ({"setup": "3"}, "exercise.setup", "expected str"),
    ({"reference_s": "-3.0"}, "exercise.reference_s", "0 or more"),
    ({"relax_confirm_s": "inf"}, "exercise.relax_confirm_s", "time in seconds"),
    ({"hold_time": "7"}, "exercise.hold_time", "unknown key"),
    # progression across sessions: lengthen the hold, within limits
    ({"hold_step_s": "1.0"}, "exercise.hold_max_s", "set it"),
    ({"hold_step_s": "1.0", "hold_max_s": "5.0"}, "exercise.hold_max_s",
     "must not be shorter than hold_s"),
    ({"hold_step_s": "1.0", "hold_max_s": "40.0"}, "exercise.hold_max_s", "at most 30 s"),
    ({"hold_max_s": "10.0"}, "exercise.hold_step_s", "the step is 0"),
    ({"hold_step_s": "-1.0"}, "exercise.hold_step_s", "0 or more"),
    ({"hold_step_s": "true"}, "exercise.hold_step_s", "expected float"),
    ({"progress_after": "0"}, "exercise.progress_after", "at least 1"),
    ({"progress_after": "1.5"}, "exercise.progress_after", "expected int"),
    ({"progress_quality": "1.5"}, "exercise.progress_quality", "at most 1"),
    ({"regress_quality": "0.9"}, "exercise.regress_quality", "must be below progress_quality"),
    ({"progression": '"longer"'}, "exercise.progression", "unknown key"),
]


def write(tmp_path: Path, changes: dict[str, str]) -> Path:
    keys = {**BASE, **changes}
    path = tmp_path / "p.toml"
    path.write_text("[exercise]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()))
    return path


def test_the_base_file_is_valid(tmp_path: Path) -> None:
    p = load_protocol(write(tmp_path, {}))
    assert (p.technique, p.stretch_mode, p.intensity_unit) == ("met", "chronic", "%ref")


@pytest.mark.parametrize(("changes", "key", "words"), TABLE,
                         ids=[t[1] + ":" + t[2] for t in TABLE])
def test_each_invalid_file_names_its_key(tmp_path: Path, changes: dict[str, str], key: str,
                                         words: str) -> None:
    path = write(tmp_path, changes)
    with pytest.raises(ConfigError) as err:
        load_protocol(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {key}"), message
    assert words in message, message
    assert "\n" not in message  # one sentence, no traceback


def test_every_shipped_protocol_names_its_sources() -> None:
    for name, text in shipped_protocols().items():
        assert "Sources:" in text, name


def test_a_file_that_chooses_no_intensity_unit_asks_no_maximal_contraction(tmp_path: Path
                                                                          ) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[exercise]\ntechnique = "pir"\nmuscle = "upper trapezius"\n')
    p = load_protocol(path)
    assert (p.intensity_unit, p.mvc_capture) == ("%ref", False)
    assert (p.intensity_low, p.intensity_high) == (50.0, 140.0)


def test_the_set_up_follows_the_prescribed_side() -> None:
    """A prescription for the left leg: the set-up the patient hears names the left foot
    (the shipped text named the right one whatever the side)."""
    from dataclasses import replace as _replace

    from isofeedback.coach.machine import Coach

    for name in ("hamstrings-met", "hip-flexors-met", "upper-trapezius-pir"):
        for side, other in (("left", "right"), ("right", "left")):
            protocol = _replace(find_protocol(name), side=side)
            out = Coach(protocol).tick(0.01, 0.0, 0.0)
            [setup] = [o.payload["text"] for o in out
                       if o.kind == "cue" and o.payload["id"] == "setup"]
            assert "{" not in setup and f"{side} " in setup, (name, setup)
            if name == "hamstrings-met":
                assert f"around the {side} foot" in setup and other not in setup
