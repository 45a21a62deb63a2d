"""Patient page latency: a level message's publication → the bar repainted in the browser.

    PYTHONPATH=src python benchmarks/web_latency.py [--seconds 30] [--rate 20]

A private Mosquitto (TCP only, ``set_tcp_nodelay true`` as docs/mqtt.md recommends), the
real ``MqttPublisher`` publishing live levels at ``--rate`` per second, the page's web
server relaying MQTT-over-WebSockets, and the page in headless Debian Chromium (phone
viewport) with ``?bench``: for every level it records, with Performance API timestamps
(``performance.timeOrigin + performance.now()``, Unix ms), when the message arrived and
when the frame that painted the bar had been rendered. Publication is the moment the
service hands the level to the publisher (``submit``), stamped with the system clock.
The browser's clock is compared with Python's before and after the run (offset and its
uncertainty are printed). Target: P99 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "web"))

from harness import chromium

from isofeedback.broker import broker_reachable, free_port
from isofeedback.sinks.messages import Serializer
from isofeedback.sinks.mqtt import BrokerSettings, MqttPublisher
from isofeedback.types import Feedback
from isofeedback.web import WebServer


def clock_offset(driver: Any, rounds: int = 20) -> tuple[float, float]:
    """(browser clock − Python clock, ± half the best round trip), in ms."""
    best = None
    for _ in range(rounds):
        before = time.time() * 1000
        browser = float(driver.execute_script(
            "return performance.timeOrigin + performance.now()"))
        after = time.time() * 1000
        if best is None or after - before < best[1] * 2:
            best = (browser - (before + after) / 2, (after - before) / 2)
    assert best is not None
    return best


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def publish(settings: BrokerSettings, patient: str, seconds: float, rate: float,
                  sent: dict[float, float], ready: threading.Event,
                  start: threading.Event) -> None:
    serializer = Serializer(patient, f"{patient}-bench", time.time(), source="simulated")
    async with MqttPublisher(settings, serializer) as publisher:
        await publisher.wait_connected(5.0)
        ready.set()
        await asyncio.to_thread(start.wait)
        period = 1.0 / rate
        t0 = time.perf_counter()
        for i in range(int(seconds * rate)):
            await asyncio.sleep(max(0.0, t0 + i * period - time.perf_counter()))
            t = round(i * period, 4)
            x = 15.0 + 10.0 * ((i % 40) / 40.0)  # the bar moves every frame
            item = Feedback("level", t, {
                "intensity": x, "unit": "%MVC", "band": [10.0, 25.0],
                "in_band": 10.0 <= x <= 25.0, "angle_deg": 0.0, "phase": "holding",
                "rep": 1, "hold_remaining_s": 7.0, "joint_deviation_deg": 0.5,
                "joint_limit_deg": 5.0})
            sent[t] = time.time() * 1000
            publisher.submit(item)
        await asyncio.sleep(1.0)


def run_server(settings: BrokerSettings, patient: str, seconds: float, rate: float,
               sent: dict[float, float], url: list[str], ready: threading.Event,
               start: threading.Event, errors: list[BaseException]) -> None:
    async def main() -> None:
        async with WebServer(settings, patient=patient) as web:
            url.append(web.url)
            await publish(settings, patient, seconds, rate, sent, ready, start)

    try:
        asyncio.run(main())
    except BaseException as exc:
        errors.append(exc)
        ready.set()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--rate", type=float, default=20.0, help="levels per second (service: ~20)")
    args = p.parse_args(argv)
    tmp = tempfile.TemporaryDirectory()
    port = free_port()
    conf = Path(tmp.name) / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n")
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    broker = subprocess.Popen([exe, "-c", str(conf)], stderr=subprocess.DEVNULL)
    driver = None
    try:
        for _ in range(100):
            if asyncio.run(broker_reachable("127.0.0.1", port)):
                break
            time.sleep(0.05)
        settings = BrokerSettings("127.0.0.1", port)
        patient = f"bench{time.monotonic_ns() % 10**9}"
        sent: dict[float, float] = {}
        url: list[str] = []
        errors: list[BaseException] = []
        ready, start = threading.Event(), threading.Event()
        thread = threading.Thread(target=run_server, daemon=True, args=(
            settings, patient, args.seconds, args.rate, sent, url, ready, start, errors))
        thread.start()
        ready.wait(30)
        if errors:
            raise errors[0]
        driver = chromium()
        driver.get(url[0] + "?bench")
        deadline = time.monotonic() + 20
        while not driver.execute_script("return window.isofeedbackPage.connected"):
            if time.monotonic() > deadline:
                raise RuntimeError("the page did not connect")
            time.sleep(0.05)
        time.sleep(0.5)  # subscribed
        offset_before = clock_offset(driver)
        start.set()
        thread.join(args.seconds + 30)
        offset_after = clock_offset(driver)
        rows = driver.execute_script("return window.isofeedbackPage.repaints")
    finally:
        if driver is not None:
            driver.quit()
        broker.terminate()
        broker.wait(5)
        tmp.cleanup()
    offset = (offset_before[0] + offset_after[0]) / 2
    total, network, paint = [], [], []
    for t, received, painted in rows:
        if t in sent:
            total.append(painted - offset - sent[t])
            network.append(received - offset - sent[t])
            paint.append(painted - received)
    print(f"Mosquitto {settings.address} (TCP only, set_tcp_nodelay true) ← page relay "
          f"← headless Chromium, phone viewport; {args.rate:g} levels/s for {args.seconds:g} s")
    print(f"browser clock − system clock: {offset_before[0]:+.2f} ms before "
          f"(±{offset_before[1]:.2f}), {offset_after[0]:+.2f} ms after "
          f"(±{offset_after[1]:.2f})")
    print(f"levels published {len(sent)}, repainted {len(total)} "
          f"({len(sent) - len(total)} not shown)")
    for name, values in (("publication → bar repainted", total),
                         ("publication → message in page", network),
                         ("message in page → bar repainted", paint)):
        if values:
            print(f"  {name:34s} P50 {statistics.median(values):6.1f} ms   "
                  f"P99 {pct(values, 99):6.1f} ms   max {max(values):6.1f} ms")
    ok = bool(total) and pct(total, 99) <= 50.0
    print(f"target P99 ≤ 50 ms: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
