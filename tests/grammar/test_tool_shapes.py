"""One test per tool shape under the grammar: no arguments, one, several, integers, enums.

Each shape is checked three ways: the character grammar accepts exactly the template's spelling (a call without
arguments is ``call:end_conversation{}``, as ``models/chat_template.jinja`` writes it), every call in the language
parses back to its arguments, and the tiny random model forced to call the tool under the grammar writes a call that
parses without error.
"""

from __future__ import annotations

from typing import Any

import pytest

from assistant.engine.constrained import stream_constrained
from assistant.engine.decoding.toolcalls import parse_call
from assistant.engine.grammar.constraint import ToolCallConstraint
from assistant.engine.grammar.grammar import call_text, compile_schema, from_symbols
from assistant.engine.grammar.tokengrammar import TokenGrammar
from assistant.protocols import Message, ToolCall

from .test_grammar import language, rendered_call

DEVICES = {"type": "string", "enum": ["desk_lamp", "hall_light"]}
SHAPES: dict[str, dict[str, Any]] = {
    "none": {"end_conversation": {"arguments": {}, "required": []}},
    "one": {"confirm": {"arguments": {"answer": {"type": "string", "enum": ["yes", "no"]}}, "required": ["answer"]}},
    "several": {"set_climate": {"arguments": {
        "device": DEVICES, "mode": {"type": "string", "enum": ["heat", "off"]},
        "temperature": {"type": "number", "minimum": 18, "maximum": 20, "step": 0.5}}, "required": ["device"]}},
    "integer": {"set_cover": {"arguments": {"device": DEVICES, "position": {"type": "integer", "minimum": 0, "maximum": 3}},
                              "required": ["device", "position"]}},
    "enum": {"set_power": {"arguments": {"device": DEVICES, "state": {"type": "string", "enum": ["on", "off"]}},
                           "required": ["device", "state"]}},
}
EXAMPLES = {"none": {}, "one": {"answer": "yes"}, "several": {"device": "hall_light", "mode": "heat", "temperature": 19.5},
            "integer": {"device": "desk_lamp", "position": 3}, "enum": {"device": "desk_lamp", "state": "off"}}


def declarations(schema: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": name, "description": name, "parameters": {
        "type": "object", "properties": tool["arguments"], "required": tool["required"]}}} for name, tool in schema.items()]


def in_range(spec: dict[str, Any], value: Any) -> bool:
    if "enum" in spec:
        return value in spec["enum"]
    ok = spec["minimum"] <= value <= spec["maximum"]
    return ok and (isinstance(value, int) if spec["type"] == "integer" else True)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_template_spelling_of_each_shape_is_in_the_grammar(shape: str, tokenizer) -> None:
    schema = SHAPES[shape]
    (name,) = schema
    text = call_text(name, EXAMPLES[shape])
    assert text == rendered_call(tokenizer, name, EXAMPLES[shape])
    grammar = compile_schema(schema)
    assert grammar.accepts(text)
    walked = TokenGrammar(grammar, tokenizer).walk(list(tokenizer(text, add_special_tokens=False)["input_ids"]))
    assert walked is not None and walked.final


def test_a_call_without_arguments_has_both_braces() -> None:
    grammar = compile_schema(SHAPES["none"])
    assert grammar.accepts("call:end_conversation{}<tool_call|>")
    assert not grammar.accepts("call:end_conversation}<tool_call|>")
    assert not grammar.accepts("call:end_conversation<tool_call|>")
    assert [from_symbols(t) for t in language(grammar.root)] == ["call:end_conversation{}<tool_call|>"]


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_call_of_each_shape_parses_to_arguments_in_the_schema(shape: str) -> None:
    schema = SHAPES[shape]
    (name,) = schema
    calls = [from_symbols(t) for t in language(compile_schema(schema).root)]
    assert calls
    for text in calls:
        call = parse_call(text.removesuffix("<tool_call|>"))
        assert call.error == "" and call.name == name, text
        specs = schema[name]["arguments"]
        assert set(schema[name]["required"]) <= set(call.arguments) <= set(specs)
        assert all(in_range(specs[k], v) for k, v in call.arguments.items()), text


def test_a_stop_tool_beside_device_tools_is_reachable(schema) -> None:
    from assistant.service.wiring import with_stop_tool

    grammar = compile_schema(with_stop_tool(schema))
    assert grammar.accepts("call:end_conversation{}<tool_call|>")
    assert grammar.accepts(call_text("set_power", {"device": "kitchen_ceiling", "state": "on"}))


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_tiny_model_forced_to_call_each_shape_writes_a_valid_call(shape: str, model) -> None:
    schema = SHAPES[shape]
    (name,) = schema
    grammar = TokenGrammar(compile_schema(schema), model.tokenizer)
    for seed in range(3):
        constraint = ToolCallConstraint.for_tokens(grammar, model.generation_spec.eos_token_ids, force=True)
        from assistant.engine.decoding.sampling import SamplingParams

        opts = model.options(sampling=SamplingParams(sample=True, seed=seed, temperature=1.5), max_new_tokens=60)
        events = list(stream_constrained(model, [Message(role="user", text="go")], declarations(schema), constraint, opts))
        calls = [e for e in events if isinstance(e, ToolCall)]
        assert len(calls) == 1 and calls[0].error == "" and calls[0].name == name, calls
        specs = schema[name]["arguments"]
        assert all(in_range(specs[k], v) for k, v in calls[0].arguments.items())
