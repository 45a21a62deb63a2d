"""The clinician's report: numbers from the session, a picture with events and phases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from isofeedback.cli import main


def test_report_from_a_recording(copy_sample: Any, capsys: Any) -> None:
    path: Path = copy_sample("myo-pir-sim.isorec")
    assert main(["report", str(path)]) == 0
    assert "3/3 reps" in capsys.readouterr().out
    report = json.loads(path.with_suffix(".json").read_text())
    assert report["simulated"] and report["reps_done"] == 3
    assert report["violations"] == ["moved"]
    assert len(report["reps"]) == 3 and all(r["hold_s"] > 5 for r in report["reps"])
    assert {"relax_residual", "rom_deg", "mean_intensity"} <= set(report["reps"][0])
    assert report["timeline"]["rows"] and report["phases"]
    # one unit on the intensity axis, % of the gentle reference contraction (the sample is
    # the shipped PIR: no MVC); the calibration before the reference exists is left out
    shown = [r[1] for r in report["timeline"]["rows"] if r[1] is not None]
    assert report["intensity_unit"] == "%ref" and 50 < max(shown) < 200
    assert any(r[1] is None for r in report["timeline"]["rows"])
    assert [e["type"] for e in report["events"]].count("onset") == 4
    page = path.with_suffix(".html").read_text()
    assert "<svg" in page and "simulated patient" in page and "moved" in page
    assert page.count("<polyline") == 2 and "onset at" in page


def test_report_of_foreign_data_replays_it(copy_sample: Any, tmp_path: Path) -> None:
    path = copy_sample("myo-pir-sim.isorec")
    assert main(["export", str(path), "--format", "bdf"]) == 0
    assert main(["report", str(path.with_suffix(".bdf")), "--out", str(tmp_path / "r")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["reps_done"] == 3 and (tmp_path / "r.html").exists()


def test_the_picture_fits_a_printed_page_and_a_narrow_window(copy_sample: Any) -> None:
    """The report in real Chromium, as wide as an A4 page's printable area and as a small
    laptop window: the whole session is on the page (the picture was 960 px wide whatever
    the page, so the PDF and the --pdf PNG lost the session's last quarter off the right)."""
    import shutil

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    path: Path = copy_sample("myo-pir-sim.isorec")
    assert main(["report", str(path)]) == 0
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")
                                              or "/usr/bin/chromedriver"), options=opts)
    try:
        for width in (700, 1024):
            driver.set_window_size(width, 900)
            driver.get(path.with_suffix(".html").resolve().as_uri())
            right, client, scroll = driver.execute_script(
                "const r = document.querySelector('svg').getBoundingClientRect();"
                "const d = document.documentElement;"
                "return [r.right, d.clientWidth, d.scrollWidth];")
            assert client <= width and right <= client and scroll <= client, (width, right)
    finally:
        driver.quit()
