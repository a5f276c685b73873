"""An ``AudioSource`` fed from WAV files: ``assistant run --wav`` runs the same pipeline on them.

Each file is converted to 16 kHz mono int16, cut into frames and followed by silence so the
endpointer can end the utterance. Before each file the source waits (yielding real-time
silence) until the loop is ready for it, so one file is one turn.
"""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError
from assistant.protocols import SAMPLE_RATE, Samples


def read_wav(path: Path) -> Samples:
    """The file as 16 kHz mono int16; one-line errors for anything unreadable."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise AssistantError(f"{path}: file not found") from None
    except (wave.Error, EOFError) as err:
        raise AssistantError(f"{path}: not a PCM WAV file ({err or 'truncated'})") from None
    except OSError as err:
        raise AssistantError(f"{path}: cannot read ({err.strerror})") from None
    if width not in (1, 2, 4):
        raise AssistantError(f"{path}: {8 * width}-bit samples are not supported (use 8, 16 or 32-bit PCM)")
    dtype = {1: np.uint8, 2: np.int16, 4: np.int32}[width]
    data = np.frombuffer(raw, dtype=dtype).astype(np.float64)
    if width == 1:
        data = (data - 128.0) * 256.0
    elif width == 4:
        data /= 65536.0
    data = data.reshape(-1, channels).mean(axis=1) if channels > 1 else data
    if rate != SAMPLE_RATE and len(data):
        n = round(len(data) * SAMPLE_RATE / rate)
        data = np.interp(np.arange(n) * rate / SAMPLE_RATE, np.arange(len(data)), data)
    return np.clip(np.round(data), -32768, 32767).astype(np.int16)


class WavSource:
    """Frames from files in order, then ends; ``close`` ends it early from any thread."""

    def __init__(
        self,
        paths: Sequence[Path],
        block_ms: int = 10,
        gap_s: float = 1.5,
        realtime: bool = False,
        ready: Callable[[], bool] = lambda: True,
        on_file_start: Callable[[Path], None] = lambda path: None,
    ) -> None:
        self.clips = [(Path(p), read_wav(Path(p))) for p in paths]
        self.block = SAMPLE_RATE * block_ms // 1000
        self.gap_s = gap_s
        self.realtime = realtime
        self.ready = ready
        self.on_file_start = on_file_start
        self._closed = threading.Event()
        self._silence = np.zeros(self.block, dtype=np.int16)

    def frames(self) -> Iterator[Samples]:
        period = self.block / SAMPLE_RATE
        next_at = time.monotonic()
        for path, samples in self.clips:
            while not self.ready() and not self._closed.is_set():
                yield self._silence
                next_at = self._pace(next_at + period, always=True)
            self.on_file_start(path)
            gap = np.zeros(int(self.gap_s * SAMPLE_RATE), dtype=np.int16)
            audio = np.concatenate([samples, gap])
            for i in range(0, len(audio), self.block):
                if self._closed.is_set():
                    return
                frame = audio[i: i + self.block]
                yield frame if len(frame) == self.block else np.pad(frame, (0, self.block - len(frame)))
                next_at = self._pace(next_at + period)

    def _pace(self, next_at: float, always: bool = False) -> float:
        now = time.monotonic()
        if not (self.realtime or always):
            return now
        if next_at > now:
            self._closed.wait(next_at - now)
            return next_at
        return now

    def close(self) -> None:
        self._closed.set()
