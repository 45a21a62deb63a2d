"""Profiles are validated on load: every error names the file, the key and what is wanted."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from isofeedback.errors import ProfileError
from isofeedback.profiles.schema import available_profiles, find_profile, parse_profile

SHIPPED = sorted(available_profiles())


@pytest.mark.parametrize("profile_id", SHIPPED)
def test_every_shipped_profile_loads(profile_id: str) -> None:
    profile = find_profile(profile_id)
    assert profile.id == profile_id
    assert set(profile.notify_characteristics) <= set(profile.expected_characteristics)


def polar() -> dict[str, Any]:
    path = available_profiles()["polar_verity"]
    return tomllib.loads(path.read_text())


def check(doc: dict[str, Any], *fragments: str) -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(Path("x.toml"), doc)
    text = str(info.value)
    assert text.startswith("x.toml: ")
    for f in fragments:
        assert f in text, text


def test_shared_characteristic_needs_select() -> None:
    doc = polar()
    del doc["packets"][1]["select"]
    check(doc, "packets:", "each needs a 'select'")


def test_select_that_can_never_match() -> None:
    doc = polar()
    doc["packets"][0]["select"] = {"byte": 0, "mask": 0x0F, "equals": 0x12}
    check(doc, "packets[0].select.equals", "never matches")


def test_expect_needs_a_reply_characteristic() -> None:
    doc = polar()
    del doc["commands"]["start"][0]["reply_characteristic"]
    check(doc, "commands.expect", "reply_characteristic")


def test_reply_characteristic_must_notify_or_indicate() -> None:
    doc = polar()
    doc["services"][0]["characteristics"][0]["flags"] = ["read", "write"]
    check(doc, "reply_characteristic", "notify or indicate")


def test_codec_params_are_checked() -> None:
    doc = polar()
    doc["packets"][0]["params"]["resolution"] = 12
    check(doc, "packets[0].params", "polar_pmd", "resolution must be 8, 16 or 24")


def test_counter_place_and_field() -> None:
    doc = tomllib.loads(available_profiles()["npg_lite"].read_text())
    doc["packets"][0]["counter"]["field"] = 4
    check(doc, "packets[0].counter.field", "frame has 4 fields, no field 4")
    doc["packets"][0]["counter"]["place"] = "footer"
    check(doc, "packets[0].counter.place", "'header' or 'frame'")


def test_battery_must_be_declared() -> None:
    doc = polar()
    doc["services"].pop()
    check(doc, "battery.characteristic", "not declared")


def test_unknown_codec_lists_known_ones() -> None:
    doc = polar()
    doc["packets"][0]["codec"] = "polar"
    check(doc, "packets[0].codec", "ganglion_fw2", "polar_pmd")


def test_a_misspelled_stream_name_is_an_error() -> None:
    """'emgx' left the profile without its EMG, and it was reported valid."""
    doc = polar()
    doc["packets"][0]["streams"][0]["stream"] = "emgx"
    check(doc, "packets:", "stream 'emgx' is not one the pipeline reads (emg, gyro, accel, "
          "quat)")


def test_a_stream_without_slice_names_every_value_of_the_frame() -> None:
    """Without a slice a stream takes the frame's first values: a channel left out of the
    list would drop the last channel's values without a word."""
    doc = tomllib.loads(available_profiles()["myo"].read_text())
    stream = doc["packets"][0]["streams"][0]
    stream["channels"] = stream["channels"][:6]
    check(doc, "packets[0].streams[0].channels", "names 6 channels", "holds 8 values",
          "slice = [0, 6]")
    stream["slice"] = [0, 6]  # said on purpose: accepted
    assert parse_profile(Path("x.toml"), doc).packets[0].streams[0].channels == tuple(
        f"emg{k}" for k in range(1, 7))
