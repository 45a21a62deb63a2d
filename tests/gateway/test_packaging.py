"""What an installed package (a wheel on a Raspberry Pi, not a checkout) needs at run time
is package data: the firmware profiles and the deploy templates."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from isofeedback.profiles.schema import available_profiles

REPO = Path(__file__).resolve().parents[2]


def test_firmware_profiles_are_package_data() -> None:
    packaged = resources.files("isofeedback").joinpath("data", "firmware_profiles")
    names = sorted(p.name for p in packaged.iterdir() if p.name.endswith(".toml"))
    assert names == sorted(p.name for p in (REPO / "firmware_profiles").glob("*.toml"))
    assert "myo" in available_profiles()


def test_deploy_templates_are_package_data() -> None:
    deploy = resources.files("isofeedback").joinpath("data", "deploy")
    assert deploy.joinpath("isofeedback.service").read_text().startswith("# isofeedback")
    assert "version = 1" in deploy.joinpath("service.toml").read_text()
