"""The short fuzz run (hypothesis): every decoder, loader, importer and the recording reader
take hostile input (mutations of real seeds) and only ever raise the project's errors,
within a deadline per input, within a memory bound, and with nothing non-finite leaking
out. The long run is ``benchmarks/fuzz.py``; its figures are in docs/reliability.md."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isofeedback.errors import RecordingError
from isofeedback.recording.reader import RecordingReader
from tests.fuzz.targets import (
    TARGETS,
    deadline,
    memory_peak_mb,
    read_recording,
    recording_reader,
    seed_recording,
)

#: examples per target: enough to cover every mutation kind and profile, small enough
#: that the whole folder runs in well under a minute on a shared machine
EXAMPLES = {"recording_reader": 40, "edf_importer": 150, "csv_importer": 150}
#: generous: a hang, not a slow machine, must trip them
DEADLINE_S = 20.0
MEMORY_MB = 256.0


def _bounded(target: str, data: bytes) -> None:
    peaks: list[float] = []
    with deadline(DEADLINE_S), memory_peak_mb(peaks):
        if target == "recording_reader":
            recording_reader(data, deep=False)
        else:
            TARGETS[target](data)
    assert peaks[0] < MEMORY_MB, f"{peaks[0]:.0f} MB for one input"


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_hostile_input_gives_only_project_errors(target: str) -> None:
    if target == "recording_reader":
        seed_recording()  # made once, outside the per-input deadline

    @settings(max_examples=EXAMPLES.get(target, 250), deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
              database=None)
    @given(st.binary(min_size=0, max_size=400))
    def run(data: bytes) -> None:
        _bounded(target, data)

    run()


def _page_cuts() -> list[int]:
    seed = seed_recording()
    page = int.from_bytes(seed[16:18], "big")
    return [page * k for k in range(len(seed) // page + 1)]


def test_a_recording_cut_at_every_page_boundary(tmp_path: Path) -> None:
    """Each cut opens with a clear error or reads up to the cut; every seventh is also
    replayed, exported and reported, as the commands would."""
    seed = seed_recording()
    for i, cut in enumerate(_page_cuts()):
        path = tmp_path / f"cut{cut}.isorec"
        path.write_bytes(seed[:cut])
        peaks: list[float] = []
        with deadline(DEADLINE_S), memory_peak_mb(peaks):
            read_recording(path, deep=i % 7 == 3)
        assert peaks[0] < MEMORY_MB
        path.unlink()


def test_a_recording_cut_mid_page_never_cycles(tmp_path: Path) -> None:
    """Cuts every 1021 bytes, mostly inside a page: the torn page's zeroed rows read as
    row 0, and the old reader started the table again, forever (43 of these 117 cuts of
    the seed recording cycled). Each read is bounded, so a cycle fails instead of hanging."""
    seed = seed_recording()
    path = tmp_path / "cut.isorec"
    path.write_bytes(seed)
    with RecordingReader(path) as r:
        every = list(r.packets())
    for cut in range(4096, len(seed), 1021):
        path.write_bytes(seed[:cut])
        try:
            with RecordingReader(path) as r:
                got = list(itertools.islice(r.packets(), len(every) + 1))
        except RecordingError:
            continue  # cut inside the header tables: one clear error
        assert len(got) <= len(every) and got == every[: len(got)], cut
