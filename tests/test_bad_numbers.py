"""Non-finite and absurd numbers stop at the door, each with one line naming the key.

One ``nan`` that slips into a threshold silently disables a detector; ``1e-300`` as a rate
makes a loop over time never advance; ``1e12`` sizes a buffer out of memory. Every entry
point (CLI option, pipeline config, protocol, profile, CSV cell) refuses them.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from isofeedback.cli import main
from isofeedback.coach.protocol import ExerciseProtocol, load_protocol
from isofeedback.config import PipelineConfig, load_pipeline_config
from isofeedback.errors import ConfigError, PacketError, ProfileError, RecordingError
from isofeedback.profiles.decoder import Decoder
from isofeedback.profiles.schema import find_profile, load_profile, parse_profile
from isofeedback.recording.importers import load_csv
from isofeedback.types import Packet

PROFILES = Path(__file__).resolve().parents[1] / "firmware_profiles"


@pytest.mark.parametrize(("args", "words"), [
    (["replay", "x.csv", "--fs", "nan"], "--fs must be a finite number, got nan"),
    (["replay", "x.csv", "--fs", "inf"], "--fs must be a finite number, got inf"),
    (["replay", "x.csv", "--fs", "1e12"], "--fs must be at most 100000"),
    (["replay", "x.csv", "--fs", "1e-300"], "--fs must be at least 1"),
    (["report", "x.csv", "--fs", "nan"], "--fs must be a finite number"),
    (["replay", "x.isorec", "--speed", "nan"], "--speed must be a finite number"),
    (["replay", "x.isorec", "--speed", "1e-300"], "--speed must be at least 0.001"),
    (["demo", "--seed", "-1"], "--seed must be at least 0, got -1"),
    (["virtual-device", "--seed", "-1"], "--seed must be at least 0"),
    (["eval", "--fs", "0"], "--fs must be at least 1"),
    (["eval", "--tolerance", "-1"], "--tolerance must be greater than 0"),
    (["eval", "--snr", "nan"], "--snr must be a finite number"),
    (["replay", "folder", "--jobs", "0"], "--jobs must be at least 1, got 0"),
    (["replay", "x.isorec", "--lsl-wait", "inf"], "--lsl-wait must be a finite number"),
    (["scan", "--timeout", "nan"], "--timeout must be a finite number"),
    (["run", "--time-scale", "nan"], "--time-scale must be a finite number"),
])
def test_cli_numbers_are_one_line_usage_errors(args: list[str], words: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert words in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(("key", "value", "words"), [
    ("envelope_s", "1e9", "envelope_s must be at most 600"),
    ("onset_ratio", "inf", "onset_ratio must be a finite number, got inf"),
    ("release_h", "nan", "release_h must be a finite number, got nan"),
    ("emg_low_hz", "1e12", "emg_low_hz must be at most 10000"),
])
def test_pipeline_config_refuses_non_finite_and_absurd(tmp_path: Path, key: str, value: str,
                                                       words: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[pipeline]\n{key} = {value}\n")
    with pytest.raises(ConfigError, match=re.escape(words)):
        load_pipeline_config(path)
    # the old "off" value of settings added later still loads
    assert PipelineConfig.from_dict({"release_drop_ratio": 1e9}).detector.level_drop.ratio == 1e9


@pytest.mark.parametrize("key", ["movement_max_deg", "movement_max_dps"])
def test_protocol_refuses_nan_movement_limits(tmp_path: Path, key: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(f"[exercise]\ntechnique = 'pir'\n{key} = nan\n")
    with pytest.raises(ConfigError, match=rf"p\.toml: exercise\.{key} must be a finite"):
        load_protocol(path)
    with pytest.raises(ConfigError):
        ExerciseProtocol(**{key: float("inf")})


@pytest.mark.parametrize(("value", "words"), [
    ("nan", "fs: must be a finite number, got nan"), ("inf", "must be a finite number"),
    ("0", "must be at least 1"), ("1e12", "must be at most 100000"),
])
def test_profile_with_absurd_rate_is_refused_by_check(tmp_path: Path, value: str, words: str,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    text = (PROFILES / "myo.toml").read_text()
    path = tmp_path / "bad.toml"
    path.write_text(re.sub(r"fs = \d+", f"fs = {value}", text, count=1))
    with pytest.raises(ProfileError, match=re.escape(words)):
        load_profile(path)
    assert main(["profiles", "--check", str(path)]) == 2
    err = capsys.readouterr().err
    assert words in err and "bad.toml" in err and err.count("\n") == 1


def test_ganglion_profile_with_five_channels_is_refused_at_load(tmp_path: Path) -> None:
    doc = tomllib.loads((PROFILES / "ganglion.toml").read_text())
    stream = doc["packets"][0]["streams"][0]
    stream["channels"] = [*stream["channels"], "ch5"]
    stream.pop("slice", None)
    with pytest.raises(ProfileError, match="a Ganglion sample has 4 channels"):
        parse_profile(tmp_path / "g5.toml", doc)


def test_one_nan_cell_in_a_csv_is_a_gap_never_a_nan(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """One nan reaching the filters would make every later output nan: the row is a gap
    (the pipeline is told, never fed it), and the replay says so."""
    rows = ["t,emg1,emg2"] + [f"{i / 1000},{np.sin(i)},{np.cos(i)}" for i in range(200)]
    rows[57] = "0.056,nan,0.5"
    path = tmp_path / "d.csv"
    path.write_text("\n".join(rows) + "\n")
    emg = load_csv(path).streams["emg"]
    assert emg.gaps == ((56, 1),) and np.isfinite(emg.data).all()
    assert main(["replay", str(path)]) == 0
    assert "1 gap in the EMG" in " ".join(capsys.readouterr().out.split())


def test_csv_time_column_of_absurd_rate_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "slow.csv"
    path.write_text("t,emg1\n0,1\n1e300,2\n")
    with pytest.raises(RecordingError, match="sample rate of the time column must be at least"):
        load_csv(path)


def _packet(t: float, data: bytes = bytes(16), char: str = "") -> Packet:
    return Packet("d", char, data, t)


@pytest.mark.parametrize("t", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_arrival_time_is_a_packet_error(t: float) -> None:
    profile = find_profile("myo")
    dec = Decoder(profile, "d")
    char = profile.packets[0].characteristics[0]
    good = profile.packets[0]
    with pytest.raises(PacketError, match="not a finite number"):
        dec.decode(_packet(t, bytes(16), char))
    assert dec.stats.malformed == 1
    assert dec.decode(_packet(0.01, bytes(16), char)) and good  # the state is untouched


def test_arrival_time_leaping_by_more_than_a_day_is_a_packet_error() -> None:
    profile = find_profile("myo")
    dec = Decoder(profile, "d")
    char = profile.packets[0].characteristics[0]
    dec.decode(_packet(0.01, bytes(16), char))
    with pytest.raises(PacketError, match="more than a day"):
        dec.decode(_packet(1e12, bytes(16), char))
    assert dec.decode(_packet(0.02, bytes(16), char))


def test_a_megabyte_polar_frame_is_refused_not_decoded() -> None:
    profile = find_profile("polar_verity")
    spec = profile.packets[0]
    dec = Decoder(profile, "d")
    frame = bytes([spec.select.equals if spec.select else 2]) + bytes(8) + b"\x00"
    frame += bytes(1_000_000)
    with pytest.raises(PacketError, match="longer than BLE allows"):
        dec.decode(_packet(1.0, frame, spec.characteristics[0]))


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e12"])
def test_run_config_scan_timeout_must_be_finite_and_sane(tmp_path: Path, value: str) -> None:
    from isofeedback.run_config import load_run_config

    path = tmp_path / "run.toml"
    path.write_text(f'patient = "p1"\n[[devices]]\nprofile = "myo"\n'
                    f"[ble]\nscan_timeout = {value}\n")
    with pytest.raises(ConfigError, match=r"run\.toml: ble\.scan_timeout must be"):
        load_run_config(path)


@pytest.mark.parametrize(("name", "key", "value", "words"), [
    ("ganglion", "bits", math.inf, "rejects these settings"),
    ("myo", "frames", 2**63, "frames: must be 1-512"),
    ("myo", "frames", 100, "longer than a BLE notification"),
    ("myo", "frame", "<999999999999q", "longer than a BLE notification"),
    ("myo", "frame", "<\u00e9h", "invalid struct format"),  # (a UnicodeEncodeError)
])
def test_profile_sizes_beyond_a_notification_are_refused(tmp_path: Path, name: str, key: str,
                                                         value: Any, words: str) -> None:
    """Found by benchmarks/fuzz.py: ``bits = inf`` raised OverflowError, ``frames = 2**63``
    an OverflowError in struct, a huge frame format a MemoryError."""
    doc = tomllib.loads((PROFILES / f"{name}.toml").read_text())
    packet = doc["packets"][0]
    if key == "bits":
        packet.setdefault("params", {})[key] = value
    else:
        packet[key] = value
    with pytest.raises(ProfileError, match=re.escape(words)):
        parse_profile(tmp_path / "p.toml", doc)


def test_a_wide_hd_emg_csv_still_loads(tmp_path: Path) -> None:
    """Imported data gets an in-memory profile; 128 channels must fit it."""
    header = ",".join(["t"] + [f"e{i}" for i in range(128)])
    rows = [header] + [",".join([f"{k / 1000}"] + ["1.0"] * 128) for k in range(50)]
    path = tmp_path / "hd.csv"
    path.write_text("\n".join(rows) + "\n")
    from isofeedback.recording.signals import signal_profile

    signals = load_csv(path)
    assert len(signal_profile(signals).stream("emg").channels) == 128
