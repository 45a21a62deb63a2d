"""A broker that refuses the credentials: one clear BrokerError, no retry storm.

A private Mosquitto with a password file (mosquitto_passwd) logs every connection attempt;
the publisher must try once, say clearly what is wrong, and leave the broker alone."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest

from isofeedback.cli import main
from isofeedback.errors import BrokerError
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.types import Event, EventType


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, mosquitto_control: Any) -> Any:
    start, stop = mosquitto_control
    folder = tmp_path_factory.mktemp("refusing")
    pw = folder / "passwd"
    pw.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(pw), "gw-p01", "right-password"],
                   check=True, capture_output=True)
    log = folder / "mosquitto.log"
    broker = start(folder, f"user root\nallow_anonymous false\npassword_file {pw}\n"
                   f"log_dest file {log}\nlog_type all\n")
    yield broker, log
    stop(broker)



def _connects(log: Path) -> int:
    """MQTT connection attempts the broker answered (its own log, not ours; the fixture's
    TCP probe that waits for the port sends no CONNECT and is not counted)."""
    return sum("Sending CONNACK" in line
               for line in log.read_text(errors="replace").splitlines())


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_wrong_password_one_clear_error_and_no_retries(
    guarded: Any, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    broker, log = guarded
    caplog.set_level(logging.DEBUG)
    before = _connects(log)
    settings = BrokerSettings(broker.host, broker.port, protocol, username="gw-p01",
                              password="wrong-password-123")
    async with MqttPublisher(settings, Serializer("p01", "s-refused", 1.7e9),
                             flush_timeout_s=0.2, backoff_s=(0.05, 0.1)) as pub:
        with pytest.raises(BrokerError) as err:
            await pub.wait_connected(5.0)
        # the session goes on: outputs are still accepted (kept, bounded), nothing blocks
        pub.submit(Event(EventType.ONSET, 1.0, 1.0))
        await asyncio.sleep(2.0)  # 20+ retries would have happened with the outage backoff
    message = str(err.value)
    assert message.startswith(f"the broker at {broker.host}:{broker.port} refused the "
                              "credentials (user 'gw-p01': ")
    assert "check the user name and password" in message and "not retrying" in message
    assert "wrong-password" not in message and "wrong-password" not in caplog.text
    assert pub.error is err.value and pub.stats.connections == 0
    assert _connects(log) - before == 1  # one attempt, seen by the broker itself
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING
              and r.name == "isofeedback.sinks.mqtt" and "refused the credentials" in
              r.getMessage()]
    assert len(errors) == 1
    assert not any("; retrying" in r.getMessage() for r in caplog.records
                   if r.name == "isofeedback.sinks.mqtt")


async def test_right_password_still_connects(guarded: Any) -> None:
    broker, _ = guarded
    settings = BrokerSettings(broker.host, broker.port, username="gw-p01",
                              password="right-password")
    async with MqttPublisher(settings, Serializer("p01", "s-ok", 1.7e9)) as pub:
        assert await pub.wait_connected(5.0)
    assert pub.error is None and pub.stats.connections == 1


def test_demo_with_refused_credentials_is_one_sentence(
    guarded: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broker, log = guarded
    pw = tmp_path / "pw"
    pw.write_text("wrong-password-123\n")
    pw.chmod(0o600)
    before = _connects(log)
    code = main(["demo", "--plain", "--broker", f"{broker.host}:{broker.port}",
                 "--mqtt-user", "gw-p01", "--mqtt-password-file", str(pw)])
    err = capsys.readouterr().err
    assert code != 0
    assert "refused the credentials (user 'gw-p01'" in err and "Traceback" not in err
    assert _connects(log) - before == 1
