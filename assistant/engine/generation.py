"""What one model step is asked for and gives back: :class:`GenerationOptions` and :class:`Generation`.

Shared by :mod:`assistant.engine.model` and the audio turns (``engine/audio``), which build
generations without importing the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

from assistant.engine.decoding.events import EventRouter
from assistant.engine.decoding.sampling import LogitsProcessor, SamplingParams
from assistant.engine.decoding.timings import Timings
from assistant.engine.grammar.constraint import Counts, ToolCallConstraint
from assistant.engine.grammar.jumpforward import Scoring
from assistant.protocols import Event, ToolCall


@dataclass(frozen=True)
class GenerationOptions:
    """Per-call decoding settings (defaults from ``ModelConfig``)."""

    max_new_tokens: int = 256
    sampling: SamplingParams = SamplingParams()  # noqa: RUF009 - frozen, so sharing it is safe
    thinking: bool = False
    processors: tuple[LogitsProcessor, ...] = ()  # extra logits processors (constraints), after suppression
    constraint: ToolCallConstraint | None = None  # tool calls follow this grammar (jump-forward decoding)
    scoring: Scoring | None = None  # with a constraint: score closed choices in one batched pass


class Generation:
    """One model step in progress: iterate for events; afterwards read what was produced.

    ``counts``: free, forced and scored tokens and decoder passes (filled under a constraint only).
    ``ticks``: the same step one token at a time (an event, or None for a token that made none), for a
    caller that must look up between tokens (a speculative run, ``engine/audio/speculation.py``); a
    generation is consumed either way, not both.
    """

    def __init__(self, events: Iterator[Event], timings: Timings, router: EventRouter, token_ids: list[int],
                 counts: Counts | None = None, ticks: Iterator[Event | None] | None = None) -> None:
        self._events = events
        self.ticks = ticks if ticks is not None else iter(events)
        self.timings = timings
        self._router = router
        self.token_ids = token_ids
        self.counts = counts if counts is not None else Counts()
        self.live_rows = 0  # audio rows prefilled while the user was still speaking (a live turn)
        self.ahead_s = 0.0  # seconds of this step that ran before the end of speech (a speculative run)

    def resumed(self, made: list[Event]) -> Generation:
        """This step with ``made`` (events already taken from ``ticks``) first, then the rest of its ticks."""
        rest = (event for event in self.ticks if event is not None)
        again = Generation(chain(made, rest), self.timings, self._router, self.token_ids, self.counts)
        again.live_rows, again.ahead_s = self.live_rows, self.ahead_s
        return again

    def __iter__(self) -> Iterator[Event]:
        return self._events

    def __next__(self) -> Event:
        return next(self._events)

    @property
    def text(self) -> str:
        return self._router.text

    @property
    def thinking(self) -> str:
        return self._router.thinking

    @property
    def tool_calls(self) -> list[ToolCall]:
        return list(self._router.tool_calls)
