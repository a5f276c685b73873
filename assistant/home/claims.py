"""Wake claims on the shared topic: their wire form, their checks, and who wins a round.

A claim is one small JSON object::

    {"v":1,"id":"kitchen","n":"3f9a0c1d","t":1733331234.512,"score":-21.4,"wake":0.97,"conv":false}

``id`` the assistant (its node name), ``n`` a nonce naming this claim, ``t`` the sender's wall clock at
detection (informational only: Pis' clocks differ), ``score`` the wake phrase's loudness in dBFS plus
the assistant's calibration offset, ``wake`` the wake-word probability, ``conv`` the sender is
already in a conversation with the user (follow-up or barge-in) and keeps it.

Rounds are built from arrival times on this machine's monotonic clock, never from ``t``: the broker
delivers the claims of one topic to every subscriber in the same order at nearly the same moment, so
every assistant sees the same rounds. The first claim after a quiet ``span_s`` opens a round; claims
arriving within ``window_s`` of the opening are its members; later ones in the span are late and
lose. Once every assistant online has claimed, the round is decided without waiting for the
window's end. The best member wins: a conversation first, then the higher score, the higher wake
probability, then the greater id (and nonce), so every assistant picks the same winner.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from dataclasses import dataclass

MAX_BYTES = 256
ID_RE = re.compile(r"[a-z0-9_]{1,64}")
NONCE_RE = re.compile(r"[0-9a-f]{8,32}")
SCORE_RANGE = (-200.0, 200.0)
KEYS = {"v", "id", "n", "t", "score", "wake", "conv"}


class BadClaim(ValueError):
    """A message on the claim topic that is not a well-formed claim; ``str()`` says why (for the debug log)."""


@dataclass(frozen=True)
class Claim:
    id: str
    nonce: str
    score: float
    wake: float = 1.0
    conv: bool = False
    sent_at: float = 0.0  # the sender's wall clock; never compared

    def encode(self) -> str:
        return json.dumps({"v": 1, "id": self.id, "n": self.nonce, "t": round(self.sent_at, 3),
                           "score": self.score, "wake": self.wake, "conv": self.conv}, separators=(",", ":"))

    def rank(self) -> tuple[bool, float, float, str, str]:
        return (self.conv, self.score, self.wake, self.id, self.nonce)


def parse_claim(payload: bytes) -> Claim:
    """The claim in ``payload``, or raise :class:`BadClaim`: size, JSON shape, types and ranges are all checked."""
    if len(payload) > MAX_BYTES:
        raise BadClaim(f"{len(payload)} bytes")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadClaim("not JSON") from None
    if not isinstance(data, dict) or set(data) - KEYS or not {"v", "id", "n", "score"} <= set(data):
        raise BadClaim("not a claim object")
    if data["v"] != 1:
        raise BadClaim("unknown version")
    ident, nonce = data["id"], data["n"]
    if not isinstance(ident, str) or not ID_RE.fullmatch(ident) or not isinstance(nonce, str) or not NONCE_RE.fullmatch(nonce):
        raise BadClaim("bad id or nonce")
    score = _number(data["score"], *SCORE_RANGE)
    wake = _number(data.get("wake", 1.0), 0.0, 1.0)
    sent = _number(data.get("t", 0.0), 0.0, 1e11)
    conv = data.get("conv", False)
    if not isinstance(conv, bool):
        raise BadClaim("bad conv")
    return Claim(ident, nonce, score, wake, conv, sent)


def _number(value: object, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not lo <= value <= hi:
        raise BadClaim("number out of range")
    return float(value)


class Rounds:
    """The claims heard in the last ``span_s``, grouped into rounds. Not thread-safe: the caller locks."""

    def __init__(self, window_s: float, span_s: float = 1.0) -> None:
        self.window_s = window_s
        self.span_s = max(span_s, window_s)
        self._heard: deque[tuple[float, Claim]] = deque()  # (arrival, claim), in arrival order
        self._opens: deque[float] = deque()  # arrival time of each round's first claim

    def add(self, claim: Claim, arrived: float) -> None:
        self.expire(arrived)
        if not self._opens or arrived - self._opens[-1] > self.span_s:
            self._opens.append(arrived)
        self._heard.append((arrived, claim))

    def expire(self, now: float) -> None:
        """Forget claims older than two spans: a claim never matters after its round."""
        while self._heard and now - self._heard[0][0] > 2 * self.span_s:
            self._heard.popleft()
        while self._opens and now - self._opens[0] > 2 * self.span_s:
            self._opens.popleft()

    def arrival(self, nonce: str) -> float | None:
        return next((t for t, c in self._heard if c.nonce == nonce), None)

    def decide(self, nonce: str, now: float, expected: int = 0) -> bool | None:
        """Whether the claim ``nonce`` won its round: None until the round's window closed (or unheard).

        ``expected``: how many assistants can claim at all; once that many have claimed in the round,
        nobody else will, and it is decided without waiting for the end of the window."""
        mine = self.arrival(nonce)
        if mine is None:
            return None
        opened = max((t for t in self._opens if t <= mine), default=mine)
        closes = opened + self.window_s
        if mine > closes:
            return False  # late: the round was decided without this claim
        members = [c for t, c in self._heard if opened <= t <= min(now, closes)]
        if now < closes and not (expected and len({c.id for c in members}) >= expected):
            return None
        return max(members, key=Claim.rank).nonce == nonce

    def winner(self, nonce: str) -> Claim | None:
        """The winning claim of the round ``nonce`` belongs to (for logs), once known."""
        mine = self.arrival(nonce)
        if mine is None:
            return None
        opened = max((t for t in self._opens if t <= mine), default=mine)
        members = [c for t, c in self._heard if opened <= t <= opened + self.window_s]
        return max(members, key=Claim.rank) if members else None
