"""Wake arbitration as the loop sees it: several assistants heard one wake word, one answers.

At a wake word the loop asks its :class:`WakeArbiter` for a :class:`Ruling` and keeps listening (the
endpointer buffers the command) while it polls ``ruling.outcome(now)`` once per frame: ``True``
answer, ``False`` another assistant answers (return to idle silently), ``None`` not decided yet.
The MQTT implementation is ``assistant.home.arbiter``; :class:`SoloArbiter` is the assistant alone
(MQTT off). :class:`LevelMeter` measures how loud the wake phrase was, the claim's score.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from assistant.protocols import SAMPLE_RATE, Samples

PHRASE_S = 1.0  # the wake phrase: the audio just before the detection
LOUDEST_SHARE = 0.3  # its level: the mean energy of the loudest 30 % of its frames (the voiced part)
SILENCE_DB = -100.0


@dataclass(frozen=True)
class WakeEvidence:
    """How well this assistant heard the wake word: ``level_db`` (dBFS of the phrase) and ``wake_score`` (0..1)."""

    level_db: float
    wake_score: float = 1.0


@runtime_checkable
class Ruling(Protocol):
    """The outcome of one claim, polled by the loop with ``time.monotonic()``."""

    def outcome(self, now: float) -> bool | None: ...


@runtime_checkable
class WakeArbiter(Protocol):
    """Decides which assistant answers a wake word. ``claim`` must not block (the audio loop calls it).

    ``in_conversation``: this assistant is already talking with the user (a wake word while it
    listens for a follow-up, or a barge-in): it keeps the conversation and the others yield."""

    def claim(self, evidence: WakeEvidence, in_conversation: bool = False) -> Ruling: ...


@dataclass(frozen=True)
class Decided:
    """A ruling known at once."""

    answer: bool

    def outcome(self, now: float) -> bool | None:
        return self.answer


class SoloArbiter:
    """No other assistant can be heard from (MQTT off): always answer, never wait."""

    def claim(self, evidence: WakeEvidence, in_conversation: bool = False) -> Ruling:
        return Decided(True)


class LevelMeter:
    """Mean-square energy of the most recent frames; ``level_db()`` is the wake phrase's loudness in dBFS."""

    def __init__(self, span_s: float = PHRASE_S) -> None:
        self.span_s = span_s
        self._energy: deque[tuple[float, int]] = deque()  # (mean square, samples)
        self._samples = 0

    def feed(self, frame: Samples) -> None:
        if not len(frame):
            return
        x = frame.astype(np.float32)
        self._energy.append((float(np.dot(x, x)) / len(frame), len(frame)))
        self._samples += len(frame)
        while self._energy and self._samples - self._energy[0][1] >= self.span_s * SAMPLE_RATE:
            self._samples -= self._energy.popleft()[1]

    def level_db(self) -> float:
        """dBFS (0 = full scale) of the loudest share of the last ``span_s``; ``SILENCE_DB`` for silence."""
        if not self._energy:
            return SILENCE_DB
        energies = sorted((e for e, _ in self._energy), reverse=True)
        top = energies[: max(1, math.ceil(len(energies) * LOUDEST_SHARE))]
        mean = sum(top) / len(top)
        if mean <= 0:
            return SILENCE_DB
        return max(SILENCE_DB, 10 * math.log10(mean / 32768.0**2))
