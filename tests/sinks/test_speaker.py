"""The speaker sink renders every cue text of every shipped language with the real
espeak-ng, one WAV per cue, and the audio is speech-like: long enough for its words, not
silent, not clipped."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from isofeedback.coach.protocol import available_locales, load_cues
from isofeedback.errors import ConfigError
from isofeedback.sinks.speaker import Speaker
from isofeedback.types import Event, EventType, Feedback


def measure(path: Path) -> tuple[float, float, float]:
    """(duration s, RMS level dBFS, peak level dBFS) of a 16-bit mono WAV."""
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float) / 32768
        duration = w.getnframes() / w.getframerate()
    rms = 20 * np.log10(np.sqrt(np.mean(x ** 2)) + 1e-12)
    peak = 20 * np.log10(np.max(np.abs(x)) + 1e-12)
    return duration, float(rms), float(peak)


async def test_every_cue_rendered_in_its_language(tmp_path: Path) -> None:
    for locale in available_locales():
        cues = load_cues(locale)
        folder = tmp_path / locale
        async with Speaker(locale=locale, folder=folder, max_pending=len(cues)) as speaker:
            for i, (cue_id, text) in enumerate(cues.items()):
                speaker.submit(Feedback("cue", float(i), {"id": cue_id, "text": text,
                                                          "severity": "info"}))
            speaker.submit(Event(EventType.ONSET, 1.0, 1.0, "emg"))  # not a cue: ignored
        assert speaker.stats.spoken == len(cues) and speaker.stats.failed == 0
        assert [p.name.split("-", 1)[1] for p in speaker.files] == [f"{c}.wav" for c in cues]
        for path, text in zip(speaker.files, cues.values(), strict=True):
            duration, rms, peak = measure(path)
            words = len(text.split())
            # 150 words per minute: about 0.4 s a word; allow pauses at punctuation
            assert 0.2 * words < duration < 0.8 * words + 1.0, (path.name, duration)
            assert rms > -35.0, (path.name, rms)  # speech, not silence
            assert peak < -0.01, (path.name, peak)  # not clipped
            sox = subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True,
                                 check=True)
            assert abs(float(sox.stdout) - duration) < 0.01  # sox agrees


async def test_slow_speech_drops_stale_info_cues_and_keeps_warnings(tmp_path: Path) -> None:
    speaker = Speaker(folder=tmp_path, max_pending=2)
    cue = {"severity": "info"}
    speaker.submit(Feedback("cue", 1.0, {**cue, "id": "contract", "text": "Tense."}))
    speaker.submit(Feedback("cue", 1.1, {**cue, "id": "hold", "text": "Hold."}))
    speaker.submit(Feedback("cue", 1.2, {"severity": "warning", "id": "gentler",
                                         "text": "Gentler."}))
    speaker.submit(Feedback("cue", 1.3, {**cue, "id": "release", "text": "Release."}))
    # nothing was spoken yet (no task): the queue shows the policy
    assert [q[0] for q in speaker._queue] == ["gentler", "release"]
    assert speaker.stats.dropped == 2 and speaker.stats.requested == 4
    async with speaker:
        pass
    assert [p.name for p in speaker.files] == ["001-gentler.wav", "002-release.wav"]


async def test_failing_espeak_is_counted_not_raised(tmp_path: Path) -> None:
    (tmp_path / "001-hold.wav").mkdir()  # the file cannot be written
    async with Speaker(folder=tmp_path) as speaker:
        speaker.submit(Feedback("cue", 1.0, {"id": "hold", "text": "Hold.", "severity": "info"}))
        speaker.submit(Feedback("cue", 2.0, {"id": "done", "text": "Done.", "severity": "info"}))
    assert speaker.stats.failed == 1 and speaker.stats.spoken == 1


async def test_unknown_language_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no voice for the cue language 'xx-none'"):
        async with Speaker(locale="xx-none", folder=tmp_path):
            pass


async def test_no_sound_device_is_logged_not_silent(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Without a sound device espeak-ng prints the sound system's errors and exits 0 (seen
    on this kind of machine): the patient hears nothing, so it must be counted and logged.
    The sound device cannot exist here, so a stand-in does what espeak-ng does then."""
    exe = tmp_path / "espeak-ng"
    real = subprocess.run(["sh", "-c", "command -v espeak-ng"], capture_output=True,
                          text=True, check=True).stdout.strip()
    exe.write_text("#!/bin/sh\n"
                   f"case \"$1\" in --voices*) exec {real} \"$@\";; esac\n"
                   "echo \"ALSA lib confmisc.c:855:(parse_card) cannot find card '0'\" >&2\n"
                   "echo 'ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM default' >&2\n"
                   "echo 'error: No such file or directory' >&2\nexit 0\n")
    exe.chmod(0o755)
    async with Speaker(exe=str(exe)) as speaker:  # to the sound device, not to files
        speaker.submit(Feedback("cue", 1.0, {"id": "hold", "text": "Hold.", "severity": "info"}))
    assert speaker.stats.failed == 1 and speaker.stats.spoken == 0
    # what is wrong and what to do (it said only 'error: No such file or directory', the
    # last line, which sent the clinician looking for a missing file)
    assert ("spoken cue failed (espeak-ng): the sound output could not be opened (ALSA lib "
            "confmisc.c:855:(parse_card) cannot find card '0'), so the patient hears no "
            "cues: connect a speaker and make it the default sound device") in caplog.text


def _quality(t: float, issue: str, state: str, channel: int | None = None) -> Event:
    return Event(EventType.SIGNAL_QUALITY, t, t, "emg", None,
                 {"issue": issue, "state": state, "channel": channel})


async def test_signal_issues_are_said_as_they_start(tmp_path: Path) -> None:
    """A patient with a speaker alone hears what the page's signal light and the terminal
    show: an electrode off, a noisy sensor, each as it starts (not as it ends, not a hum
    the chain notched itself), and not again within 30 s when a contact comes and goes."""
    speaker = Speaker(folder=tmp_path, max_pending=10)
    speaker.submit(_quality(3.0, "mains", "notched"))
    speaker.submit(_quality(18.7, "noisy", "start"))
    speaker.submit(_quality(20.0, "flat", "start", 2))
    speaker.submit(_quality(22.5, "flat", "end", 2))
    speaker.submit(_quality(25.0, "flat", "start", 2))  # 5 s later: not again
    speaker.submit(_quality(60.0, "flat", "start", 2))  # 40 s later: said again
    texts = [q[1] for q in speaker._queue]  # (nothing spoken before the task starts)
    assert texts[:2] == ["Signal poor: the sensor is noisy, press it gently onto the skin.",
                         "Signal poor: no signal on channel 2, is the sensor on the skin?"]
    async with speaker:
        pass
    assert [p.name for p in speaker.files] == [
        "001-signal_noisy.wav", "002-signal_flat.wav", "003-signal_flat.wav"]
    for path, text in zip(speaker.files, texts, strict=True):
        duration, rms, _ = measure(path)
        assert 0.2 * len(text.split()) < duration < 0.8 * len(text.split()) + 1.0
        assert rms > -35.0  # speech, not silence
    # the words are English: another language's voice does not read them
    german = Speaker(locale="de", folder=tmp_path / "de")
    german.submit(_quality(18.7, "noisy", "start"))
    assert german.stats.requested == 0
