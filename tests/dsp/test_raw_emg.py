"""A foreign file whose EMG is rectified or an envelope is replayed and said to be so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from isofeedback.cli import main


def _raw(seed: int = 4, fs: int = 1000, seconds: float = 20.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(fs * seconds)) / fs
    return rng.standard_normal(t.size) * (1 + 10 * ((t > 6) & (t < 10)))


def _said(tmp_path: Path, capsys: pytest.CaptureFixture[str], x: np.ndarray,
          name: str = "x.csv") -> str:
    path = tmp_path / name
    path.write_text("emg\n" + "".join(f"{v:.6g}\n" for v in x))
    assert main(["replay", str(path), "--fs", "1000"]) == 0
    return " ".join(capsys.readouterr().out.split())


def test_rectified_and_envelope_exports_are_said(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    x = _raw()
    envelope = np.convolve(np.abs(x), np.ones(50) / 50, mode="same")
    for y in (np.abs(x), envelope):
        assert "rectified or an envelope (RMS), not raw EMG" in _said(tmp_path, capsys, y)


@pytest.mark.parametrize("offset", [0.0, 2048.0])
def test_raw_emg_is_not_called_rectified(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        offset: float) -> None:
    """A converter's counts around a mid-scale offset are positive but raw; the zeros a
    gap is filled with must not make them look rectified."""
    x = np.round(offset + 20 * _raw())
    rows = [f"{v:.6g}" for v in x]
    rows[3000:3200] = ["NaN"] * 200  # a gap: zero-filled rows, not samples
    path = tmp_path / "raw.csv"
    path.write_text("emg\n" + "".join(f"{r}\n" for r in rows))
    assert main(["replay", str(path), "--fs", "1000"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "1 gap in the EMG" in out and "rectified" not in out
