"""WCAG AA: every text colour of the page's palette has a contrast of at least 4.5:1 on
both backgrounds it is used on (the page and its panels), and the badge's dark text on its
yellow. Computed from style.css itself, so a colour change that breaks it fails here."""

from __future__ import annotations

import re

from isofeedback.web.server import static_files


def luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_palette_meets_wcag_aa() -> None:
    css = static_files()["/style.css"].decode()
    palette = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})", css))
    assert {"bg", "panel", "text", "muted", "blue", "orange", "red"} <= palette.keys()
    for background in ("bg", "panel"):
        for text in ("text", "muted", "blue", "orange", "red"):
            ratio = contrast(palette[text], palette[background])
            assert ratio >= 4.5, (text, background, round(ratio, 2))
    badge = re.search(r"\.badge-sim \{ background: (#[0-9a-f]{6}); color: (#[0-9a-f]{6})", css)
    assert badge and contrast(badge[1], badge[2]) >= 4.5


def test_page_names_the_units_as_the_terminal_does() -> None:
    """The page's unit words are the ones of coach/protocol.py (one vocabulary for the
    patient, whichever screen)."""
    import json
    from pathlib import Path

    from isofeedback.coach.protocol import UNIT_WORDS

    app = (Path(__file__).parents[2] / "src/isofeedback/web/static/app.js").read_text()
    found = re.search(r"const UNIT_WORDS = (\{.*?\});", app)
    assert found is not None
    assert json.loads(found[1]) == UNIT_WORDS


def test_page_measuring_phases_are_the_coach_s() -> None:
    """While these phases run, the page shows no target (the level is in rest-noise
    multiples): the same set as the coach's (coach/phases.py MEASURING)."""
    import json
    from pathlib import Path

    from isofeedback.coach.phases import MEASURING

    app = (Path(__file__).parents[2] / "src/isofeedback/web/static/app.js").read_text()
    found = re.search(r"const MEASURING = new Set\((\[.*?\])\);", app, re.S)
    assert found is not None
    assert set(json.loads(found[1])) == {str(p) for p in MEASURING}
