"""Bad input on the command line: one clear line, a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from isofeedback.broker import free_port


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isofeedback", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_clear_line(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_unknown_profile_names_the_choices() -> None:
    proc = run_cli("demo", "--profile", "nosuchband", "--speed", "max")
    assert_one_clear_line(proc, "unknown firmware profile 'nosuchband'", "myo")


def test_malformed_profile_file_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[profile]\nid = "x"\nname = "X"\n[[services]]\nuuid = "zz"\ncharacteristics = []\n'
    )
    proc = run_cli("demo", "--profile", str(bad), "--speed", "max")
    assert_one_clear_line(proc, str(bad), "services[0].uuid", "not a UUID")


def test_profile_that_is_not_toml(tmp_path: Path) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text("[profile\nid = 3")
    proc = run_cli("profiles", "--check", str(bad))
    assert_one_clear_line(proc, str(bad), "not valid TOML")


def test_unreachable_explicit_broker() -> None:
    port = free_port()  # nothing listens there
    proc = run_cli("demo", "--broker", f"127.0.0.1:{port}", "--speed", "max")
    assert_one_clear_line(proc, f"cannot reach the MQTT broker at 127.0.0.1:{port}")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["demo", "--speed", "fast"], ["speed 'fast'"]),
        (["demo", "--technique", "yoga"], ["invalid choice: 'yoga'"]),
        (["demo", "--broker", "host:99999"], ["1–65535"]),
        (["demo", "--patient", "a/b"], ["patient id"]),
        (["nosuchcommand"], ["invalid choice"]),
    ],
)
def test_invalid_options(args: list[str], words: list[str]) -> None:
    proc = run_cli(*args)
    assert_one_clear_line(proc, *words)
    assert proc.returncode == 2


def test_help_for_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    """The top-level help in a child process (as a user runs it), each command's help in
    this one (the same parser; a child process each would only add start-up time)."""
    from isofeedback.cli import COMMANDS, main

    top = run_cli("--help")
    assert top.returncode == 0 and "COMMAND" in top.stdout
    names = [m.replace("_", "-") for m in COMMANDS]
    for name in names:
        assert name in top.stdout
    for name in names:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        out = capsys.readouterr().out
        assert done.value.code == 0, name
        assert out.startswith("usage: isofeedback " + name)
        assert len(out.splitlines()) > 3


def test_an_unexpected_exception_is_one_sentence_and_a_crash_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The last handler: a bug (not a project error) reaches the user as one sentence
    naming where the traceback was written (owner-only), never as a traceback."""
    from isofeedback import cli
    from isofeedback.commands import profiles

    def broken(args: object) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(profiles, "run", broken)  # stands in for any bug in any command
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert cli.main(["profiles"]) == 70
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "unexpected error (ZeroDivisionError: division by zero)" in err
    (crash,) = (tmp_path / "isofeedback").glob("crash-*.log")
    assert str(crash) in err
    assert "ZeroDivisionError" in crash.read_text() and "Traceback" in crash.read_text()
    assert crash.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("command", ["run", "virtual-device"])
def test_technique_help_names_every_kind_of_protocol(command: str) -> None:
    """--technique takes any shipped protocol or a file; the help said 'pir or met', so a
    clinician did not know the muscles' own protocols (wrist-flexors-pir …) could be run."""
    out = run_cli(command, "--help").stdout
    assert "wrist-flexors-pir" in " ".join(out.split()), out


def test_tls_to_a_plain_mqtt_port_says_so(mosquitto: object) -> None:
    """--mqtt-tls against a plain listener: the broker drops the connection at the TLS
    hello; the error said only "[Errno 104] Connection reset by peer"."""
    port = mosquitto.port  # type: ignore[attr-defined]
    proc = run_cli("demo", "--broker", f"127.0.0.1:{port}", "--mqtt-tls", "--speed", "max")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert f"could not connect to MQTT broker 127.0.0.1:{port} (TLS)" in last, last
    assert "does not speak TLS" in last, last
