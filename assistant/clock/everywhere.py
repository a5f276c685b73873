"""Ring everywhere: other assistants' timers ring here too (``timers.ring_everywhere``).

Every assistant publishes ``<announce_topic>/<its id>/timer_event`` when a timer ends
(:mod:`assistant.clock.entities`). With ``ring_everywhere`` on, this one subscribes to
``<announce_topic>/+/timer_event``, ignores its own, and hands each valid ``timer_finished`` event
to the ringer: the same tone and spoken name, stopped the same way (the wake word, or speech in the
pause). What is rung here is never published again (no echo between assistants). Untrusted input:
at most ``MAX_EVENT_BYTES``, well-formed JSON, a name of at most ``MAX_NAME`` printable characters,
and at most ``MAX_PER_WINDOW`` rings per ``WINDOW_S`` (a flood cannot ring forever).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable

from assistant.clock.book import LATE_S, Ring
from assistant.clock.phrases import say, spoken_ago

log = logging.getLogger("assistant.clock")

MAX_EVENT_BYTES = 512
MAX_NAME = 40
MAX_PER_WINDOW = 4
WINDOW_S = 60.0


def parse_event(payload: bytes) -> tuple[str, float] | None:
    """``(name, late_s)`` of a well-formed ``timer_finished`` event; None for anything else."""
    if len(payload) > MAX_EVENT_BYTES:
        return None
    try:
        event = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(event, dict) or event.get("event_type") != "timer_finished":
        return None
    name, late = event.get("name", ""), event.get("late_s", 0)
    if not isinstance(name, str) or len(name) > MAX_NAME or not (name == "" or name.isprintable()):
        return None
    if isinstance(late, bool) or not isinstance(late, int | float) or not math.isfinite(late) or late < 0:
        return None
    return name.strip(), float(late)


class RemoteRings:
    """Turns other assistants' timer events into rings for ``sink`` (``Ringer.ring_remote``)."""

    def __init__(self, base: str, own_topic: str, language: Callable[[], str],
                 mono: Callable[[], float] = time.monotonic) -> None:
        self.filter = f"{base}/+/timer_event"
        self.own_topic = own_topic
        self.language = language
        self.mono = mono
        self.sink: Callable[[Ring], None] | None = None  # set once the ringer exists
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()

    def matches(self, topic: str) -> bool:
        parts = topic.split("/")
        return topic != self.own_topic and len(parts) == len(self.filter.split("/")) \
            and topic.startswith(self.filter.split("+")[0]) and parts[-1] == "timer_event"

    def handle(self, topic: str, payload: bytes) -> bool:
        """True when ``topic`` was another assistant's timer event (rung, or dropped as invalid)."""
        if not self.matches(topic):
            return False
        parsed = parse_event(payload)
        if parsed is None:
            log.debug("ignoring a malformed timer event on %s", topic)
            return True
        if not self._allowed():
            log.info("too many timer events from other assistants: not ringing %s", topic)
            return True
        name, late = parsed
        lang = self.language()
        if late >= LATE_S:
            text = say("timer_done_late", lang, name=name, ago=spoken_ago(round(late / 60) * 60, lang))
        else:
            text = say("timer_done", lang, name=name)
        ring = Ring("timer", name, time.time() - late, late, text, lang, remote=True)
        log.info("ringing a timer of %s: %s", topic.split("/")[-2], text)
        if self.sink is not None:
            self.sink(ring)
        return True

    def _allowed(self) -> bool:
        now = self.mono()
        with self._lock:
            while self._recent and now - self._recent[0] >= WINDOW_S:
                self._recent.popleft()
            if len(self._recent) >= MAX_PER_WINDOW:
                return False
            self._recent.append(now)
            return True
