"""Constrained decoding with jump-forward: forced spans go through the decoder in one pass.

Where the grammar leaves one way on (``{device:<|"|>``, ``_light<|"|>,state:<|"|>``), those tokens
are appended without sampling and fed together with the token chosen before them, so a call costs
about one decoder pass per *free* token. Forced tokens at the very start (``<|tool_call>call:``
for a forced call) ride along with the prompt prefill. ``Counts`` says how many tokens were free,
forced or scored, and how many passes ran after the prefill. This module needs only the decoder
(not ``GemmaModel``), so the model's own ``stream`` can call :func:`decode_constrained`;
:mod:`assistant.engine.constrained` wraps it for a loaded model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.engine.decoding.backend import DecoderBackend
from assistant.engine.decoding.decode import Chooser, KvCache, Prefill
from assistant.engine.decoding.sampling import Logits
from assistant.engine.decoding.timings import Timings, now
from assistant.engine.grammar.constraint import CALL, Counts, ToolCallConstraint
from assistant.engine.grammar.scoring import Scored, ScoringPolicy, options_at, score_options


def _extend(prompt: Prefill, decoder: DecoderBackend, ids: list[int]) -> Prefill:
    if not ids:
        return prompt
    embeds, ple = decoder.embed(ids)
    return Prefill([*prompt.ids, *ids], np.concatenate([prompt.embeds, embeds], 1), np.concatenate([prompt.ple, ple], 1))


@dataclass(frozen=True)
class Scoring:
    """Score closed choices in one batched pass where ``policy`` says it is cheaper; ``rng`` None is greedy."""

    policy: ScoringPolicy = ScoringPolicy()  # noqa: RUF009 - frozen
    rng: np.random.Generator | None = None


def decode_constrained(
    decoder: DecoderBackend,
    prompt: Prefill,
    choose: Chooser,
    constraint: ToolCallConstraint,
    stop_ids: Sequence[int],
    max_new_tokens: int,
    timings: Timings,
    counts: Counts,
    cache: KvCache | None = None,
    scoring: Scoring | None = None,
) -> Iterator[int]:
    """Like :func:`assistant.engine.decoding.decode.decode_tokens`, under ``constraint``, yielding chosen and forced ids.

    ``choose`` must apply ``constraint.mask`` (see :func:`constrained_sampler`). The stop id is not yielded.
    """
    cache = cache if cache is not None else decoder.empty_cache()
    if cache.length >= len(prompt.ids):
        raise ValueError(f"the cache covers {cache.length} positions of a {len(prompt.ids)}-token prompt")
    stops = frozenset(stop_ids)
    ids = list(prompt.ids)
    start = now()
    head, stopped = _take(constraint.forced(), stops, max_new_tokens)
    full = _extend(prompt, decoder, head)
    skip = cache.length
    logits, cache = decoder.forward(full.embeds[:, skip:], full.ple[:, skip:], cache)
    timings.prefill_s = now() - start
    timings.passes.append(("prefill", len(full.ids) - skip, timings.prefill_s))
    timings.prompt_tokens = len(prompt.ids) - skip
    timings.cached_tokens = skip
    yield from _emit(head, constraint, ids, counts, "forced")
    step_start = start
    while not stopped and len(ids) - len(prompt.ids) < max_new_tokens:
        room = max_new_tokens - (len(ids) - len(prompt.ids))
        picked = now()
        scored = _score(decoder, constraint, scoring, logits[-1], cache, room)
        if scored is not None:
            chosen = list(scored.option.tokens)
            logits, cache = scored.logits[None, :], scored.cache
            counts.passes += 1
            timings.passes.append(("score", scored.batch_tokens, now() - picked))
        else:
            chosen = [choose(ids, logits[-1].copy())]
            timings.passes.append(("choose", 1, now() - picked))
        stamp = now()
        if timings.first_token_s == 0.0:
            timings.first_token_s = stamp - start
        else:
            timings.token_s.append(stamp - step_start)
        if chosen[0] in stops:
            timings.generated_tokens = len(ids) - len(prompt.ids)
            timings.stop_reason = f"stop token {chosen[0]}"
            return
        yield from _emit(chosen, constraint, ids, counts, "scored" if scored is not None else "free")
        span, stopped = _take(constraint.forced(), stops, max_new_tokens - (len(ids) - len(prompt.ids)))
        yield from _emit(span, constraint, ids, counts, "forced")
        if stopped or len(ids) - len(prompt.ids) >= max_new_tokens:
            break
        feed = span if scored is not None else [*chosen, *span]
        if not feed:
            continue
        step_start = now()
        embeds, ple = decoder.embed(feed)
        logits, cache = decoder.forward(embeds, ple, cache)
        counts.passes += 1
        timings.passes.append(("forced" if scored is not None else "step", len(feed), now() - step_start))
    timings.generated_tokens = len(ids) - len(prompt.ids)
    timings.stop_reason = "stop token (forced)" if stopped else "token limit"


def _emit(tokens: list[int], constraint: ToolCallConstraint, ids: list[int], counts: Counts, kind: str) -> Iterator[int]:
    for token in tokens:
        constraint.advance(token)
        setattr(counts, kind, getattr(counts, kind) + 1)
        ids.append(token)
        yield token


def _score(decoder: DecoderBackend, constraint: ToolCallConstraint, scoring: Scoring | None, first: Logits,
           cache: KvCache, room: int) -> Scored | None:
    """The chosen option when this choice is scored in one pass, else None (decode a token instead)."""
    if scoring is None or constraint.phase != CALL:
        return None
    tokens = constraint.tokens
    options = options_at(tokens, constraint.state, frozenset(tokens.symbol_ids.values()), scoring.policy.max_options)
    if not options or max(len(o.tokens) for o in options) > room or not scoring.policy.prefers_scoring(options):
        return None
    return score_options(decoder, tokens, constraint.state, options, first, cache, rng=scoring.rng)


def _take(span: list[int], stops: frozenset[int], room: int) -> tuple[list[int], bool]:
    """``span`` up to its first stop id (and at most ``room`` ids); whether a stop was reached."""
    for i, token in enumerate(span[:room]):
        if token in stops:
            return span[:i], True
    return span[:room], False
