"""WAV files (espeak-ng speech and written test tones) read as 16 kHz mono int16."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.engine.wavfile import read_wav
from assistant.errors import AssistantError


def _write(path: Path, data: np.ndarray, rate: int, width: int, channels: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(data.tobytes())


def _peak_hz(samples: np.ndarray, rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.argmax(spectrum) * rate / samples.size)


def test_espeak_speech_is_resampled_to_16k(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "turn on the light"], check=True)
    with wave.open(str(path)) as wav:
        rate, frames = wav.getframerate(), wav.getnframes()
    assert rate != 16000  # espeak-ng writes 22050 Hz: the resampler is exercised
    samples = read_wav(path)
    assert samples.dtype == np.int16
    assert abs(samples.size - round(frames * 16000 / rate)) <= 1
    assert np.abs(samples).max() > 1000  # speech, not silence


@pytest.mark.parametrize(("rate", "width", "channels"), [(44100, 2, 2), (8000, 1, 1), (48000, 3, 1), (16000, 4, 2)])
def test_tone_keeps_its_pitch_and_level(tmp_path: Path, rate: int, width: int, channels: int) -> None:
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440.0 * t)
    if width == 1:
        data = np.round(tone * 127 + 128).astype(np.uint8)
    elif width == 3:
        ints = np.round(tone * (2**23 - 1)).astype(np.int32)
        data = np.stack([ints & 0xFF, (ints >> 8) & 0xFF, (ints >> 16) & 0xFF], axis=1).astype(np.uint8)
    else:
        dtype = {2: "<i2", 4: "<i4"}[width]
        data = np.round(tone * (2 ** (8 * width - 1) - 1)).astype(dtype)
    if channels == 2:
        data = np.repeat(data.reshape(len(t), -1), 2, axis=0).reshape(len(t), 2, -1).squeeze()
    path = tmp_path / "tone.wav"
    _write(path, data, rate, width, channels)
    samples = read_wav(path)
    assert samples.size == 16000
    assert abs(_peak_hz(samples) - 440.0) <= 1.0
    rms = float(np.sqrt(np.mean((samples[1000:-1000] / 32768.0) ** 2)))
    assert abs(rms - 0.5 / np.sqrt(2)) < 0.02


def test_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(AssistantError, match="no such file"):
        read_wav(tmp_path / "nope.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav at all")
    with pytest.raises(AssistantError, match="not a PCM WAV file"):
        read_wav(junk)
