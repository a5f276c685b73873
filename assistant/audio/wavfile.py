"""WAV files as audio: read any PCM rate and channel count, and replay them as a source."""

from __future__ import annotations

import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from assistant.audio.resample import Reframer, resample, to_mono_int16
from assistant.errors import AssistantError
from assistant.protocols import SAMPLE_RATE, Samples

_DTYPES = {1: np.uint8, 2: np.int16, 4: np.int32}


def read_wav(path: str | Path) -> tuple[Samples, int]:
    """Mono int16 samples of a PCM WAV file and its sample rate (channels are averaged)."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise AssistantError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AssistantError(f"{path}: is a directory, not a WAV file") from None
    except (wave.Error, EOFError) as err:
        raise AssistantError(f"{path}: not a PCM WAV file ({err}); convert it with: sox IN -b 16 OUT.wav") from None
    except OSError as err:
        raise AssistantError(f"{path}: cannot read: {err.strerror}") from None
    if width == 3:
        data = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        as32 = (data[:, 0].astype(np.int32) << 8) | (data[:, 1].astype(np.int32) << 16) | (data[:, 2].astype(np.int32) << 24)
        samples = as32 >> 16
    elif width in _DTYPES:
        samples = np.frombuffer(raw, dtype=_DTYPES[width]).astype(np.int32)
        samples = (samples - 128) << 8 if width == 1 else samples >> 16 if width == 4 else samples
    else:
        raise AssistantError(f"{path}: unsupported sample width of {width} bytes")
    return to_mono_int16(samples.reshape(-1, channels)), rate


def load_wav_16k(path: str | Path) -> Samples:
    """A WAV file as 16 kHz mono int16."""
    samples, rate = read_wav(path)
    return resample(samples, rate, SAMPLE_RATE)


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
