"""Reply text to speech, sentence by sentence, as one stream of chunks for the player.

The engine thread adds sentences with ``say`` as they complete; the player's thread
iterates the stream, which synthesises each sentence when it gets to it. So playback
starts after the first sentence, and ``cancel`` (barge-in) ends the stream at once.
With a multilingual TTS (``assistant.language.voices.LanguageTts``) each sentence is given its
language when it is queued: the service's fixed phrases are translated into the reply's language,
and ``sentences`` holds what is actually spoken.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable

from assistant.protocols import AudioChunk, Tts

log = logging.getLogger("assistant.speech")

_MAX_QUEUED = 32


class LanguageSession(Protocol):
    def prepare(self, sentence: str) -> tuple[str, str]: ...


@runtime_checkable
class Multilingual(Protocol):
    """A TTS that speaks several languages (``assistant.language.voices.LanguageTts``)."""

    def session(self, language: str = "", track: bool = True) -> LanguageSession: ...

    def synthesize_in(self, text: str, language: str) -> Iterator[AudioChunk]: ...


class SpeechStream:
    """A thread-safe queue of sentences that iterates as synthesised audio chunks."""

    def __init__(self, tts: Tts, on_first_audio: Callable[[], None] | None = None, language: str = "",
                 track: bool = True) -> None:
        self._tts = tts
        self._session = tts.session(language, track) if isinstance(tts, Multilingual) else None
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(maxsize=_MAX_QUEUED)
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
        language = ""
        if self._session is not None:
            text, language = self._session.prepare(text)
        self.sentences.append(text)
        self._put((text, language))

    def end(self) -> None:
        """No more sentences: the stream finishes after the queued ones."""
        self._put(None)

    def cancel(self) -> None:
        self._cancelled.set()

    def _put(self, item: tuple[str, str] | None) -> None:
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
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            if item is None:
                return
            text, language = item
            try:
                chunks = self._tts.synthesize_in(text, language) if isinstance(self._tts, Multilingual) and language \
                    else self._tts.synthesize(text)
                for chunk in chunks:
                    if self._cancelled.is_set():
                        return
                    if first and self._on_first_audio is not None:
                        self._on_first_audio()
                    first = False
                    yield chunk
            except Exception as err:
                log.warning("speech synthesis failed for %r: %s", text[:40], err)
