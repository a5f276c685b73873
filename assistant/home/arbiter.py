"""Wake arbitration over MQTT: the assistant that heard the wake word best answers, the others stay quiet.

At a wake word the assistant publishes a claim (``assistant.home.claims``) on the shared topic
``<announce_topic>/_house/wake`` and the loop keeps listening while it polls the ruling. The ruling
is decided from the claims' arrival here, so clocks that differ between Pis do not matter.

- Every assistant online has claimed: decided at once (no need to wait for the window's end).
- Alone (no other arbitrating assistant online, ``assistant.home.presence``), in a conversation,
  or with the broker down: answer at once, as a single assistant does.
- Our own claim not back from the broker within the window plus ``ECHO_WAIT_S``: answer alone.
- Defences: only well-formed claims of at most ``claims.MAX_BYTES`` from assistants present on the
  broker count; each id may claim ``ID_BURST`` times per ``ID_PERIOD_S`` (more and it is ignored for
  ``MUZZLE_S``); at most ``MAX_PER_SECOND`` claims a second are read at all; and a claim only ever
  matters within its round (about a second), so no client can silence the house for long.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from assistant.config.schema import MqttConfig
from assistant.home.claims import BadClaim, Claim, Rounds, parse_claim
from assistant.home.presence import Presence
from assistant.logs import RateLimitedLog

log = logging.getLogger("assistant.home")
HOUSE = "_house"  # never a node name: slugs do not start with "_"
ECHO_WAIT_S = 0.3
SPAN_S = 1.0
ID_BURST = 10  # a real assistant claims at most every refractory period (2 s), plus a hold now and then
ID_PERIOD_S = 10.0
MUZZLE_S = 60.0
MAX_PER_SECOND = 50
MAX_IDS = 64


class Evidence(Protocol):
    """How well the wake word was heard (``assistant.service.arbitration.WakeEvidence``)."""

    @property
    def level_db(self) -> float: ...

    @property
    def wake_score(self) -> float: ...


class Decided:
    """A ruling known at once."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer

    def outcome(self, now: float) -> bool | None:
        return self.answer


class Link(Protocol):
    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: str, retain: bool = False) -> None: ...


def claim_topic(cfg: MqttConfig) -> str:
    return f"{cfg.announce_topic.strip('/')}/{HOUSE}/wake"


class Limiter:
    """Per-id burst limit with a muzzle, and a global ceiling on claims read per second."""

    def __init__(self) -> None:
        self._recent: dict[str, deque[float]] = {}
        self._muzzled: dict[str, float] = {}
        self._second: deque[float] = deque()

    def allow(self, ident: str, now: float) -> bool:
        while self._second and now - self._second[0] > 1.0:
            self._second.popleft()
        if len(self._second) >= MAX_PER_SECOND:
            return False
        self._second.append(now)
        if self._muzzled.get(ident, float("-inf")) > now:
            return False
        recent = self._recent.get(ident)
        if recent is None:
            if len(self._recent) >= MAX_IDS:
                self._recent.pop(next(iter(self._recent)))
            recent = self._recent[ident] = deque()
        while recent and now - recent[0] > ID_PERIOD_S:
            recent.popleft()
        if len(recent) >= ID_BURST:
            self._muzzled[ident] = now + MUZZLE_S
            recent.clear()
            log.warning("assistant %r claims the wake word too often: ignoring it for %g s", ident, MUZZLE_S)
            return False
        recent.append(now)
        return True


class MqttRuling:
    """One claim waiting for its round; decided on the loop's thread when it polls."""

    def __init__(self, arbiter: MqttArbiter, claim: Claim, deadline: float) -> None:
        self.arbiter, self.claim, self.deadline = arbiter, claim, deadline
        self._outcome: bool | None = None

    def outcome(self, now: float) -> bool | None:
        if self._outcome is None:
            self._outcome = self.arbiter.decide(self, now)
        return self._outcome


class MqttArbiter:
    """Implements ``assistant.service.arbitration.WakeArbiter`` (the home package imports no service
    module, so the types are structural); ``handle`` runs on the MQTT network thread."""

    def __init__(self, cfg: MqttConfig, presence: Presence, link: Link | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.node = presence.node
        self.topic = claim_topic(cfg)
        self.presence = presence
        self.link = link
        self.offset_db = cfg.wake_level_offset_db
        self.window_s = cfg.arbitration_window_ms / 1000.0
        self.clock, self.wall = clock, wall
        self._lock = threading.Lock()
        self._rounds = Rounds(self.window_s, SPAN_S)
        self._limiter = Limiter()
        self._bad = RateLimitedLog(log, 60.0)
        self.last_wait_s: float | None = None  # how long the latest contested claim waited (bench, logs)

    # ---- MQTT side ---------------------------------------------------------------------------

    def subscriptions(self) -> set[str]:
        return {self.topic}

    def handles(self, topic: str) -> bool:
        return topic == self.topic

    def handle(self, topic: str, payload: bytes) -> None:
        now = self.clock()
        try:
            claim = parse_claim(payload)
        except BadClaim as err:
            self._bad.warning("ignoring a malformed wake claim (%s)", err)
            return
        with self._lock:
            mine = claim.id == self.node
            if not mine and not (self._limiter.allow(claim.id, now) and self.presence.is_peer(claim.id)):
                return
            self._rounds.add(claim, now)

    def heard_at(self, nonce: str) -> float | None:
        """When the claim ``nonce`` came back from the broker (this arbiter's clock), if it did."""
        with self._lock:
            return self._rounds.arrival(nonce)

    # ---- the loop's side ---------------------------------------------------------------------

    def claim(self, evidence: Evidence, in_conversation: bool = False) -> Decided | MqttRuling:
        now = self.clock()
        claim = Claim(self.node, secrets.token_hex(8), round(evidence.level_db + self.offset_db, 2),
                      round(min(1.0, max(0.0, evidence.wake_score)), 3), in_conversation, self.wall())
        link = self.link
        if link is None or not link.connected:
            log.debug("wake claim: the broker is not connected, answering alone")
            return Decided(True)
        link.publish(self.topic, claim.encode())
        if in_conversation:
            return Decided(True)
        if self.window_s <= 0 or not self.presence.peers_online():
            return Decided(True)
        log.debug("wake claim %s (score %.1f): waiting up to %.0f ms", claim.nonce, claim.score, self.window_s * 1000)
        return MqttRuling(self, claim, now + self.window_s + ECHO_WAIT_S)

    def decide(self, ruling: MqttRuling, now: float) -> bool | None:
        expected = len(self.presence.peers_online()) + 1
        with self._lock:
            won = self._rounds.decide(ruling.claim.nonce, now, expected)
            winner = self._rounds.winner(ruling.claim.nonce) if won is False else None
        if won is None:
            if now < ruling.deadline:
                return None
            log.warning("wake claim not echoed by the broker in time: answering alone")
            won = True
        self.last_wait_s = now - (ruling.deadline - self.window_s - ECHO_WAIT_S)
        if won:
            log.info("won the wake word (score %.1f dB) after %.0f ms", ruling.claim.score, self.last_wait_s * 1000)
        else:
            who = f"{winner.id} (score {winner.score:.1f} dB)" if winner is not None else "another assistant"
            log.info("wake word: %s answers; staying quiet (score %.1f dB)", who, ruling.claim.score)
        return won
