"""Reply text to speech, sentence by sentence, as one stream of chunks for the player.

The engine thread adds sentences with ``say`` as they complete; the player's thread
iterates the stream, which synthesises each sentence when it gets to it. So playback
starts after the first sentence, and ``cancel`` (barge-in) ends the stream at once.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator

from assistant.protocols import AudioChunk, Tts

log = logging.getLogger("assistant.speech")

_MAX_QUEUED = 32


class SpeechStream:
    """A thread-safe queue of sentences that iterates as synthesised audio chunks."""

    def __init__(self, tts: Tts, on_first_audio: Callable[[], None] | None = None) -> None:
        self._tts = tts
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=_MAX_QUEUED)
        self._cancelled = threading.Event()
        self._on_first_audio = on_first_audio
        self.sentences: list[str] = []

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def say(self, text: str) -> None:
        """Queue one sentence (ignored once cancelled)."""
        text = text.strip()
        if not text:
            return
        self.sentences.append(text)
        self._put(text)

    def end(self) -> None:
        """No more sentences: the stream finishes after the queued ones."""
        self._put(None)

    def cancel(self) -> None:
        self._cancelled.set()

    def _put(self, item: str | None) -> None:
        while not self._cancelled.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[AudioChunk]:
        first = True
        while not self._cancelled.is_set():
            try:
                text = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            if text is None:
                return
            try:
                for chunk in self._tts.synthesize(text):
                    if self._cancelled.is_set():
                        return
                    if first and self._on_first_audio is not None:
                        self._on_first_audio()
                    first = False
                    yield chunk
            except Exception as err:
                log.warning("speech synthesis failed for %r: %s", text[:40], err)
