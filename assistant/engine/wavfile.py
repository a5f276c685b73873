"""Read a WAV file as 16 kHz mono int16 (stdlib ``wave`` + numpy, band-limited resampling)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from assistant.errors import AssistantError

TARGET_RATE = 16000


def resample(samples: npt.NDArray[np.float32], rate: int, target: int = TARGET_RATE) -> npt.NDArray[np.float32]:
    """FFT resampling of a whole clip (clips here are at most tens of seconds)."""
    if rate == target or samples.size == 0:
        return samples
    n_out = max(1, round(samples.size * target / rate))
    spectrum = np.fft.rfft(samples)
    keep = min(spectrum.size, n_out // 2 + 1)
    out = np.zeros(n_out // 2 + 1, dtype=np.complex128)
    out[:keep] = spectrum[:keep]
    return (np.fft.irfft(out, n_out) * (n_out / samples.size)).astype(np.float32)


def read_wav(path: str | Path) -> npt.NDArray[np.int16]:
    """PCM WAV (8/16/24/32-bit, any rate, any channels) -> 16 kHz mono int16."""
    p = Path(path)
    try:
        with wave.open(str(p), "rb") as wav:
            channels, width, rate, frames = wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()
            raw = wav.readframes(frames)
    except FileNotFoundError as err:
        raise AssistantError(f"{p}: no such file") from err
    except (OSError, EOFError, wave.Error) as err:
        raise AssistantError(f"{p}: not a PCM WAV file ({err})") from err
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8
        data = ints.astype(np.float32) / float(1 << 23)
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float32) / float(1 << 31)
    else:
        raise AssistantError(f"{p}: unsupported sample width of {width} bytes")
    usable = data.size - data.size % channels
    mono = data[:usable].reshape(-1, channels).mean(axis=1)
    out = resample(mono, rate)
    return np.clip(np.round(out * 32768.0), -32768, 32767).astype(np.int16)
