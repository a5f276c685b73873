"""An ``AudioSource`` fed from WAV files: ``assistant run --wav`` runs the same pipeline on them.

Each file is converted to 16 kHz mono int16, cut to ``max_s`` (one warning), cut into frames and followed by silence so the
endpointer can end the utterance. Before each file the source waits (yielding real-time
silence) until the loop is ready for it, so one file is one turn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from assistant.audio.wavfile import MAX_AUDIO_S, cap_audio, load_wav_16k
from assistant.protocols import SAMPLE_RATE, Samples


class TurnWavSource:
    """Frames from files in order, then ends; ``close`` ends it early from any thread."""

    def __init__(
        self,
        paths: Sequence[Path],
        block_ms: int = 10,
        gap_s: float = 1.5,
        realtime: bool = False,
        ready: Callable[[], bool] = lambda: True,
        on_file_start: Callable[[Path], None] = lambda path: None,
        max_s: float = MAX_AUDIO_S,
    ) -> None:
        self.clips = [(Path(p), cap_audio(load_wav_16k(p), str(p), max_s)) for p in paths]
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
