"""Scoring a closed set of options in one batched pass: exact constrained probabilities, the right cache, valid calls."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.engine.constrained import stream_constrained
from assistant.engine.decoding.decode import Decoder, KvCache
from assistant.engine.grammar.constraint import ToolCallConstraint
from assistant.engine.grammar.grammar import call_text
from assistant.engine.grammar.jumpforward import Scoring
from assistant.engine.grammar.scoring import Option, ScoringPolicy, measure_policy, options_at, plan, score_options
from assistant.engine.grammar.tokengrammar import TokenGrammar, TokenState
from assistant.engine.model import GemmaModel
from assistant.protocols import Message, ToolCall

from .commands import TYPICAL
from .test_jumpforward import check_valid

pytestmark = pytest.mark.slow
ALWAYS = ScoringPolicy(force=True, max_options=200)


def prefilled(model: GemmaModel, model_grammar: TokenGrammar, prefix: str) -> tuple[np.ndarray, KvCache, TokenState]:
    """Prompt + ``<|tool_call>`` + ``prefix`` through the decoder: last logits, cache, grammar state."""
    ids = model.tokenizer("<bos><|turn>user\nturn on the kitchen light<turn|>\n<|turn>model\n<|tool_call>" + prefix,
                          add_special_tokens=False)["input_ids"]
    logits, cache = model.decoder.forward(*model.decoder.embed(ids), model.decoder.empty_cache())
    state = model_grammar.walk(model_grammar.encode(prefix))
    assert state is not None
    return logits[-1], cache, state


def stepwise_score(decoder: Decoder, model_grammar: TokenGrammar, state: TokenState, option: Option, first,
                   cache: KvCache) -> float:
    """The option's constrained log-probability from its own single-row pass."""
    logits, _ = decoder.forward(*decoder.embed(list(option.tokens)), cache.copy(), all_logits=True)
    total = 0.0
    for j, token in enumerate(option.tokens):
        row = first if j == 0 else logits[j - 1]
        allowed = state.allowed
        if len(allowed) > 1:
            vals = row[allowed].astype(np.float64)
            total += float(vals[list(allowed).index(token)] - np.log(np.exp(vals - vals.max()).sum()) - vals.max())
        nxt = model_grammar.step(state, token)
        assert nxt is not None
        state = nxt
    return total


@pytest.mark.parametrize("prefix", ["call:", 'call:set_power{device:<|"|>',
                                    'call:set_cover{device:<|"|>bedroom_blind<|"|>,position:'])
def test_batched_scores_are_the_stepwise_constrained_log_probabilities(model, model_grammar, prefix: str) -> None:
    first, cache, state = prefilled(model, model_grammar, prefix)
    specials = frozenset(model_grammar.symbol_ids.values())
    options = options_at(model_grammar, state, specials, 200)
    assert options is not None and len(options) > 1
    result = score_options(model.decoder, model_grammar, state, options, first, cache)
    expected = [stepwise_score(model.decoder, model_grammar, state, o, first, cache) for o in options]
    np.testing.assert_allclose(result.scores, expected, rtol=1e-4, atol=1e-4)
    assert result.option is options[int(np.argmax(expected))]
    probs = np.exp(np.asarray(result.scores))
    assert probs.sum() == pytest.approx(1.0, abs=1e-4)  # the options are the whole constrained distribution


def test_the_chosen_rows_cache_and_logits_continue_exactly(model, model_grammar) -> None:
    first, cache, state = prefilled(model, model_grammar, 'call:set_power{device:<|"|>')
    options = options_at(model_grammar, state, frozenset(model_grammar.symbol_ids.values()), 64)
    assert options is not None
    longest = max(range(len(options)), key=lambda i: len(options[i].tokens))
    shortest = min(range(len(options)), key=lambda i: len(options[i].tokens))
    for pick in (longest, shortest):  # the shortest row was right-padded in the batch
        result = score_options(model.decoder, model_grammar, state, options, first, cache, pick=pick)
        logits, alone = model.decoder.forward(*model.decoder.embed(list(options[pick].tokens)), cache.copy())
        assert result.cache.length == alone.length
        for name, arr in alone.arrays.items():
            np.testing.assert_allclose(result.cache.arrays[name], arr, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(result.logits, logits[-1], rtol=1e-4, atol=1e-4)


def test_options_end_after_the_closing_quote_at_the_next_choice(model, model_grammar) -> None:
    _first, _cache, state = prefilled(model, model_grammar, 'call:set_power{device:<|"|>')
    options = options_at(model_grammar, state, frozenset(model_grammar.symbol_ids.values()), 64)
    assert options is not None
    texts = sorted(model.tokenizer.decode(list(o.tokens)) for o in options)
    assert len(texts) == 13 and all(t.endswith('<|"|>,state:<|"|>') for t in texts)
    assert 'kitchen_ceiling<|"|>,state:<|"|>' in texts and all(o.end.is_choice for o in options)
    assert options_at(model_grammar, state, frozenset(model_grammar.symbol_ids.values()), 5) is None


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_scored_generation_gives_valid_calls_with_no_free_tokens(model, model_grammar, declarations, registry, seed) -> None:
    rng = None if seed is None else np.random.default_rng(seed)
    constraint = ToolCallConstraint.for_tokens(model_grammar, model.generation_spec.eos_token_ids)
    utterance = TYPICAL[(seed or 0) % len(TYPICAL)][0]
    gen = stream_constrained(model, [Message(role="user", text=utterance)], declarations, constraint,
                             model.options(max_new_tokens=80), scoring=Scoring(ALWAYS, rng))
    calls = [e for e in gen if isinstance(e, ToolCall)]
    assert len(calls) == 1
    check_valid(calls[0], registry)
    assert gen.counts.free == 0 and gen.counts.scored > 0
    assert gen.counts.scored + gen.counts.forced == len(gen.token_ids)
    assert 1 <= gen.counts.passes <= 4


def test_policy_scores_small_sets_and_decodes_large_ones() -> None:
    more, end = TokenState(), TokenState()
    more.edges[7] = end
    end.final = True
    small = [Option((1, 2, 3), (0, 1), more), Option((4, 5, 6), (0, 1), more)]
    wide = [Option(tuple(range(8)), (0, 1), more) for _ in range(40)]
    one_token = [Option((1, 9), (0,), more), Option((2, 9), (0,), more)]
    last = [Option((1, 2, 3), (0, 2), end), Option((4, 5, 6), (0, 2), end)]
    pi = ScoringPolicy()
    assert pi.prefers_scoring(small)  # one pass of 6 tokens instead of two passes
    assert not pi.prefers_scoring(wide)  # 320 tokens x 7.5 ms > 2 passes x 130 ms
    assert not pi.prefers_scoring(one_token)  # the next token decides: nothing to save
    assert not pi.prefers_scoring(last)  # decoding needs one pass too (none after the call's last token)
    assert pi.prefers_scoring([*last, Option((8, 2, 3), (0, 1, 2), end)])  # 1.33 passes expected > 1 pass
    assert not pi.prefers_scoring(small[:1]) and not ScoringPolicy(max_options=1).prefers_scoring(small)
    assert ScoringPolicy(force=True).prefers_scoring(one_token)


@pytest.mark.parametrize("policy", [None, ScoringPolicy(), ALWAYS], ids=["decode", "pi-policy", "score-all"])
def test_the_loop_costs_what_the_plan_says(model, model_grammar, declarations, policy) -> None:
    for utterance, *_ in TYPICAL[:3]:
        constraint = ToolCallConstraint.for_tokens(model_grammar, model.generation_spec.eos_token_ids)
        gen = stream_constrained(model, [Message(role="user", text=utterance)], declarations, constraint,
                                 model.options(max_new_tokens=80), scoring=Scoring(policy) if policy else None)
        list(gen)
        expected = plan(model_grammar, gen.token_ids[1:], policy)
        expected.forced += 1  # <|tool_call>, forced before the grammar's root
        assert gen.counts == expected


def test_scoring_takes_fewer_passes_and_the_pi_policy_never_more(tokenizer, model_grammar) -> None:
    """Scoring every choice saves passes; with the Pi's costs (130 ms/pass, 7.5 ms/token) the fixture home's
    sets (12 tools, 13 switchable devices) are too wide to be worth it, so the policy decodes them."""
    decoded = scored = 0
    for _utterance, name, args in TYPICAL:
        ids = tokenizer(call_text(name, args), add_special_tokens=False)["input_ids"]
        plain, pi, every = plan(model_grammar, ids), plan(model_grammar, ids, ScoringPolicy()), plan(model_grammar, ids, ALWAYS)
        assert plain.scored == 0 and plain.free <= 8 and pi.free <= plain.free
        assert pi.passes <= plain.passes and every.passes <= plain.passes and every.free <= 1
        decoded, scored = decoded + plain.passes, scored + every.passes
    assert scored < decoded


def test_measured_policy_has_positive_costs(model) -> None:
    ids = model.tokenizer("<bos>hello", add_special_tokens=False)["input_ids"]
    _, cache = model.decoder.forward(*model.decoder.embed(ids), model.decoder.empty_cache())
    policy = measure_policy(model.decoder, cache, batch_tokens=16, repeats=1)
    assert policy.decode_pass_s > 0 and policy.prefill_token_s > 0
