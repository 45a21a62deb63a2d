"""The shipped Mosquitto ACL template (docs/deploy/mosquitto-acl.conf) isolates patients
and gives each role only its rights: a private Mosquitto runs with the template exactly as
shipped (its gateway and clinician blocks filled in as the comments say) and a password
file made with mosquitto_passwd; real clients then try everything."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "mosquitto-acl.conf"
USERS = {"p01": "p01-secret-pw", "p02": "p02-secret-pw", "gw-p01": "gw1-secret-pw",
         "gw-p02": "gw2-secret-pw", "clinician-ann": "ann-secret-pw"}


def fill_in(template: str) -> str:
    """The template as an administrator uses it: each commented gateway/clinician block
    uncommented once per account, placeholders replaced; everything else unchanged."""
    blocks: list[list[str]] = []
    out: list[str] = []
    for line in template.splitlines():
        m = re.fullmatch(r"# ((user|topic) .*<(patient|name)>.*|topic .*)", line)
        if m and (m.group(2) == "user" or blocks):
            if m.group(2) == "user":
                blocks.append([])
            blocks[-1].append(m.group(1))
            continue
        out.append(line)
    assert len(blocks) == 2, "the template should have a gateway and a clinician block"
    for patient in ("p01", "p02"):
        out += [b.replace("<patient>", patient) for b in blocks[0]]
    out += [b.replace("<name>", "ann") for b in blocks[1]]
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory, mosquitto_control: Any) -> Iterator[int]:
    start, stop = mosquitto_control
    folder = tmp_path_factory.mktemp("acl-template")
    pw = folder / "passwd"
    pw.write_text("")
    for user, password in USERS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(pw), user, password], check=True,
                       capture_output=True)
    acl = folder / "acl"
    acl.write_text(fill_in(TEMPLATE.read_text()))
    broker = start(folder, f"user root\nallow_anonymous false\npassword_file {pw}\n"
                   f"acl_file {acl}\n")
    yield broker.port
    stop(broker)


def test_template_blocks_are_filled_in_as_documented() -> None:
    acl = fill_in(TEMPLATE.read_text())
    assert "user gw-p01\ntopic readwrite isofeedback/p01/#" in acl
    assert ("user clinician-ann\ntopic read isofeedback/#\n"
            "topic write isofeedback/+/prescription") in acl
    assert "pattern read isofeedback/%u/#" in acl and "pattern write isofeedback/%u/control" in acl


def _client(port: int, user: str | None, password: str | None = None) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", port, username=user,
                          password=password if password is not None else USERS.get(user or ""),
                          protocol=aiomqtt.ProtocolVersion.V311, timeout=3.0)


class Listener:
    """One logged-in client subscribed to ``#`` (everything the ACL lets it receive),
    collecting until it sees the end marker."""

    def __init__(self, client: aiomqtt.Client, name: str) -> None:
        self.client, self.name = client, name
        self.got: list[tuple[str, str]] = []
        self.done = asyncio.Event()

    async def run(self) -> None:
        async for msg in self.client.messages:
            assert isinstance(msg.payload, bytes)
            body = json.loads(msg.payload)["text"]
            if body == f"end-{self.name}":
                self.done.set()
                return
            if body.startswith("end-"):
                continue  # another listener's end marker
            self.got.append((str(msg.topic), body))


@asynccontextmanager
async def listeners(port: int, *users: str) -> AsyncIterator[dict[str, Listener]]:
    async with AsyncExitStack() as stack:
        out: dict[str, Listener] = {}
        tasks = []
        for user in users:
            client = await stack.enter_async_context(_client(port, user))
            await client.subscribe("#", qos=1)
            out[user] = Listener(client, user)
            tasks.append(asyncio.create_task(out[user].run()))
        yield out
        await asyncio.wait_for(asyncio.gather(*tasks), 10)


async def _send(client: aiomqtt.Client, topic: str, text: str) -> None:
    await client.publish(topic, json.dumps({"text": text}).encode(), qos=1)


async def test_refuses_anonymous_and_wrong_passwords(clinic: int) -> None:
    for user, password in ((None, None), ("p01", "wrong"), ("gw-p01", USERS["p01"]),
                           ("nobody", "x")):
        with pytest.raises(aiomqtt.MqttError, match=r"(?i)not authori[sz]ed|bad user"):
            async with _client(clinic, user, password):
                pass


async def test_roles_and_isolation(clinic: int) -> None:
    watchers = ("p01", "p02", "gw-p01", "gw-p02", "clinician-ann")
    async with listeners(clinic, *watchers) as seen, \
            _client(clinic, "p01") as phone1, _client(clinic, "p02") as phone2, \
            _client(clinic, "gw-p01") as gw1, _client(clinic, "gw-p02") as gw2, \
            _client(clinic, "clinician-ann") as ann:
        await _send(gw1, "isofeedback/p01/cues", "gw1 cue")  # allowed
        await _send(gw2, "isofeedback/p02/events", "gw2 event")  # allowed
        await _send(gw1, "isofeedback/p02/cues", "gw1 fakes p02")  # another patient
        await _send(phone1, "isofeedback/p01/cues", "p01 fakes a cue")
        await _send(phone1, "isofeedback/p01/status", "p01 fakes status")
        await _send(phone1, "isofeedback/p01/control", "p01 control")  # allowed
        await _send(phone2, "isofeedback/p01/control", "p02 controls p01")
        await _send(ann, "isofeedback/p02/prescription", "ann prescribes")  # allowed
        await _send(phone2, "isofeedback/p02/prescription", "p02 prescribes itself")
        await _send(ann, "isofeedback/p02/prescription/ack", "ann fakes the ack")
        await _send(gw2, "isofeedback/p02/prescription/ack", "gw2 ack")  # allowed
        await _send(ann, "isofeedback/p02/cues", "ann fakes a cue")
        await _send(ann, "isofeedback/p02/control", "ann controls p02")
        for name in watchers:  # end markers, on a topic only that patient's gateway may use
            gw, patient = ((gw1, "p01") if name in ("p01", "gw-p01", "clinician-ann")
                           else (gw2, "p02"))
            await _send(gw, f"isofeedback/{patient}/status", f"end-{name}")
    got = {name: sorted(text for _, text in seen[name].got) for name in watchers}
    assert got["p01"] == ["gw1 cue", "p01 control"]
    assert got["p02"] == ["ann prescribes", "gw2 ack", "gw2 event"]
    assert got["gw-p01"] == ["gw1 cue", "p01 control"]
    assert got["gw-p02"] == ["ann prescribes", "gw2 ack", "gw2 event"]
    assert got["clinician-ann"] == ["ann prescribes", "gw1 cue", "gw2 ack", "gw2 event",
                                    "p01 control"]
