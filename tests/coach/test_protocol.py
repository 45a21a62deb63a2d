"""Protocol files: shipped ones load; every bad file or impossible setting gets a precise error."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from isofeedback.coach.machine import Coach
from isofeedback.coach.protocol import (
    CUE_IDS,
    PAGE_CUE_IDS,
    available_locales,
    find_protocol,
    load_cues,
    load_protocol,
)
from isofeedback.errors import ConfigError

GOOD = """
[exercise]
technique = "pir"
reps = 3
intensity = [10, 25]
intensity_unit = "%MVC"
hold_s = 7.0
relax_s = 5.0
stretch_s = 4.0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def bad(tmp_path: Path, replace: tuple[str, str] | None = None, extra: str = "") -> str:
    text = GOOD if replace is None else GOOD.replace(*replace)
    assert replace is None or replace[0] in GOOD
    with pytest.raises(ConfigError) as err:
        load_protocol(write(tmp_path, text + extra))
    return str(err.value)


def test_shipped_protocols_load_with_their_bands() -> None:
    pir, met = find_protocol("pir"), find_protocol("met")
    # the default is the gentle reference contraction: no maximal effort is asked
    assert (pir.intensity_unit, pir.mvc_capture, pir.intensity_low, pir.intensity_high) == (
        "%ref", False, 50.0, 140.0)
    assert (met.intensity_unit, met.mvc_capture, met.intensity_low, met.intensity_high) == (
        "%ref", False, 60.0, 150.0)
    assert pir.muscle and pir.side == "right" and pir.locale == "en"
    # MVC only where the clinician enables it, explicitly
    pir_mvc, met_mvc = find_protocol("pir-mvc"), find_protocol("met-mvc")
    assert (pir_mvc.intensity_unit, pir_mvc.mvc_capture, pir_mvc.intensity_low,
            pir_mvc.intensity_high) == ("%MVC", True, 10.0, 25.0)
    assert (met_mvc.intensity_unit, met_mvc.mvc_capture, met_mvc.intensity_low,
            met_mvc.intensity_high) == ("%MVC", True, 20.0, 30.0)


def test_every_cue_id_the_coach_uses_has_a_text_in_every_locale() -> None:
    source = (Path(__file__).parents[2] / "src/isofeedback/coach/machine.py").read_text()
    for locale in available_locales():
        cues = load_cues(locale)
        assert set(cues) == CUE_IDS, locale
        assert all(text.strip() for text in cues.values())
    page = (Path(__file__).parents[2] / "src/isofeedback/web/static/app.js").read_text()
    for cue_id in CUE_IDS - PAGE_CUE_IDS:
        assert f'"{cue_id}"' in source, f"cue {cue_id} is never emitted"
    for cue_id in PAGE_CUE_IDS:
        assert f".{cue_id}" in page, f"cue {cue_id} is never shown by the page"


def test_good_file_loads(tmp_path: Path) -> None:
    p = load_protocol(write(tmp_path, GOOD))
    assert p.hold_s == 7.0 and p.cue("release") == load_cues("en")["release"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="protocol file not found"):
        load_protocol(tmp_path / "nope.toml")


def test_not_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_protocol(write(tmp_path, "[exercise\nreps = 3"))


def test_missing_exercise_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing \[exercise\] table"):
        load_protocol(write(tmp_path, "[cues]\n"))


def test_unknown_key(tmp_path: Path) -> None:
    assert "exercise.hold_time: unknown key" in bad(tmp_path, extra="hold_time = 3\n")


def test_wrong_type(tmp_path: Path) -> None:
    assert "exercise.reps: expected int, got '3'" in bad(tmp_path, ("reps = 3", 'reps = "3"'))


def test_negative_time(tmp_path: Path) -> None:
    msg = bad(tmp_path, ("relax_s = 5.0", "relax_s = -1.0"))
    assert "exercise.relax_s: must be a time in seconds, 0 or more, got -1.0" in msg


def test_zero_hold(tmp_path: Path) -> None:
    msg = bad(tmp_path, ("hold_s = 7.0", "hold_s = 0"))
    assert "exercise.hold_s: must be positive, got 0.0" in msg


def test_hold_longer_than_session(tmp_path: Path) -> None:
    msg = bad(tmp_path, ("hold_s = 7.0", "hold_s = 900.0\nsession_max_s = 600.0"))
    assert "exercise.hold_s: a 900 s hold is longer than the whole session" in msg


def test_reps_do_not_fit_in_session(tmp_path: Path) -> None:
    msg = bad(tmp_path, ("reps = 3", "reps = 40\nsession_max_s = 300.0"))
    assert "exercise.reps: 40 repetitions of a " in msg and "session_max_s = 300 s" in msg
    assert "a shorter hold_s" in msg


def test_intensity_above_100(tmp_path: Path) -> None:
    msg = bad(tmp_path, ("intensity = [10, 25]", "intensity = [10, 120]"))
    assert "exercise.intensity: band [10, 120] must lie within 0–100 % MVC" in msg


def test_intensity_negative(tmp_path: Path) -> None:
    msg = bad(tmp_path, ("intensity = [10, 25]", "intensity = [-5, 25]"))
    assert "band [-5, 25] must lie within 0–100 % MVC" in msg


def test_intensity_inverted(tmp_path: Path) -> None:
    msg = bad(tmp_path, ("intensity = [10, 25]", "intensity = [25, 10]"))
    assert "with low < high" in msg


def test_intensity_not_a_pair(tmp_path: Path) -> None:
    msg = bad(tmp_path, ("intensity = [10, 25]", "intensity = 15"))
    assert "exercise.intensity: expected [low, high], got 15" in msg


def test_unknown_technique(tmp_path: Path) -> None:
    msg = bad(tmp_path, ('technique = "pir"', 'technique = "yoga"'))
    assert "exercise.technique: expected 'pir' or 'met', got 'yoga'" in msg


def test_bad_side(tmp_path: Path) -> None:
    assert "exercise.side: expected 'left' or 'right'" in bad(tmp_path, extra='side = "up"\n')


def test_too_many_reps(tmp_path: Path) -> None:
    assert "exercise.reps: must be 1–50, got 0" in bad(tmp_path, ("reps = 3", "reps = 0"))


def test_movement_speed_not_positive(tmp_path: Path) -> None:
    msg = bad(tmp_path, extra="movement_max_dps = 0.0\n")
    assert "exercise.movement_max_dps must be greater than 0" in msg


def test_relaxed_threshold_inside_band(tmp_path: Path) -> None:
    msg = bad(tmp_path, extra="relaxed_below = 12.0\n")
    assert "exercise.relaxed_below: must be 0 or more and below the band's low end 10" in msg


def test_x_rest_with_mvc_capture(tmp_path: Path) -> None:
    msg = bad(tmp_path, ('intensity = [10, 25]\nintensity_unit = "%MVC"',
                         'intensity = [3, 8]\nintensity_unit = "x_rest"'))
    assert "exercise.mvc_capture: must be false when intensity_unit is 'x_rest'" in msg


def test_unknown_locale(tmp_path: Path) -> None:
    msg = bad(tmp_path, extra='locale = "xx"\n')
    assert "exercise.locale: no cue texts for locale 'xx'; available: en" in msg


def test_unknown_cue_id(tmp_path: Path) -> None:
    msg = bad(tmp_path, extra='\n[cues]\nshout = "Go!"\n')
    assert "cues: unknown cue ids ['shout']" in msg


def test_cue_override(tmp_path: Path) -> None:
    p = load_protocol(write(tmp_path, GOOD + '\n[cues]\nrelease = "Let go."\n'))
    assert p.cue("release") == "Let go." and p.cue("hold") == load_cues("en")["hold"]


def test_unknown_table(tmp_path: Path) -> None:
    assert "unknown tables ['extras']" in bad(tmp_path, extra="\n[extras]\na = 1\n")


def test_unknown_shipped_protocol() -> None:
    with pytest.raises(ConfigError, match="unknown protocol 'tai-chi'; shipped: hamstrings-met, "
                       "hip-flexors-met, met, met-mvc, pir, pir-mvc, upper-trapezius-pir, "
                       "wrist-extensors-met-ri, wrist-flexors-pir"):
        find_protocol("tai-chi")


def test_mvc_unit_without_any_mvc(tmp_path: Path) -> None:
    p = load_protocol(write(tmp_path, GOOD + "mvc_capture = false\n"))
    with pytest.raises(ConfigError, match="no MVC"):
        Coach(p)


def test_shipped_files_are_valid_toml() -> None:
    for name in ("pir", "met"):
        path = Path(__file__).parents[2] / f"src/isofeedback/coach/protocols/{name}.toml"
        assert "exercise" in tomllib.loads(path.read_text())
