"""The grammar never recurses per character: enum values of any length compile, and the other values still work."""

from __future__ import annotations

import sys

import pytest

from assistant.engine.grammar.grammar import call_text, compile_schema
from assistant.engine.grammar.tokengrammar import TokenGrammar


def power_schema(*devices: str) -> dict:
    return {"set_power": {"arguments": {"device": {"type": "string", "enum": list(devices)},
                                        "state": {"type": "string", "enum": ["on", "off"]}},
                          "required": ["device", "state"]},
            "end_conversation": {"arguments": {}, "required": []}}


@pytest.mark.parametrize("length", [1_000, 20_000, 100_000])
def test_a_device_id_of_any_length_compiles_below_a_low_recursion_limit(length: int, tokenizer) -> None:
    long = "ab" * (length // 2)
    near = long[:-1] + "c"  # shares all but the last character: the union walks the whole shared chain
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # far below any name length: recursion per character would fail here
    try:
        grammar = compile_schema(power_schema("kitchen_light", long, near))
        assert grammar.accepts(call_text("set_power", {"device": long, "state": "on"}))
        assert grammar.accepts(call_text("set_power", {"device": near, "state": "off"}))
    finally:
        sys.setrecursionlimit(limit)
    normal = call_text("set_power", {"device": "kitchen_light", "state": "on"})
    assert grammar.accepts(normal)
    assert not grammar.accepts(call_text("set_power", {"device": long[:-1], "state": "on"}))
    tokens = TokenGrammar(grammar, tokenizer)
    end = tokens.walk(list(tokenizer(normal, add_special_tokens=False)["input_ids"]))
    assert end is not None and end.final
