"""A real session for the page's browser tests, and the tests' Chromium.

The simulated patient (packets in a real wearable's format) at N× → ``open_session`` (the
real pipeline, publisher, recorder and the page's web server, as ``demo --web``) → a real
broker ← the web server's relay ← headless Chromium. The session runs in its own thread
with its own event loop, because selenium's calls block.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shutil
import threading
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiomqtt
from rich.console import Console

from isofeedback.broker import free_port
from isofeedback.coach.protocol import find_protocol
from isofeedback.profiles.schema import find_profile
from isofeedback.service import SessionResult
from isofeedback.session import (
    RecordingPlan,
    SessionOutcome,
    SessionPlan,
    SourceContext,
    open_session,
)
from isofeedback.sim import Faults
from isofeedback.sim.scenarios import follow_protocol
from isofeedback.sinks.mqtt import BrokerSettings
from isofeedback.sources.simulated import SimulatedSource

VIEWPORT = (390, 844)  # a common portrait phone, CSS pixels


@dataclass
class LiveSession:
    """``with LiveSession(broker, patient) as s:`` runs the real session (``open_session``
    with the page served on a free local port, as ``demo --web`` does) and opens ``s.url``;
    the simulated patient starts at ``s.begin()``; ``s.published`` is every message a
    second subscriber of the patient's subtree received, in order."""

    broker: BrokerSettings
    patient: str
    speed: float = 6.0
    faults: Faults = field(default_factory=Faults)
    profile: str = "myo"
    reps: int = 3
    extra_reps: int = 0  # the simulated patient goes on after the plan (data keeps flowing)
    recordings: Path | None = None
    url: str = ""
    published: list[dict[str, Any]] = field(default_factory=list)
    outcome: SessionOutcome | None = None
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self._ready = threading.Event()
        self._go = threading.Event()
        self._done = threading.Event()
        self._stop = threading.Event()
        self.console = io.StringIO()
        self._thread = threading.Thread(target=self._run, name="live-session", daemon=True)

    def __enter__(self) -> LiveSession:
        self._thread.start()
        if not self._ready.wait(30) or self.error:
            raise RuntimeError(f"the session did not start: {self.error!r}")
        deadline = time.monotonic() + 20
        while True:  # the page is served once the session has its broker
            try:
                with urllib.request.urlopen(self.url, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or self.error:
                    raise RuntimeError(f"the page was not served: {self.error!r}") from None
                time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._go.set()
        self._stop.set()
        self._thread.join(30)

    def begin(self) -> None:
        self._go.set()

    def wait_done(self, timeout: float = 60.0) -> SessionResult:
        if not self._done.wait(timeout):
            raise TimeoutError("the session did not finish")
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome.result

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread
            self.error = exc
            self._ready.set()
            self._done.set()

    async def _subscribe(self, ready: asyncio.Event) -> None:
        """Like a second app: everything of the patient, reconnecting after an outage."""
        while True:
            try:
                async with aiomqtt.Client(self.broker.host, self.broker.port,
                                          keepalive=5, timeout=5.0) as client:
                    await client.subscribe(f"isofeedback/{self.patient}/#", qos=1)
                    ready.set()
                    async for msg in client.messages:
                        assert isinstance(msg.payload, bytes)
                        if not msg.payload:
                            continue
                        doc = json.loads(msg.payload)
                        doc["_topic"] = str(msg.topic)
                        doc["_retain"] = bool(msg.retain)
                        self.published.append(doc)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)

    async def _main(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        ready = asyncio.Event()
        sub = asyncio.create_task(self._subscribe(ready))
        await asyncio.wait_for(ready.wait(), 10)
        self._ready.set()
        try:
            self.outcome = await open_session(self._plan(port))
        finally:
            self._done.set()
            await asyncio.to_thread(self._stop.wait)
            sub.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sub

    def _plan(self, port: int) -> SessionPlan:
        profile = find_profile(self.profile)
        protocol = replace(find_protocol("pir"), reps=self.reps)
        script = follow_protocol(protocol, reps=self.reps + self.extra_reps, seed=1,
                                 faults=self.faults)

        @contextlib.asynccontextmanager
        async def open_source(ctx: SourceContext) -> AsyncIterator[SimulatedSource]:
            await asyncio.to_thread(self._go.wait)  # the browser is on the page by now
            yield SimulatedSource(script, profile, speed=self.speed)

        return SessionPlan(
            patient=self.patient, protocol=protocol, open_source=open_source,
            console=Console(file=self.console, width=120), title="test",
            source_kind="simulated", broker=self.broker, broker_explicit=True,
            recording=RecordingPlan(self.recordings, "simulated", simulated=True)
            if self.recordings else None,
            view="plain", web=("127.0.0.1", port))


def chromium(viewport: tuple[int, int] = VIEWPORT) -> Any:
    """Headless Debian Chromium with a phone-sized viewport, logging page errors, and a
    recorder of every change of what the patient sees (``window.__log``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    exe = shutil.which("chromium") or "/usr/bin/chromium"
    driver_exe = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not Path(exe).exists() or not Path(driver_exe).exists():
        raise RuntimeError("chromium and chromium-driver are not installed: run "
                           "scripts/test.sh (it installs the Debian packages)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = exe
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-extensions",
                "--disable-dev-shm-usage", "--no-first-run", "--mute-audio",
                "--disable-background-timer-throttling", "--hide-scrollbars"):
        opts.add_argument(arg)
    width, height = viewport
    opts.add_experimental_option("mobileEmulation", {
        "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2},
    })
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_exe), options=opts)
    driver.set_page_load_timeout(20)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
    return driver


# Every visible change, with what the patient sees at that moment.
RECORDER = """
window.__log = [];
document.addEventListener('DOMContentLoaded', () => {
  const text = (id) => (document.getElementById(id) || {}).textContent || '';
  const snap = () => {
    const s = {
      phase: document.getElementById('phase').dataset.phase,
      phaseText: text('phase'), reps: text('reps'), cue: text('cue'),
      severity: document.getElementById('cue').dataset.severity,
      timerLabel: text('timer-label'), timer: text('timer'), timerNote: text('timer-note'),
      joint: text('joint-text'), jointNote: text('joint-note'), conn: text('conn'),
      connState: document.getElementById('conn').dataset.state,
      rep: document.getElementById('rep-result').hidden ? '' : text('rep-body'),
      summary: document.getElementById('summary').hidden ? '' : text('summary'),
      ack: text('ack'), simulated: !document.getElementById('simulated').hidden,
      setup: document.getElementById('setup').hidden ? '' : text('setup'),
      zone: text('zone'),
    };
    const last = window.__log[window.__log.length - 1];
    const key = JSON.stringify(s);
    if (!last || last.key !== key) window.__log.push({t: performance.now(), key, ...s});
  };
  new MutationObserver(snap).observe(document.body,
    {subtree: true, childList: true, characterData: true, attributes: true,
     attributeFilter: ['data-phase', 'data-state', 'hidden', 'data-severity']});
  snap();
});
"""
