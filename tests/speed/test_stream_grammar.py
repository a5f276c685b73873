"""The grammar through ``GemmaModel.stream``: ``GenerationOptions.constraint`` gives valid calls and counts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from assistant.engine.constrained import stream_constrained
from assistant.engine.decoding.sampling import SamplingParams
from assistant.engine.grammar.constraint import ToolCallConstraint
from assistant.engine.grammar.jumpforward import Scoring
from assistant.engine.grammar.scoring import ScoringPolicy
from assistant.engine.grammar.tokengrammar import TokenGrammar
from assistant.engine.model import GemmaModel
from assistant.protocols import Message, ToolCall
from tests.grammar.test_jumpforward import check_valid

pytestmark = pytest.mark.slow


def constraint(model: GemmaModel, grammar) -> ToolCallConstraint:
    return ToolCallConstraint.for_tokens(TokenGrammar(grammar, model.tokenizer), model.generation_spec.eos_token_ids)


@pytest.mark.parametrize("seed", range(4))
def test_stream_with_a_constraint_gives_valid_calls(model, grammar, declarations, registry, seed: int) -> None:
    opts = model.options(sampling=SamplingParams(sample=True, seed=seed), max_new_tokens=80,
                         constraint=constraint(model, grammar))
    gen = model.stream([Message(role="user", text="turn on the kitchen light")], declarations, opts)
    events = list(gen)
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert len(calls) == 1 and calls == gen.tool_calls
    check_valid(calls[0], registry)
    assert gen.counts.free >= 1 and gen.counts.forced >= 1
    assert gen.counts.free + gen.counts.forced + gen.counts.scored == len(gen.token_ids)


def test_stream_equals_stream_constrained_with_scoring(model, grammar, declarations) -> None:
    messages = [Message(role="user", text="set the bedroom light to half")]
    scoring = Scoring(ScoringPolicy(force=True))
    opts = model.options(max_new_tokens=80)
    wrapped = stream_constrained(model, messages, declarations, constraint(model, grammar), opts, scoring=scoring)
    list(wrapped)
    direct = model.stream(messages, declarations, replace(opts, constraint=constraint(model, grammar), scoring=scoring))
    list(direct)
    assert direct.token_ids == wrapped.token_ids and direct.tool_calls == wrapped.tool_calls
    assert direct.counts == wrapped.counts and direct.counts.scored > 0


def test_stream_without_a_constraint_counts_nothing(model, declarations) -> None:
    gen = model.stream([Message(role="user", text="hello")], declarations, model.options(max_new_tokens=5))
    list(gen)
    assert gen.token_ids and gen.counts.free == gen.counts.forced == gen.counts.scored == gen.counts.passes == 0
