"""Announcements from the house: texts published over MQTT, spoken when the assistant is free.

A payload is plain text (spoken by every assistant that receives it) or JSON::

    {"text": "Dinner is ready", "title": "", "chime": true, "language": "en",
     "area": "kitchen" | "areas": ["kitchen", "hall"] | "all": true}

On the house topic a JSON target (``area``, ``areas`` or ``all``; the name ``all`` counts too) is
compared with ``mqtt.area`` (case and spacing ignored); an assistant outside the target ignores
it. On the assistant's own topic (and from its Home Assistant notify entity) it always speaks.
Accepted announcements wait in a queue until the loop is idle (never during a turn or another
announcement) and are never dropped while the service runs; a length limit, a token-bucket rate
limit and a queue bound refuse floods. Each outcome (queued, refused, spoken) is reported.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from assistant.audio.playback import sentences
from assistant.config.schema import AnnounceConfig
from assistant.logs import RateLimitedLog
from assistant.protocols import AudioChunk, Tts
from assistant.service.speech import Multilingual
from assistant.service.tones import tone

log = logging.getLogger("assistant.announce")

MAX_PAYLOAD = 16 * 1024
LANGUAGES = ("en", "de", "fr", "es")


class Refused(Exception):
    """An announcement that will not be spoken; ``str()`` says why."""


@dataclass(frozen=True)
class Announcement:
    text: str
    chime: bool = True
    language: str = ""  # "" = from the text


def area_key(name: str) -> str:
    """Case- and space-insensitive form of a room name (as ``assistant.home.registry.squash``)."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def targets(data: dict[str, object], area: str) -> bool:
    """Whether a JSON announcement on the house topic is meant for an assistant in ``area``."""
    if data.get("all") is True:
        return True
    named: list[str] = []
    if isinstance(data.get("area"), str):
        named.append(str(data["area"]))
    areas = data.get("areas")
    if isinstance(areas, list):
        named += [a for a in areas if isinstance(a, str)]
    elif isinstance(areas, str):
        named.append(areas)
    if not named:
        return "area" not in data and "areas" not in data  # no target: everyone
    keys = {area_key(a) for a in named}
    return "all" in keys or (bool(area_key(area)) and area_key(area) in keys)


def parse(payload: bytes, cfg: AnnounceConfig, *, house: bool = False, area: str = "") -> Announcement | None:
    """The announcement in ``payload``; None when it targets other rooms (house topic); raises Refused."""
    if len(payload) > MAX_PAYLOAD:
        raise Refused(f"payload larger than {MAX_PAYLOAD} bytes")
    raw = payload.decode("utf-8", "replace").strip()
    chime, language, text = cfg.chime, "", raw
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError:
            raise Refused("invalid JSON") from None
        if not isinstance(data, dict):
            raise Refused("JSON payload must be an object")
        if house and not targets(data, area):
            return None
        body = data.get("text", data.get("message", ""))
        title = data.get("title")
        if not isinstance(body, str):
            raise Refused("text must be a string")
        text = f"{title.strip().rstrip('.')}. {body}" if isinstance(title, str) and title.strip() else body
        if "chime" in data:
            if not isinstance(data["chime"], bool):
                raise Refused("chime must be true or false")
            chime = data["chime"]
        language = data.get("language", "") or ""
        if language not in ("", *LANGUAGES):
            raise Refused(f"unknown language {str(language)[:10]!r} (one of {', '.join(LANGUAGES)})")
    text = " ".join(text.split())
    if not text:
        raise Refused("no text")
    if len(text) > cfg.max_chars:
        raise Refused(f"longer than {cfg.max_chars} characters")
    return Announcement(text, chime, str(language))


class RateLimit:
    """Token bucket: ``burst`` at once, then ``per_minute``; ``clock`` is injectable."""

    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = per_minute / 60.0, float(burst), clock
        self.tokens, self.at = float(burst), clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def chime() -> list[AudioChunk]:
    """Two rising notes before an announcement."""
    return [tone(660.0, 140, 0.25), tone(880.0, 220, 0.25)]


Report = Callable[[str, str, str], None]
"""``report(status, text, reason)``: status is queued, refused or spoken."""


class AnnouncementQueue:
    """Thread-safe queue of accepted announcements; the loop takes one with ``next_job`` when idle."""

    def __init__(self, cfg: AnnounceConfig, tts: Tts, area: str = "", clock: Callable[[], float] = time.monotonic,
                 report: Report | None = None) -> None:
        self.cfg, self.tts, self.area = cfg, tts, area
        self.limit = RateLimit(cfg.per_minute, cfg.burst, clock)
        self.report = report or (lambda status, text, reason: None)
        self._queue: deque[Announcement] = deque()
        self._lock = threading.Lock()
        self._refusals = RateLimitedLog(log, 10.0)  # a flood must not flood the journal too
        self.spoken: list[str] = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)

    def receive(self, payload: bytes, house: bool = False) -> str:
        """Parse, check and queue one MQTT payload; returns its status (queued, refused: ..., ignored)."""
        try:
            announcement = parse(payload, self.cfg, house=house, area=self.area)
            if announcement is None:
                return "ignored"
            self.submit(announcement)
        except Refused as why:
            self._refusals.warning("announcement refused: %s", why)
            self.report("refused", payload[:80].decode("utf-8", "replace"), str(why))
            return f"refused: {why}"
        return "queued"

    def submit(self, announcement: Announcement) -> None:
        with self._lock:
            if len(self._queue) >= self.cfg.max_queued:
                raise Refused(f"{self.cfg.max_queued} announcements are already waiting")
            if not self.limit.take():
                raise Refused(f"more than {self.cfg.per_minute} announcements a minute")
            self._queue.append(announcement)
        log.info("announcement queued: %s", announcement.text[:60])
        self.report("queued", announcement.text, "")

    def pending(self) -> bool:
        return len(self) > 0

    def next_job(self) -> Iterator[AudioChunk] | None:
        """The next announcement as audio (chime, then speech), or None when none waits."""
        with self._lock:
            if not self._queue:
                return None
            announcement = self._queue.popleft()
        return self._audio(announcement)

    def _audio(self, a: Announcement) -> Iterator[AudioChunk]:
        if a.chime:
            yield from chime()
        session = self.tts.session(a.language, track=False) if isinstance(self.tts, Multilingual) else None
        for sentence in sentences([a.text]):
            if session is not None and isinstance(self.tts, Multilingual):
                text, language = session.prepare(sentence)
                yield from self.tts.synthesize_in(text, language)
            else:
                yield from self.tts.synthesize(sentence)
        self.spoken.append(a.text)
        log.info("announcement spoken: %s", a.text[:60])
        self.report("spoken", a.text, "")
