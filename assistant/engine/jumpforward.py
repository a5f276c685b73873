"""Constrained decoding with jump-forward: forced spans go through the decoder in one pass.

Where the grammar leaves one way on (``{device:<|"|>``, ``_light<|"|>,state:<|"|>``), those tokens
are appended without sampling and fed together with the token chosen before them, so a call costs
about one decoder pass per *free* token. Forced tokens at the very start (``<|tool_call>call:``
for a forced call) ride along with the prompt prefill. ``Counts`` says how many tokens were free,
forced, and how many passes ran after the prefill.

    gen = stream_constrained(model, messages, tools, constraint)
    for event in gen: ...
    gen.counts.free, gen.counts.forced, gen.counts.passes
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from assistant.engine.constraint import Counts, ToolCallConstraint
from assistant.engine.decode import Chooser, Decoder, KvCache, Prefill
from assistant.engine.events import EventRouter
from assistant.engine.model import GemmaModel, GenerationOptions
from assistant.engine.sampling import Sampler
from assistant.engine.timings import Timings, now
from assistant.protocols import Event, Message, ToolCall


def _extend(prompt: Prefill, decoder: Decoder, ids: list[int]) -> Prefill:
    if not ids:
        return prompt
    embeds, ple = decoder.embed(ids)
    return Prefill([*prompt.ids, *ids], np.concatenate([prompt.embeds, embeds], 1), np.concatenate([prompt.ple, ple], 1))


def decode_constrained(
    decoder: Decoder,
    prompt: Prefill,
    choose: Chooser,
    constraint: ToolCallConstraint,
    stop_ids: Sequence[int],
    max_new_tokens: int,
    timings: Timings,
    counts: Counts,
    cache: KvCache | None = None,
) -> Iterator[int]:
    """Like :func:`assistant.engine.decode.decode_tokens`, under ``constraint``, yielding chosen and forced ids.

    ``choose`` must apply ``constraint.mask`` (see :func:`constrained_sampler`). The stop id is not yielded.
    """
    cache = cache if cache is not None else decoder.empty_cache()
    if cache.length >= len(prompt.ids):
        raise ValueError(f"the cache covers {cache.length} positions of a {len(prompt.ids)}-token prompt")
    stops = frozenset(stop_ids)
    ids = list(prompt.ids)
    produced = 0
    start = now()
    head, stopped = _take(constraint.forced(), stops, max_new_tokens)
    full = _extend(prompt, decoder, head)
    skip = cache.length
    logits, cache = decoder.forward(full.embeds[:, skip:], full.ple[:, skip:], cache)
    timings.prefill_s = now() - start
    timings.prompt_tokens = len(prompt.ids) - skip
    for token in head:
        constraint.advance(token)
        counts.forced += 1
        produced += 1
        ids.append(token)
        yield token
    step_start = start
    while not stopped and produced < max_new_tokens:
        token = choose(ids, logits[-1].copy())
        stamp = now()
        if timings.first_token_s == 0.0:
            timings.first_token_s = stamp - start
        else:
            timings.token_s.append(stamp - step_start)
        if token in stops:
            timings.generated_tokens = produced
            timings.stop_reason = f"stop token {token}"
            return
        constraint.advance(token)
        counts.free += 1
        produced += 1
        ids.append(token)
        yield token
        span, stopped = _take(constraint.forced(), stops, max_new_tokens - produced)
        for forced in span:
            constraint.advance(forced)
            counts.forced += 1
            produced += 1
            ids.append(forced)
            yield forced
        if stopped or produced >= max_new_tokens:
            break
        step_start = now()
        embeds, ple = decoder.embed([token, *span])
        logits, cache = decoder.forward(embeds, ple, cache)
        counts.passes += 1
    timings.generated_tokens = produced
    timings.stop_reason = "stop token (forced)" if stopped else "token limit"


def _take(span: list[int], stops: frozenset[int], room: int) -> tuple[list[int], bool]:
    """``span`` up to its first stop id (and at most ``room`` ids); whether a stop was reached."""
    for i, token in enumerate(span[:room]):
        if token in stops:
            return span[:i], True
    return span[:room], False


def constrained_sampler(model: GemmaModel, options: GenerationOptions, constraint: ToolCallConstraint) -> Sampler:
    """The model's sampler (suppression, extra processors) with the constraint's mask last."""
    return Sampler(options.sampling, [*model.processors(), *options.processors, constraint.mask])


class ConstrainedGeneration:
    """One constrained model step: iterate for events; then read ``counts``, ``timings`` and what was produced."""

    def __init__(self, events: Iterator[Event], timings: Timings, router: EventRouter, token_ids: list[int],
                 counts: Counts) -> None:
        self._events = events
        self.timings = timings
        self.counts = counts
        self._router = router
        self.token_ids = token_ids

    def __iter__(self) -> Iterator[Event]:
        return self._events

    @property
    def text(self) -> str:
        return self._router.text

    @property
    def tool_calls(self) -> list[ToolCall]:
        return list(self._router.tool_calls)


def stream_constrained(
    model: GemmaModel,
    messages: Sequence[Message],
    tools: Sequence[Mapping[str, Any]],
    constraint: ToolCallConstraint,
    options: GenerationOptions | None = None,
    cache: KvCache | None = None,
) -> ConstrainedGeneration:
    """:meth:`GemmaModel.stream` with ``constraint`` and jump-forward (messages used exactly as given)."""
    opts = options or model.options()
    timings = Timings()
    counts = Counts()
    router = EventRouter(model.tokenizer.backend_tokenizer, model.markers)
    token_ids: list[int] = []

    def events() -> Iterator[Event]:
        prompt = model.prepare(messages, tools, opts.thinking, timings)
        sampler = constrained_sampler(model, opts, constraint)
        stops = model.generation_spec.eos_token_ids
        for token in decode_constrained(model.decoder, prompt, sampler, constraint, stops, opts.max_new_tokens,
                                        timings, counts, cache):
            token_ids.append(token)
            event = router.push(token)
            if event is not None:
                yield event
        last = router.finish()
        if last is not None:
            yield last

    return ConstrainedGeneration(events(), timings, router, token_ids, counts)
