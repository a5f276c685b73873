"""Scoring a closed set of options in one batched decoder pass instead of decoding it token by token.

At a choice inside a call (which device, which tool, on or off) the options are the token paths
from the current state through the next closing special token (``kitchen_ceiling<|"|>``) and the
forced span after it (``,state:<|"|>``), up to the next choice. All options go through the decoder
as one batch (the KV cache repeated per row, rows right-padded). An option's score is the sum of
its tokens' log-probabilities under the *constrained* distribution (forced tokens add 0), i.e. the
log-probability that token-by-token constrained sampling would produce it: greedy takes the most
likely option, sampling draws options in proportion, so the result has the same distribution.

Which is cheaper depends on the hardware: one decode pass per free token (weight-bandwidth bound,
~130 ms on a Pi 5 for E2B) against one pass over K x L tokens (compute bound, ~7.5 ms/token).
:class:`ScoringPolicy` decides per choice; :func:`measure_policy` times both on the running model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assistant.engine.decoding.backend import DecoderBackend
from assistant.engine.decoding.kvcache import Array, KvCache
from assistant.engine.decoding.timings import now
from assistant.engine.grammar.constraint import Counts
from assistant.engine.grammar.grammar import GrammarError
from assistant.engine.grammar.tokengrammar import TokenGrammar, TokenState

Logits = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Option:
    """One way through a choice: its tokens, the choice positions among them, and the state after it."""

    tokens: tuple[int, ...]
    choices: tuple[int, ...]  # indexes into tokens where the grammar allowed more than one token
    end: TokenState


@dataclass(frozen=True)
class ScoringPolicy:
    """Score a choice in one pass when that pass costs less than the passes token-by-token decoding would take.

    A pass over n tokens costs ``max(decode_pass_s, n * prefill_token_s)`` (small passes are bound by reading
    the weights). Decoding an option costs one pass per free token, less one when the call ends with it.
    ``force`` scores every choice of 2..``max_options`` options (tests, measurements).
    """

    decode_pass_s: float = 0.130  # one single-token decoder pass (Pi 5, E2B q4: performance.md)
    prefill_token_s: float = 0.0075  # one token inside a multi-token pass
    max_options: int = 16  # each row repeats the KV cache: memory grows with the options
    force: bool = False

    def prefers_scoring(self, options: list[Option]) -> bool:
        if not 1 < len(options) <= self.max_options:
            return False
        if self.force:
            return True
        batch = len(options) * max(len(o.tokens) for o in options)
        decode = sum(len(o.choices) - (o.end.final and not o.end.edges) for o in options) / len(options)
        return max(self.decode_pass_s, batch * self.prefill_token_s) < decode * self.decode_pass_s


def options_at(grammar: TokenGrammar, state: TokenState, special_ids: frozenset[int], limit: int) -> list[Option] | None:
    """Every option from ``state`` (see module doc), or None when there are more than ``limit``."""
    out: list[Option] = []
    stack: list[tuple[TokenState, tuple[int, ...], tuple[int, ...], bool]] = [(state, (), (), False)]
    while stack:
        s, tokens, choices, closed = stack.pop()
        if tokens and ((s.final and not s.edges) or (closed and s.is_choice)):
            out.append(Option(tokens, choices, s))
            if len(out) > limit:
                return None
            continue
        here = (len(tokens),) if s.is_choice else ()
        for token in s.edges:
            nxt = grammar.step(s, token)
            assert nxt is not None
            stack.append((nxt, (*tokens, token), choices + here, closed or token in special_ids))
    return out


def _log_softmax_allowed(row: Logits, allowed: npt.NDArray[np.int64]) -> Logits:
    vals = row[allowed].astype(np.float64)
    top = vals.max()
    return (vals - top - np.log(np.exp(vals - top).sum())).astype(np.float32)


def option_scores(grammar: TokenGrammar, start: TokenState, options: list[Option], first: Logits,
                  logits: Array) -> list[float]:
    """Constrained log-probability of each option; ``first`` predicts token 0, ``logits[i, j]`` token j+1 of row i."""
    scores = []
    for i, option in enumerate(options):
        state, total = start, 0.0
        for j, token in enumerate(option.tokens):
            if j in option.choices:
                row = first if j == 0 else logits[i, j - 1]
                allowed = state.allowed
                total += float(_log_softmax_allowed(row, allowed)[int(np.searchsorted(allowed, token))])
            nxt = grammar.step(state, token)
            assert nxt is not None
            state = nxt
        scores.append(total)
    return scores


@dataclass
class Scored:
    option: Option
    scores: list[float]
    logits: Logits  # the row predicting the token after the option
    cache: KvCache
    batch_tokens: int = 0  # rows x width of the batched pass


def score_options(decoder: DecoderBackend, grammar: TokenGrammar, state: TokenState, options: list[Option],
                  first: Logits, cache: KvCache, pick: int | None = None,
                  rng: np.random.Generator | None = None) -> Scored:
    """Score ``options`` in one pass; take the best (``rng``: draw in proportion; ``pick``: that index)."""
    logits, take = decoder.forward_rows([list(o.tokens) for o in options], cache)
    scores = option_scores(grammar, state, options, first, logits)
    if pick is None:
        if rng is None:
            pick = int(np.argmax(scores))
        else:
            p = np.exp(np.asarray(scores) - max(scores))
            pick = int(rng.choice(len(options), p=p / p.sum()))
    n = len(options[pick].tokens)
    batch = len(options) * max(len(o.tokens) for o in options)
    return Scored(options[pick], scores, logits[pick, n - 1], take(pick, cache.length + n), batch)


def measure_policy(decoder: DecoderBackend, cache: KvCache, batch_tokens: int = 64, repeats: int = 3) -> ScoringPolicy:
    """Time a single-token pass and a ``batch_tokens`` pass after ``cache`` on this machine."""
    token = decoder.spec.text.pad_token_id

    def best(fn: object) -> float:
        times = []
        for _ in range(repeats):
            start = now()
            fn()  # type: ignore[operator]
            times.append(now() - start)
        return min(times)

    one = best(lambda: decoder.forward(*decoder.embed([token]), cache))
    many = best(lambda: decoder.forward_rows([[token] * 8] * max(1, batch_tokens // 8), cache))
    return ScoringPolicy(decode_pass_s=one, prefill_token_s=many / (max(1, batch_tokens // 8) * 8))


def plan(grammar: TokenGrammar, ids: Sequence[int], policy: ScoringPolicy | None = None) -> Counts:
    """What decoding the call ``ids`` (after ``<|tool_call>``) costs under jump-forward, scoring where ``policy``
    says so: free, forced and scored tokens and decoder passes after the prefill (the forced head rides along)."""
    counts = Counts()
    specials = frozenset(grammar.symbol_ids.values())
    state, i, started = grammar.root, 0, False
    while i < len(ids):
        if not state.is_choice:
            counts.forced += 1
            state = _step(grammar, state, ids[i])
            i += 1
            continue
        started = True
        options = options_at(grammar, state, specials, policy.max_options) if policy else None
        if policy and options and policy.prefers_scoring(options):
            match = [o for o in options if tuple(ids[i : i + len(o.tokens)]) == o.tokens]
            if not match:
                raise GrammarError("the call leaves the grammar")
            counts.scored += len(match[0].tokens)
            counts.passes += 1
            state, i = match[0].end, i + len(match[0].tokens)
            continue
        counts.free += 1
        state = _step(grammar, state, ids[i])
        i += 1
        end = grammar.walk(grammar.forced(state), state)
        counts.passes += not (end is not None and end.final and not end.edges)
    if not started:
        raise GrammarError("the call has no choice in it")
    return counts


def _step(grammar: TokenGrammar, state: TokenState, token: int) -> TokenState:
    nxt = grammar.step(state, token)
    if nxt is None:
        raise GrammarError(f"token {token} leaves the grammar")
    return nxt
