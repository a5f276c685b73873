"""Constrained decoding on a tiny random Gemma 4: every call is a valid command, forced spans go in one pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from assistant.engine.constrained import stream_constrained
from assistant.engine.decoding.sampling import SamplingParams
from assistant.engine.decoding.timings import Timings
from assistant.engine.grammar.constraint import ToolCallConstraint
from assistant.engine.grammar.grammar import call_text
from assistant.engine.grammar.tokengrammar import TokenGrammar
from assistant.engine.model import GemmaModel
from assistant.home import tools
from assistant.home.model import Device
from assistant.home.validate import Action, Refusal, validate
from assistant.protocols import Message, TextDelta, ToolCall

from .commands import TYPICAL

pytestmark = pytest.mark.slow


def constraint(model: GemmaModel, tg: TokenGrammar, force: bool = True) -> ToolCallConstraint:
    return ToolCallConstraint.for_tokens(tg, model.generation_spec.eos_token_ids, force=force)


def ask(model, tg, declarations, text: str, seed: int | None = None, force: bool = True, processors=()):
    sampling = SamplingParams(sample=seed is not None, seed=seed or 0)
    opts = model.options(sampling=sampling, max_new_tokens=80, processors=tuple(processors))
    gen = stream_constrained(model, [Message(role="user", text=text)], declarations, constraint(model, tg, force), opts)
    return gen, list(gen)


def check_valid(call: ToolCall, registry) -> None:
    """What the service would publish: a known device, a settable capability, a value in range."""
    assert call.error == "" and (call.name in tools.TOOLS or call.name == tools.CONFIRM)
    if call.name == tools.CONFIRM:
        assert call.arguments["answer"] in ("yes", "no")
        return
    try:
        result = validate(call, registry)
    except Refusal as refusal:  # relative brightness needs a current level, which not every light reports
        assert "change" in call.arguments and str(refusal).startswith("I don't know how bright"), refusal
        return
    assert isinstance(result, Action | Device)
    if isinstance(result, Action):
        assert result.commands and all(c.topic in result.device.command_topics() for c in result.commands)


@pytest.mark.parametrize("seed", range(12))
def test_sampled_calls_are_valid_commands_within_the_free_token_budget(model, model_grammar, declarations, registry,
                                                                        seed: int) -> None:
    utterance = TYPICAL[seed % len(TYPICAL)][0]
    gen, events = ask(model, model_grammar, declarations, utterance, seed=seed)
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert len(calls) == 1 and not [e for e in events if isinstance(e, TextDelta) and e.text.strip()]
    check_valid(calls[0], registry)
    assert gen.timings.stop_reason == "stop token (forced)"
    expected = model.tokenizer("<|tool_call>" + call_text(calls[0].name, calls[0].arguments),
                               add_special_tokens=False)["input_ids"]
    assert gen.token_ids == expected  # canonical tokens, the template's spelling
    assert gen.counts.free + gen.counts.forced == len(gen.token_ids)  # the forced stop is neither yielded nor fed
    assert 1 <= gen.counts.free <= 8
    assert gen.counts.passes == gen.counts.free - 1  # the last free token's span ends in the stop: no pass


def script(model: GemmaModel, text_ids: Sequence[int]):
    """A processor that makes the model write ``text_ids`` and then ``<|tool_call>``, then stays out of the way."""
    start = model.tokenizer.convert_tokens_to_ids("<|tool_call>")
    plan = [*text_ids, start]
    seen: list[int] = []

    def process(_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        seen.append(0)
        if len(seen) <= len(plan):
            logits[:] = -np.inf
            logits[plan[len(seen) - 1]] = 0.0
        return logits

    return process


def test_text_then_a_call_under_the_grammar(model, model_grammar, declarations, registry) -> None:
    hello = model.tokenizer("OK. ", add_special_tokens=False)["input_ids"]
    gen, events = ask(model, model_grammar, declarations, "lock the front door", force=False,
                      processors=[script(model, hello)])
    assert [e.text for e in events if isinstance(e, TextDelta)] and gen.text.startswith("OK.")
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert len(calls) == 1
    check_valid(calls[0], registry)
    assert gen.counts.free == len(hello) + 1 + model_grammar.cost(gen.token_ids[len(hello) + 1 :])[0]


def test_jump_forward_decodes_the_same_tokens_as_one_token_per_step(model, model_grammar, declarations) -> None:
    """The engine's plain loop with the constraint as a logits processor gives the same call, in more passes.

    Greedy: a sampler draws once per step, so sampled runs of the two loops consume the seed differently.
    """
    for utterance, *_ in TYPICAL[:3]:
        messages = [Message(role="user", text=utterance)]
        sampling = SamplingParams(sample=False)
        opts = model.options(sampling=sampling, max_new_tokens=80)
        jump = stream_constrained(model, messages, declarations, constraint(model, model_grammar), opts)
        jump_events = list(jump)
        slow_constraint = constraint(model, model_grammar)
        plain = model.stream(messages, declarations, model.options(sampling=sampling, max_new_tokens=80,
                                                                   processors=(slow_constraint.processor(),)))
        plain_events = list(plain)
        assert plain.token_ids == jump.token_ids
        assert plain_events == jump_events
        assert len(plain.timings.token_s) == len(plain.token_ids)  # a decoder pass per token
        assert jump.counts.passes < jump.counts.free <= 8 and len(jump.token_ids) > 20


def test_greedy_forced_call_and_prompt_prefix_ride_along_with_the_prefill(model, model_grammar, declarations) -> None:
    gen, events = ask(model, model_grammar, declarations, "open the garage door")
    head = model.tokenizer("<|tool_call>call:", add_special_tokens=False)["input_ids"]
    assert gen.token_ids[: len(head)] == head
    assert gen.timings.prompt_tokens > 0 and gen.timings.first_token_s > 0
    assert len(events) == 1 and isinstance(events[0], ToolCall) and events[0].error == ""


def test_grammar_engine_is_an_engine_and_takes_the_schema_per_turn(model, schema, declarations, registry) -> None:
    from assistant.engine.constrained import GrammarEngine
    from assistant.protocols import Engine

    turns = []

    def current() -> dict[str, Any]:
        turns.append(1)
        return {"set_lock": schema["set_lock"]}

    engine = GrammarEngine(model, current, force=True)
    assert isinstance(engine, Engine)
    for _ in range(2):
        events = list(engine.generate([Message(role="user", text="lock the front door")], declarations))
        assert len(events) == 1 and isinstance(events[0], ToolCall) and events[0].name == "set_lock"
        check_valid(events[0], registry)
    assert len(turns) == 2 and engine.last is not None and engine.last.counts.free <= 2


def test_a_restored_prefix_cache_gives_the_same_call(model, model_grammar, declarations) -> None:
    messages = [Message(role="user", text="open the garage door")]
    fresh = stream_constrained(model, messages, declarations, constraint(model, model_grammar), model.options())
    list(fresh)
    prompt = model.prepare(messages, declarations, False, Timings())
    split = len(prompt.ids) - 5
    _, prefix = model.decoder.forward(prompt.embeds[:, :split], prompt.ple[:, :split], model.decoder.empty_cache())
    resumed = stream_constrained(model, messages, declarations, constraint(model, model_grammar), model.options(),
                                 cache=prefix.copy())
    list(resumed)
    assert resumed.token_ids == fresh.token_ids and resumed.tool_calls == fresh.tool_calls
    assert resumed.timings.prompt_tokens == 5 and resumed.timings.cached_tokens == split
    assert fresh.timings.prompt_tokens + fresh.timings.cached_tokens == len(prompt.ids)  # the model's prefix cache
