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
from collections.abc import Callable, Iterator

from assistant.clock.book import ClockBook, Ring
from assistant.protocols import AudioChunk, Tts
from assistant.service.ports import Player
from assistant.service.tones import tone

log = logging.getLogger("assistant.clock")

CHECK_EVERY_S = 0.25
PUBLISH_EVERY_S = 5.0


def ring_tone() -> list[AudioChunk]:
    """Three rising notes, twice."""
    notes = [tone(880.0, 120), tone(0.0, 60, 0.0), tone(1175.0, 120), tone(0.0, 60, 0.0), tone(1568.0, 200)]
    return [*notes, tone(0.0, 200, 0.0), *notes]


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
                self._start(self.book.due(), now)
        except OSError as err:
            log.warning("cannot read or write the timers: %s", err)
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

    def stop(self) -> bool:
        """End a ring now; True when one was ringing."""
        with self._lock:
            was = bool(self.rings)
            if was:
                log.info("ring stopped")
                self._stop_locked()
            return was

    def _start(self, rings: list[Ring], now: float) -> None:
        if not rings:
            return
        with self._lock:
            self.rings, self._started, self._next_cycle, self.cycles = rings, now, now, 0
        try:
            self.on_ring(rings)
        except Exception as err:
            log.warning("announcing the ring failed: %s", err)

    def _play(self) -> None:
        self.cycles += 1
        self._playing = True
        self.player.play(self._chunks(" ".join(r.text for r in self.rings)))

    def _chunks(self, text: str) -> Iterator[AudioChunk]:
        yield from ring_tone()
        yield from self.tts.synthesize(text)

    def _stop_locked(self) -> None:
        self.rings = []
        if self._playing:
            self._playing = False
            self.player.stop()
