"""A user turn whose audio is still arriving (``Message.live``): encoded and prefilled as it comes.

The service hands the engine a :class:`~assistant.protocols.LiveAudio` at the start of speech;
``stream_live`` feeds its blocks to an :class:`~assistant.engine.audio.audioturn.AudioTurn` while the user
speaks and returns the turn's ``Generation`` once the audio is closed, so only the end of the clip
is left to encode and prefill after the end of speech. Besides the turn's own ``every_s`` steps, it
encodes and prefills whenever it has caught up with the speaker and ``IDLE_STEP_S`` of audio waits:
a slow engine batches more audio per step by itself, a fast one leaves about ``IDLE_STEP_S`` for
the end. Audio still waiting when the clip closes (an engine that fell behind) is not fed step by step:
``finish`` encodes and prefills all of it in one pass (``BATCH_REST``). A cancelled clip gives a generation with no
events. A clip that was closed before the engine saw it is an ordinary clip (``settle``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from assistant.engine.audio.speculation import Speculation
from assistant.engine.audio.turnmodel import TurnModel
from assistant.engine.decoding.events import EventRouter
from assistant.engine.decoding.timings import Timings
from assistant.engine.generation import Generation, GenerationOptions
from assistant.engine.grammar.constraint import Counts
from assistant.protocols import Message

log = logging.getLogger("assistant.engine")

IDLE_STEP_S = 0.25  # encode and prefill this much new audio whenever the engine has caught up with the speaker
BATCH_REST = True  # audio still waiting when the clip closes is encoded and prefilled once, in finish()
SPECULATE = True  # run the step ahead on the tentative end while the end silence lasts (``speculation.py``)


def is_live(messages: Sequence[Message]) -> bool:
    """Whether the last message's audio is still arriving."""
    live = messages[-1].live if messages else None
    return live is not None and not live.closed


def settle(messages: Sequence[Message]) -> list[Message]:
    """``messages`` with every live clip as plain audio (waits for it to close)."""
    return [m if m.live is None else replace(m, audio=m.live.samples(), live=None) for m in messages]


def stream_live(model: TurnModel, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]],
                options: GenerationOptions) -> Generation:
    """Feed the last message's live audio to an audio turn as it arrives; its generation once closed.

    While the endpointer's end silence runs (``LiveAudio.tentative``), audio past the tentative end is held
    back. With ``SPECULATE`` the step is run ahead on a fork whose first pass encodes and prefills the rest
    of the utterance together with the end of the turn (one pass, not two), and is handed over at the close
    if the clip ends there; without it the turn is encoded and prefilled up to that end at once. Speech
    that resumes drops the run and releases what was held."""
    *before, last = messages
    live = last.live
    assert live is not None
    turn = model.begin_audio_turn(settle(before), tools, options, text=last.text)
    held: list[np.ndarray] = []
    fed = 0
    met_end: int | None = None  # the tentative end already acted on
    ahead: Speculation | None = None
    for block in live.blocks():
        held.append(np.asarray(block))
        if BATCH_REST and live.closed:  # a lagging engine: the rest goes into finish's one encode and prefill
            continue
        end = live.tentative
        if ahead is not None and end != ahead.end:  # speech resumed: the step run ahead is void
            ahead.drop()
            ahead = None
        go, held = _split(held, None if end is None else end - fed)
        for part in go:
            turn.feed(part)
            fed += len(part)
        if live.backlog() == 0:  # caught up with the speaker: use the idle time, leave less for the end
            if end is not None and fed >= end and met_end != end:
                met_end = end
                if SPECULATE:  # the run's first pass prefills the rest of the utterance with the end of the turn
                    ahead = Speculation(turn, end)
                else:
                    turn.catch_up(0.0)  # all of the utterance so far, now, while the end silence runs
            elif end is None:
                turn.catch_up(IDLE_STEP_S)
        if ahead is not None:
            ahead.run(live)  # the step itself, on the utterance as it would end, until that changes
    if live.cancelled:
        if ahead is not None:
            ahead.drop()
        return empty_generation(model)
    if ahead is not None:
        if ahead.fits(live):
            return ahead.adopt()
        ahead.drop()
    rest, _ = _split(held, None if live.keep is None else max(0, live.keep - fed))
    for part in rest:  # what the close keeps of the held audio (the rest is end silence)
        turn.feed(part, advance=not BATCH_REST)
    log.info("live audio closed: %d audio rows were prefilled while the user spoke", turn.prefilled_rows)
    generation = turn.finish()
    generation.live_rows = turn.prefilled_rows
    return generation


def _split(blocks: list[np.ndarray], limit: int | None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``blocks`` cut after ``limit`` samples (None: no limit): (the first part, the rest)."""
    if limit is None:
        return blocks, []
    first: list[np.ndarray] = []
    for i, block in enumerate(blocks):
        if limit <= 0:
            return first, blocks[i:]
        if len(block) > limit:
            return [*first, block[:limit]], [block[limit:], *blocks[i + 1 :]]
        first.append(block)
        limit -= len(block)
    return first, []


def empty_generation(model: TurnModel) -> Generation:
    """A generation with no events (the turn was dropped before its audio ended)."""
    return Generation(iter(()), Timings(), EventRouter(model.tokenizer.backend_tokenizer, model.markers), [], Counts())
