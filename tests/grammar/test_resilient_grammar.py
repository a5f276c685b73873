"""A device whose part of the schema cannot become a grammar is left out of the turn and named in the log;
the other devices and the stop tool keep working."""

from __future__ import annotations

import logging

import pytest

from assistant.engine.constrained import resilient_grammar, without_devices
from assistant.engine.grammar.grammar import GrammarError, call_text


def schema() -> dict:
    return {
        "set_climate": {"arguments": {"device": {"type": "string", "enum": ["evil_radiator", "hall_radiator"]},
                                      "mode": {"type": "string", "enum": ["heat", "off"]}},
                        "required": ["device", "mode"],
                        "per_device": {"evil_radiator": {"mode": {"enum": ["heat", 'x<|"|>y']}}}},
        "end_conversation": {"arguments": {}, "required": []},
    }


def test_the_failing_device_is_named_and_left_out(tokenizer, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="assistant.engine")
    grammar = resilient_grammar(schema(), tokenizer)
    assert grammar.grammar.accepts(call_text("set_climate", {"device": "hall_radiator", "mode": "heat"}))
    assert not grammar.grammar.accepts(call_text("set_climate", {"device": "evil_radiator", "mode": "heat"}))
    assert grammar.grammar.accepts("call:end_conversation{}<tool_call|>")
    assert "left device(s) 'evil_radiator' out of this turn's tool grammar" in caplog.text


def test_a_schema_failing_for_no_device_still_raises(tokenizer) -> None:
    bad = {"confirm": {"arguments": {"answer": {"type": "string"}}, "required": ["answer"]}}
    with pytest.raises(GrammarError):
        resilient_grammar(bad, tokenizer)


def test_without_devices_drops_empty_tools() -> None:
    out = without_devices(schema(), {"evil_radiator", "hall_radiator"})
    assert list(out) == ["end_conversation"]
