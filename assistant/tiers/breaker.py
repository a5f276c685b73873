"""Circuit breaker: after repeated failures a tier is left alone for a while, then tried once.

States: ``closed`` (use it), ``open`` (skip it until the cooldown ends), ``half-open``
(one trial allowed: success closes the breaker, failure opens it again).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    """Thread-safe breaker for one tier; ``clock`` is injectable for tests."""

    def __init__(self, name: str, failures: int = 2, cooldown_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failures < 1:
            raise ValueError("failures must be at least 1")
        self.name = name
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False
        self.last_error = ""

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def allow(self) -> bool:
        """May the tier be used now? In half-open state only one caller gets a trial."""
        with self._lock:
            state = self._state()
            if state == CLOSED:
                return True
            if state == HALF_OPEN and not self._trial:
                self._trial = True
                return True
            return False

    def success(self) -> None:
        with self._lock:
            if self._opened_at is not None:
                log.info("tier %s: back in use", self.name)
            self._failures = 0
            self._opened_at = None
            self._trial = False
            self.last_error = ""

    def failure(self, reason: str = "") -> None:
        with self._lock:
            self.last_error = reason
            self._failures += 1
            if self._trial or self._failures >= self.threshold:
                if self._opened_at is None or self._trial:
                    log.warning("tier %s left alone for %g s: %s", self.name, self.cooldown_s, reason or "repeated failures")
                self._opened_at = self._clock()
            self._trial = False

    def _state(self) -> str:
        if self._opened_at is None:
            return CLOSED
        if self._clock() - self._opened_at >= self.cooldown_s:
            return HALF_OPEN
        return OPEN
