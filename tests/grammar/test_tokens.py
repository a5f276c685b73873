"""The grammar over token ids: canonical tokenization, exact masks, forced spans and free-token counts."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from tokenizers import Tokenizer, models

from assistant.engine.grammar.constraint import ToolCallConstraint
from assistant.engine.grammar.grammar import GrammarError, call_text, compile_schema, from_symbols
from assistant.engine.grammar.tokengrammar import TokenGrammar

from .commands import TYPICAL
from .test_grammar import language

STOPS = [1, 106, 50]  # <eos>, <turn|>, <|tool_response>, as the tiny generation_config lists them


@pytest.fixture(scope="module")
def tokenized(grammar, token_grammar: TokenGrammar) -> list[list[int]]:
    return [token_grammar.encode(from_symbols(t)) for t in language(grammar.root)]


def test_every_call_tokenizes_canonically_onto_a_path_to_the_end(tokenized, token_grammar: TokenGrammar) -> None:
    for ids in tokenized:
        end = token_grammar.walk(ids)
        assert end is not None and end.final and not end.edges


def test_masks_are_exactly_the_next_tokens_of_the_language(tokenized, token_grammar: TokenGrammar) -> None:
    nexts: dict[tuple[int, ...], set[int]] = defaultdict(set)
    for ids in tokenized:
        for i in range(len(ids)):
            nexts[tuple(ids[:i])].add(ids[i])
    for prefix, expected in nexts.items():
        state = token_grammar.walk(prefix)
        assert state is not None
        assert state.allowed.tolist() == sorted(expected), prefix


def test_quote_is_the_special_token_never_spelled_out(tokenizer, token_grammar: TokenGrammar) -> None:
    state = token_grammar.walk(token_grammar.encode("call:set_power{device:"))
    quote = tokenizer.convert_tokens_to_ids('<|"|>')
    assert state is not None and state.allowed.tolist() == [quote]
    spelled = tokenizer('<|"|>', add_special_tokens=False)["input_ids"]
    assert spelled == [quote]
    for piece in ("<", "|", '"'):
        assert token_grammar.step(state, tokenizer.convert_tokens_to_ids(piece)) is None


def test_letter_by_letter_spelling_of_an_id_is_not_allowed(tokenizer, token_grammar: TokenGrammar) -> None:
    canonical = token_grammar.encode(call_text("set_cover", {"device": "garage_door", "position": 0}))
    assert token_grammar.walk(canonical) is not None
    at_device = token_grammar.walk(token_grammar.encode('call:set_cover{device:<|"|>'))
    letters = [tokenizer.convert_tokens_to_ids(c) for c in "garage"]
    assert letters != canonical[5:11]
    assert token_grammar.walk(letters, at_device) is None


def cost(constraint: ToolCallConstraint, ids: list[int]) -> tuple[int, int, list[list[int]]]:
    """Drive a constraint along ``ids`` as the jump-forward loop would: free, forced, and the forced spans."""
    free = forced = 0
    spans: list[list[int]] = []
    i = 0
    while i < len(ids):
        span = constraint.forced()
        if span:
            assert ids[i : i + len(span)] == span[: len(ids) - i]
            spans.append(span)
            for t in span[: len(ids) - i]:
                constraint.advance(t)
            forced += len(span)
            i += len(span)
            continue
        assert ids[i] in constraint.allowed().tolist()
        constraint.advance(ids[i])
        free += 1
        i += 1
    return free, forced, spans


@pytest.mark.parametrize(("utterance", "name", "args"), TYPICAL, ids=[t[0] for t in TYPICAL])
def test_typical_commands_cost_at_most_eight_free_tokens(tokenizer, token_grammar, utterance, name, args) -> None:
    ids = tokenizer("<|tool_call>" + call_text(name, args) + "<|tool_response>", add_special_tokens=False)["input_ids"]
    constraint = ToolCallConstraint.for_tokens(token_grammar, STOPS, force=True)
    free, forced, spans = cost(constraint, ids)
    assert free + forced == len(ids)
    assert 1 <= free <= 8
    assert spans[0][:4] == tokenizer("<|tool_call>call:", add_special_tokens=False)["input_ids"][:4]
    assert spans[-1][-3:] == tokenizer("}<tool_call|><|tool_response>", add_special_tokens=False)["input_ids"]
    assert token_grammar.cost(ids[1:-1])[0] == free  # the same count from the token automaton alone
    assert constraint.phase == "done"


def test_free_tokens_of_one_command_exactly(tokenizer, token_grammar) -> None:
    text = "<|tool_call>" + call_text("set_power", {"device": "kitchen_ceiling", "state": "on"}) + "<|tool_response>"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    constraint = ToolCallConstraint.for_tokens(token_grammar, STOPS)
    free, forced, spans = cost(constraint, ids)
    decoded = ["".join(tokenizer.convert_ids_to_tokens(s)) for s in spans]
    # the tiny tokenizer's choices: s|g|c(onfirm), p(ower) among the set_ tools, kitchen|..., c(eiling) among the
    # kitchen_ ids, on|off; everything between is forced and fed in one pass per span
    assert decoded == ["<|tool_call>call:", "_", 'ower{device:<|"|>', "_", 'eiling<|"|>,state:<|"|>',
                       '<|"|>}<tool_call|><|tool_response>']
    assert (free, forced) == (5, len(ids) - 5)


def test_text_mode_is_unconstrained_until_the_call_starts(token_grammar) -> None:
    constraint = ToolCallConstraint.for_tokens(token_grammar, STOPS, force=False)
    logits = np.arange(1024, dtype=np.float32)
    assert constraint.allowed() is None and constraint.forced() == []
    assert np.array_equal(constraint.mask([], logits.copy()), logits)
    constraint.advance(400)
    assert constraint.phase == "text"
    constraint.advance(constraint.call_start)
    masked = constraint.mask([], logits.copy())
    assert np.isfinite(masked).sum() == len(constraint.allowed()) == 1  # "c" of "call:" is forced
    assert constraint.stop_id == 50


def test_a_forbidden_token_is_an_error(token_grammar) -> None:
    constraint = ToolCallConstraint.for_tokens(token_grammar, STOPS)
    with pytest.raises(GrammarError, match="must start"):
        constraint.advance(400)
    constraint.advance(constraint.call_start)
    with pytest.raises(GrammarError, match="not allowed"):
        constraint.advance(constraint.call_start)


def test_processor_adapter_follows_the_ids_it_is_shown(tokenizer, token_grammar) -> None:
    constraint = ToolCallConstraint.for_tokens(token_grammar, STOPS)
    process = constraint.processor()
    prompt = [2, 105, 400]
    logits = np.zeros(1024, dtype=np.float32)
    assert np.flatnonzero(np.isfinite(process(prompt, logits.copy()))).tolist() == [constraint.call_start]
    ids = tokenizer("<|tool_call>call:set_", add_special_tokens=False)["input_ids"]
    allowed = np.flatnonzero(np.isfinite(process(prompt + ids, logits.copy())))
    first = {tokenizer.convert_ids_to_tokens(int(t)) for t in allowed}
    assert first == {tokenizer.convert_ids_to_tokens(tokenizer(n, add_special_tokens=False)["input_ids"][0])
                     for n in ("power", "brightness", "color", "cover", "climate", "lock", "alarm")}


def test_a_tokenizer_without_the_special_tokens_is_refused(grammar) -> None:
    plain = Tokenizer(models.WordLevel({"<unk>": 0, "call": 1}, unk_token="<unk>"))
    with pytest.raises(GrammarError, match="no single token"):
        TokenGrammar(grammar, plain)


def test_building_is_lazy_and_cached(schema: dict[str, Any], tokenizer) -> None:
    tg = TokenGrammar(compile_schema(schema), tokenizer)
    built = len(tg._states)
    ids = tg.encode(call_text("set_lock", {"device": "front_door", "state": "locked"}))
    assert tg.walk(ids) is not None
    assert len(tg._states) > built
    again = len(tg._states)
    assert tg.walk(ids) is not None and len(tg._states) == again
    assert tg.root.allowed is tg.root.allowed


def test_grammars_are_reused_while_the_schema_stays_the_same(schema: dict[str, Any], tokenizer) -> None:
    from assistant.engine.constrained import grammar_for

    first = grammar_for(schema, tokenizer)
    assert grammar_for(json_copy(schema), tokenizer) is first
    smaller = {k: v for k, v in schema.items() if k != "confirm"}
    other = grammar_for(smaller, tokenizer)
    assert other is not first and "confirm" not in other.grammar.tools and "confirm" in first.grammar.tools


def json_copy(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value))
