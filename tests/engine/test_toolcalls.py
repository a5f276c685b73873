"""Gemma 4 tool-call syntax -> structured calls; malformed calls become error values."""

from __future__ import annotations

import pytest

from assistant.engine.decoding.toolcalls import extract_calls, parse_call

Q = '<|"|>'


def test_strings_numbers_booleans_and_nesting() -> None:
    body = (
        f"call:set_light{{entity:{Q}light.kitchen{Q},brightness:80,level:-0.5,on:true,off:false,"
        f"none:null,rgb:[255,128,0],opts:{{transition:{Q}2 s{Q},tags:[{Q}a{Q},{Q}b,c{Q}]}},exp:1e3}}"
    )
    call = parse_call(body)
    assert call.error == ""
    assert call.name == "set_light"
    assert call.arguments == {
        "entity": "light.kitchen",
        "brightness": 80,
        "level": -0.5,
        "on": True,
        "off": False,
        "none": None,
        "rgb": [255, 128, 0],
        "opts": {"transition": "2 s", "tags": ["a", "b,c"]},
        "exp": 1000.0,
    }
    assert isinstance(call.arguments["brightness"], int)
    assert call.raw == f"<|tool_call>{body}<tool_call|>"


def test_strings_keep_special_characters_and_unicode() -> None:
    call = parse_call(f"call:say{{text:{Q}Grüße, {{x}}: [ok] 🙂{Q}}}")
    assert call.error == ""
    assert call.arguments == {"text": "Grüße, {x}: [ok] 🙂"}


def test_quoted_keys_empty_containers_whitespace_and_no_arguments() -> None:
    assert parse_call(f"call:f{{ {Q}a b{Q} : 1 , e:{{}}, l:[ ] }}").arguments == {"a b": 1, "e": {}, "l": []}
    assert parse_call("call:get_time{}").arguments == {}
    no_args = parse_call("call:get_time")
    assert (no_args.name, no_args.arguments, no_args.error) == ("get_time", {}, "")


def test_bare_word_value_is_a_string() -> None:
    assert parse_call("call:f{mode:auto,n:12ab}").arguments == {"mode": "auto", "n": "12ab"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("set_light{x:1}", "does not start with 'call:'"),
        ("call:{x:1}", "no function name"),
        (f"call:f{{x:{Q}open", "unterminated string"),
        ("call:f{x:1", "expected '}'"),
        ("call:f{x 1}", "expected ':'"),
        ("call:f{x:[1,2}", "expected ']'"),
        ("call:f{x:1} trailing", "unexpected text"),
        ("call:f{x:}", "expected a value"),
    ],
)
def test_malformed_calls_are_error_values(body: str, fragment: str) -> None:
    call = parse_call(body)
    assert fragment in call.error
    assert call.arguments == {}
    assert call.raw.endswith("<tool_call|>")


def test_several_calls_in_a_row_with_text_between() -> None:
    text = (
        f"Sure.<|tool_call>call:a{{x:1}}<tool_call|><|tool_call>call:b{{y:{Q}z{Q}}}<tool_call|> Done"
        "<|tool_call>call:c{bad<tool_call|>"
    )
    visible, calls = extract_calls(text)
    assert visible == "Sure. Done"
    assert [c.name for c in calls] == ["a", "b", "c"]
    assert calls[0].arguments == {"x": 1} and calls[1].arguments == {"y": "z"}
    assert calls[2].error and not calls[0].error and not calls[1].error


def test_unclosed_call_at_end_is_an_error_value() -> None:
    visible, calls = extract_calls("Ok<|tool_call>call:a{x:1")
    assert visible == "Ok"
    assert len(calls) == 1 and "not closed" in calls[0].error
