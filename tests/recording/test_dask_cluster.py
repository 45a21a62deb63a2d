"""Folder replay on a real Dask cluster: a scheduler and two worker processes on loopback,
reached with ``replay FOLDER --dask tcp://127.0.0.1:PORT``; the summary rows equal the local
process pool's (all but the timing columns), a broken file is one error row in both."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from isofeedback.cli import main

pytest.importorskip("distributed")
TIMING = ("wall_s", "speed_x")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as f:
        return {r["file"]: {k: v for k, v in r.items() if k not in TIMING}
                for r in csv.DictReader(f)}


@pytest.fixture
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` processes, loopback only, no dashboard."""
    tmp_path = tmp_path_factory.mktemp("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    worker = [sys.executable, "-m", "distributed.cli.dask_worker"]
    procs = [subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for i in range(2):
        procs.append(subprocess.Popen(
            [*worker, address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
             "--name", f"w{i}", "--local-directory", str(tmp_path / f"w{i}")],
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        from distributed import Client

        with Client(address, timeout="60s") as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(2, timeout=120)  # type: ignore[no-untyped-call]
        yield address
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_dask_cluster_rows_equal_local_rows(scheduler: str, copy_sample: Any,
                                            myo_recording: Path, tmp_path: Path) -> None:
    copy_sample("myo-pir-sim.isorec")
    copy_sample("openemg-met-sim.isorec")
    (tmp_path / "broken.isorec").write_text("not a recording")
    out = tmp_path.parent / f"{tmp_path.name}-summaries"
    out.mkdir()
    local, remote = out / "local.csv", out / "remote.csv"
    assert main(["replay", str(tmp_path), "--verify", "--jobs", "2",
                 "--summary", str(local)]) == 1
    assert main(["replay", str(tmp_path), "--verify", "--dask", scheduler,
                 "--summary", str(remote)]) == 1
    a, b = _rows(local), _rows(remote)
    assert a == b
    assert set(a) == {"broken.isorec", "myo-pir-sim.isorec", "openemg-met-sim.isorec",
                      "session.isorec"}
    assert "not an isofeedback recording" in a["broken.isorec"]["error"]
    assert all(a[n]["verified"] == "True" for n in a if n != "broken.isorec")


def test_unreachable_scheduler_is_one_clear_error(tmp_path: Path, copy_sample: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    copy_sample("myo-pir-sim.isorec")
    address = f"tcp://127.0.0.1:{_free_port()}"
    assert main(["replay", str(tmp_path), "--dask", address]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler" in err and address in err
