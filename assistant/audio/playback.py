"""Speech output: a ``Player`` with one playback thread, and sentence splitting for streamed text."""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from assistant.audio.devices import find_device, import_sounddevice
from assistant.audio.resample import Resampler
from assistant.protocols import AudioChunk, Tts

log = logging.getLogger("assistant.audio.playback")

PIECE_S = 0.02  # written in pieces this long, so stop() is seen at once (abort() drops the buffer)
MAX_JOBS = 32  # utterances (usually sentences) waiting to be played


class Player:
    """Plays queued speech on one thread; ``stop()`` silences it at once (barge-in).

    Each ``play()`` call queues one job (an iterable of chunks, often a lazy TTS generator
    that the playback thread pulls from), so ``play`` never blocks on synthesis.
    """

    def __init__(self, device: str = "", latency: float = 0.15, sounddevice: Any = None) -> None:
        self._sd = sounddevice or import_sounddevice()
        self._device = find_device(device, "output")
        self._latency = latency
        self._jobs: queue.Queue[tuple[int, Iterable[AudioChunk]] | None] = queue.Queue(MAX_JOBS)
        self._generation = 0
        self._lock = threading.Lock()  # jobs and generation
        self._stream_lock = threading.Lock()  # the output stream: opened, written, aborted
        self._idle = threading.Event()
        self._idle.set()
        self._stream: Any = None
        self._stream_rate = 0  # the device's rate
        self._source_rate = 0  # the rate of the chunks it was opened for
        self._resampler: Resampler | None = None
        self.played_s = 0.0
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name="playback", daemon=True)
        self._thread.start()

    @property
    def speaking(self) -> bool:
        return not self._idle.is_set()

    def play(self, chunks: Iterable[AudioChunk]) -> None:
        """Queue speech; returns at once. A full queue drops the job with a warning."""
        with self._lock:
            self._idle.clear()
            try:
                self._jobs.put_nowait((self._generation, chunks))
            except queue.Full:
                log.warning("playback queue full: dropping speech")

    def stop(self) -> None:
        """Silence now (what PortAudio has buffered is dropped) and drop everything queued."""
        with self._lock:
            self._generation += 1
            while True:
                try:
                    self._jobs.get_nowait()
                except queue.Empty:
                    break
        with self._stream_lock:
            self._close_stream(drain=False)
        with self._lock:
            if self._jobs.empty():
                self._idle.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until nothing is playing; False on timeout."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        self.stop()
        self._jobs.put(None)
        self._thread.join(timeout=5)

    # -- the playback thread --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                with self._stream_lock:
                    self._close_stream(drain=False)
                return
            generation, chunks = item
            try:
                self._play_job(generation, chunks)
            except Exception as err:  # a bad device must not kill the thread
                self.errors += 1
                log.warning("playback failed: %s", err)
                with self._stream_lock:
                    self._close_stream(drain=False)
            if self._jobs.empty():  # let the last buffer play out (abort if stopped), then release the device
                with self._stream_lock:
                    self._close_stream(drain=generation == self._generation)
                with self._lock:
                    if self._jobs.empty():
                        self._idle.set()

    def _play_job(self, generation: int, chunks: Iterable[AudioChunk]) -> None:
        for chunk in chunks:  # synthesis happens here, outside the stream lock
            samples = np.ascontiguousarray(chunk.samples, dtype=np.int16)
            written = 0
            while written < len(samples):
                with self._stream_lock:
                    if generation != self._generation:
                        return
                    if written == 0:
                        samples = self._prepare(chunk.sample_rate, samples)
                        if not len(samples):
                            break
                    piece = samples[written : written + max(1, int(self._stream_rate * PIECE_S))]
                    self._stream.write(piece)
                written += len(piece)
                self.played_s += len(piece) / self._stream_rate

    def _prepare(self, rate: int, samples: np.ndarray) -> np.ndarray:
        """Open (or reopen for a new rate) the stream; the samples at the device's rate."""
        if self._stream is None or rate != self._source_rate:
            self._close_stream(drain=True)
            self._open(rate)
        return self._resampler.process(samples) if self._resampler is not None else samples

    def _open(self, rate: int) -> None:
        sd = self._sd
        try:
            stream = sd.OutputStream(device=self._device, samplerate=rate, channels=1, dtype="int16", latency=self._latency)
            self._resampler = None
        except sd.PortAudioError:  # the device does not do this rate: play at its own rate
            native = int(sd.query_devices(self._device, "output")["default_samplerate"])
            stream = sd.OutputStream(device=self._device, samplerate=native, channels=1, dtype="int16", latency=self._latency)
            self._resampler = Resampler(rate, native)
        stream.start()
        self._stream, self._stream_rate, self._source_rate = stream, int(stream.samplerate), rate

    def _close_stream(self, drain: bool) -> None:
        """Stop (``drain``: after the buffer has played) and close; call with the stream lock held."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            if drain:
                stream.stop()
            else:
                stream.abort()
            stream.close()
        except Exception as err:
            log.debug("closing output stream: %s", err)


_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "approx", "prof", "jr", "sr"}
_END = re.compile(r"""([.!?…]+["')\]]*)(\s+|$)|\n""")


class SentenceSplitter:
    """Turns streamed text deltas into complete sentences, so speech can start with the first."""

    def __init__(self) -> None:
        self._text = ""

    def push(self, delta: str) -> list[str]:
        """Add text; returns the sentences it completed (ended by . ! ? and a space, or a newline)."""
        self._text += delta
        out: list[str] = []
        start = 0
        for match in _END.finditer(self._text):
            punct = match.group(1)
            if punct is not None and not match.group(2):
                break  # punctuation at the very end: the next delta may continue it ("3." -> "3.5")
            end = match.end(1) if punct is not None else match.start()
            candidate = self._text[start:end].strip()
            if punct is not None and punct.startswith(".") and _abbreviation(candidate):
                continue
            if candidate:
                out.append(candidate)
            start = match.end()
        self._text = self._text[start:]
        return out

    def flush(self) -> list[str]:
        """What is left at the end of the reply."""
        rest, self._text = self._text.strip(), ""
        return [rest] if rest else []


def _abbreviation(candidate: str) -> bool:
    """Whether ``candidate`` ends in an abbreviation or an initial ("Mr.", "J."), not a sentence."""
    words = candidate.rstrip(".").rsplit(maxsplit=1)
    last = words[-1].casefold() if words else ""
    return last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())


def sentences(deltas: Iterable[str]) -> Iterator[str]:
    """Complete sentences from a stream of text deltas."""
    splitter = SentenceSplitter()
    for delta in deltas:
        yield from splitter.push(delta)
    yield from splitter.flush()


def speak(deltas: Iterable[str], tts: Tts, player: Player) -> int:
    """Speak a streamed reply: each sentence is queued as soon as it is complete, so speech
    starts with the first one while the rest is still being generated. Returns the count."""
    count = 0
    for sentence in sentences(deltas):
        player.play(tts.synthesize(sentence))
        count += 1
    return count
