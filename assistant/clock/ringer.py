"""Ringing: a tone and the spoken name, repeated until stopped (the wake word) or for ``ring_max_s``.

The loop calls ``tick(idle)`` on every audio frame; it looks at the book a few times a second
(monotonic clock, injectable). A ring starts only while the loop is idle, so a timer that ends
during a turn rings right after it. One that ended while the service was down rings once.
``stop()`` (the wake word, or a stop from anywhere) ends it at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import numpy as np

from assistant.clock.book import ClockBook, Ring
from assistant.logs import RateLimitedLog
from assistant.protocols import SAMPLE_RATE, AudioChunk, Tts
from assistant.service.speech import Multilingual

log = logging.getLogger("assistant.clock")

CHECK_EVERY_S = 0.25
MAX_REMOTE_PENDING = 4  # other assistants' rings waiting for this one to be idle
PUBLISH_EVERY_S = 5.0


class Player(Protocol):
    """The speaker (``assistant.audio.playback.Player``)."""

    def play(self, chunks: Iterable[AudioChunk]) -> None: ...

    def stop(self) -> None: ...

    @property
    def speaking(self) -> bool: ...


def _note(freq_hz: float, ms: int, level: float = 0.25) -> np.ndarray:
    t = np.arange(int(SAMPLE_RATE * ms / 1000)) / SAMPLE_RATE
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)  # 10 ms fades: no clicks
    return np.sin(2 * np.pi * freq_hz * t) * level * fade


def ring_tone() -> list[AudioChunk]:
    """Three rising notes, twice, with short gaps."""
    gap = np.zeros(int(SAMPLE_RATE * 0.06))
    notes = np.concatenate([_note(880.0, 120), gap, _note(1175.0, 120), gap, _note(1568.0, 200), gap * 3])
    return [AudioChunk((np.tile(notes, 2) * 32767).astype(np.int16), SAMPLE_RATE)]


class Ringer:
    def __init__(self, book: ClockBook, tts: Tts, player: Player, ring_max_s: float = 60.0, pause_s: float = 2.0,
                 mono: Callable[[], float] = time.monotonic, on_ring: Callable[[list[Ring]], None] = lambda rings: None,
                 on_tick: Callable[[], None] = lambda: None) -> None:
        self.book, self.tts, self.player = book, tts, player
        self.ring_max_s, self.pause_s = ring_max_s, pause_s
        self.mono = mono
        self.on_ring = on_ring
        self.on_tick = on_tick  # every PUBLISH_EVERY_S while something is on the book (the remaining-time sensor)
        self.rings: list[Ring] = []
        self.cycles = 0
        self._lock = threading.Lock()
        self._started = 0.0
        self._next_check = 0.0
        self._next_publish = 0.0
        self._next_cycle = 0.0
        self._playing = False
        self._errors = RateLimitedLog(log)
        self._remote: list[Ring] = []  # other assistants' timers (``ring_remote``), rung when idle

    def ring_remote(self, ring: Ring) -> None:
        """Ring another assistant's timer here too (from the MQTT thread); dropped when too many wait."""
        with self._lock:
            if len(self._remote) < MAX_REMOTE_PENDING:
                self._remote.append(ring)

    @property
    def ringing(self) -> bool:
        return bool(self.rings)

    def tick(self, idle: bool) -> None:
        now = self.mono()
        if now < self._next_check:
            return
        self._next_check = now + CHECK_EVERY_S
        try:
            self.book.refresh()
            if self.book.state.timers and now >= self._next_publish:
                self._next_publish = now + PUBLISH_EVERY_S
                self.on_tick()
            if idle and not self.rings:
                self._start(self.book.due() + self._take_remote(), now)
        except Exception as err:  # a full disk or a broken file must never stop the audio loop
            self._errors.warning("cannot read or write the timers: %s", err or type(err).__name__)
        with self._lock:
            if not self.rings:
                return
            if now - self._started >= self.ring_max_s:
                log.info("nobody stopped the ring: giving up after %g s", self.ring_max_s)
                self._stop_locked()
                return
            if self._playing and not self.player.speaking:
                self._playing = False
                if not all(r.repeat for r in self.rings):
                    self.rings = []  # a late ring is said once
                    return
                self._next_cycle = now + self.pause_s
            if idle and not self._playing and now >= self._next_cycle:
                self._play()

    def pause_left_s(self) -> float:
        """Seconds left of the pause between two cycles of a ring (the loop listens then); 0 when not in one."""
        with self._lock:
            if not self.rings or self._playing:
                return 0.0
            return max(0.0, self._next_cycle - self.mono())

    def stop(self) -> bool:
        """End a ring now; True when one was ringing."""
        with self._lock:
            was = bool(self.rings)
            if was:
                log.info("ring stopped")
                self._stop_locked()
            return was

    def _take_remote(self) -> list[Ring]:
        with self._lock:
            remote, self._remote = self._remote, []
        return remote

    def _start(self, rings: list[Ring], now: float) -> None:
        if not rings:
            return
        with self._lock:
            self.rings, self._started, self._next_cycle, self.cycles = rings, now, now, 0
        own = [r for r in rings if not r.remote]  # another assistant's ring is its to publish
        try:
            if own:
                self.on_ring(own)
        except Exception as err:
            log.warning("announcing the ring failed: %s", err)

    def _play(self) -> None:
        self.cycles += 1
        self._playing = True
        self.player.play(self._chunks(list(self.rings)))

    def _chunks(self, rings: list[Ring]) -> Iterator[AudioChunk]:
        """The tone, then each ring's words in its own language (the one of the turn that set it)."""
        yield from ring_tone()
        for ring in rings:
            if isinstance(self.tts, Multilingual):
                yield from self.tts.synthesize_in(ring.text, ring.language)
            else:
                yield from self.tts.synthesize(ring.text)

    def _stop_locked(self) -> None:
        self.rings = []
        if self._playing:
            self._playing = False
            self.player.stop()
