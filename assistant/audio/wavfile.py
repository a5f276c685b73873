"""WAV files as audio: read any PCM rate and channel count, and replay them as a source."""

from __future__ import annotations

import logging
import struct
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from assistant.audio.resample import Reframer, resample, to_mono_int16
from assistant.errors import AssistantError
from assistant.protocols import SAMPLE_RATE, Samples

PCM, FLOAT, EXTENSIBLE = 1, 3, 0xFFFE
MAX_AUDIO_S = 30.0  # Gemma 4 hears at most 30 s of audio in one turn

log = logging.getLogger("assistant.audio")


def _chunks(data: bytes) -> dict[bytes, bytes]:
    """The chunks of a RIFF/WAVE file by id (the first of each)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("no RIFF/WAVE header")
    found: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        found.setdefault(kind, data[pos + 8 : pos + 8 + size])
        pos += 8 + size + (size & 1)
    if b"fmt " not in found or b"data" not in found:
        raise ValueError("no fmt or data chunk")
    return found


def _decode(fmt: bytes, raw: bytes) -> tuple[np.ndarray, int, int]:
    """Samples as int32-scaled-to-int16 or float, the channel count and the rate."""
    tag, channels, rate = struct.unpack("<HHI", fmt[:8])
    bits = struct.unpack("<H", fmt[14:16])[0]
    if tag == EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]  # the sub-format GUID starts with the real tag
    width = bits // 8
    usable = len(raw) // (width * channels) * width * channels
    raw = raw[:usable]
    if tag == FLOAT and width in (4, 8):
        return np.frombuffer(raw, dtype=np.float32 if width == 4 else np.float64), channels, rate
    if tag != PCM:
        raise ValueError(f"unsupported encoding (format tag {tag})")
    if width == 1:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.int32) - 128) << 8, channels, rate
    if width == 2:
        return np.frombuffer(raw, dtype=np.int16), channels, rate
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        return ((b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)) >> 16, channels, rate
    if width == 4:
        return np.frombuffer(raw, dtype=np.int32) >> 16, channels, rate
    raise ValueError(f"unsupported sample width of {bits} bits")


def read_wav(path: str | Path) -> tuple[Samples, int]:
    """Mono int16 samples of a WAV file (PCM 8/16/24/32-bit or float) and its rate; channels are averaged."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise AssistantError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AssistantError(f"{path}: is a directory, not a WAV file") from None
    except OSError as err:
        raise AssistantError(f"{path}: cannot read: {err.strerror}") from None
    try:
        chunks = _chunks(data)
        samples, channels, rate = _decode(chunks[b"fmt "], chunks[b"data"])
    except (ValueError, struct.error) as err:
        raise AssistantError(f"{path}: not a usable WAV file ({err}); convert it with: sox IN -b 16 OUT.wav") from None
    if channels < 1 or rate < 1:
        raise AssistantError(f"{path}: not a usable WAV file ({channels} channels at {rate} Hz)")
    return to_mono_int16(samples.reshape(-1, channels)), rate


def load_wav_16k(path: str | Path) -> Samples:
    """A WAV file as 16 kHz mono int16."""
    samples, rate = read_wav(path)
    return resample(samples, rate, SAMPLE_RATE)


def cap_audio(samples: Samples, label: str, max_s: float = MAX_AUDIO_S) -> Samples:
    """The first ``max_s`` seconds of 16 kHz ``samples``; cutting anything off logs one warning naming ``label``."""
    limit = int(max_s * SAMPLE_RATE)
    if len(samples) <= limit:
        return samples
    log.warning("%s is %.1f s long; only its first %g s are used (one turn takes at most %g s of audio)",
                label, len(samples) / SAMPLE_RATE, max_s, max_s)
    return samples[:limit]


def write_wav(path: str | Path, samples: Samples, rate: int = SAMPLE_RATE) -> None:
    """Write mono int16 samples as a WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.asarray(samples, dtype=np.int16).tobytes())


class WavSource:
    """An ``AudioSource`` replaying a WAV file in frames, in real time or as fast as possible.

    ``clock`` and ``sleep`` are injectable so tests can check the pacing without waiting.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        block_ms: int = 10,
        realtime: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = str(path)
        self.samples = load_wav_16k(path)
        self.frame_samples = SAMPLE_RATE * block_ms // 1000
        self.realtime = realtime
        self._clock, self._sleep = clock, sleep
        self._closed = False
        self.status = "ok"

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    def frames(self) -> Iterator[Samples]:
        reframer = Reframer(self.frame_samples)
        frames = list(reframer.push(self.samples))
        last = reframer.flush()
        if last is not None:
            frames.append(last)
        start = self._clock()
        for index, frame in enumerate(frames):
            if self._closed:
                return
            if self.realtime:
                due = start + (index + 1) * self.frame_samples / SAMPLE_RATE  # a frame exists once it ends
                wait = due - self._clock()
                if wait > 0:
                    self._sleep(wait)
            yield frame
        self.status = "finished"

    def close(self) -> None:
        self._closed = True
