"""The character-level grammar compiled from the home schema: exactly the valid calls, in the template's spelling."""

from __future__ import annotations

from typing import Any

import pytest

from assistant.engine.decoding.toolcalls import parse_call
from assistant.engine.grammar.grammar import (
    QUOTE_TOKEN,
    Grammar,
    GrammarError,
    Node,
    call_text,
    compile_schema,
    from_symbols,
)
from assistant.home.model import Device
from assistant.home.validate import Action, Refusal, validate

from .commands import TYPICAL

Q = QUOTE_TOKEN


def language(node: Node, prefix: str = "") -> list[str]:
    """Every complete call the grammar accepts (it is finite)."""
    out = [prefix] if node.final else []
    for ch, child in node.edges.items():
        out += language(child, prefix + ch)
    return out


@pytest.fixture(scope="module")
def every_call(grammar: Grammar) -> list[str]:
    return [from_symbols(t) for t in language(grammar.root)]


def rendered_call(tokenizer: Any, name: str, args: dict[str, Any]) -> str:
    """What the model's own chat template writes for an assistant turn with this call."""
    messages = [{"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": name, "arguments": args}}]}]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    start = text.index("<|tool_call>") + len("<|tool_call>")
    return text[start : text.index("<tool_call|>") + len("<tool_call|>")]


@pytest.mark.parametrize(("utterance", "name", "args"), TYPICAL, ids=[t[0] for t in TYPICAL])
def test_typical_calls_are_spelled_as_the_chat_template_writes_them(grammar, tokenizer, utterance, name, args) -> None:
    text = call_text(name, args)
    assert text == rendered_call(tokenizer, name, args)
    assert grammar.accepts(text)
    call = parse_call(text.removesuffix("<tool_call|>"))
    assert (call.name, call.arguments, call.error) == (name, args, "")


def test_exact_serialisation_of_one_call() -> None:
    text = call_text("set_power", {"state": "on", "device": "kitchen_ceiling"})
    assert text == f"call:set_power{{device:{Q}kitchen_ceiling{Q},state:{Q}on{Q}}}<tool_call|>"
    climate = call_text("set_climate", {"device": "x", "temperature": 21.5})
    assert climate == f"call:set_climate{{device:{Q}x{Q},temperature:21.5}}<tool_call|>"


def test_every_call_in_the_language_parses_and_validates(every_call: list[str], registry) -> None:
    assert 1000 < len(every_call) < 5000
    tools_seen = set()
    for text in every_call:
        call = parse_call(text.removesuffix("<tool_call|>"))
        assert call.error == "", text
        tools_seen.add(call.name)
        if call.name == "confirm":  # answered by the service's confirmation flow, not by validate()
            assert call.arguments in ({"answer": "yes"}, {"answer": "no"})
            continue
        try:
            result = validate(call, registry)
        except Refusal as refusal:  # a relative change needs the light's current brightness, which only one reports
            assert "change" in call.arguments and str(refusal).startswith("I don't know how bright"), (text, refusal)
            continue
        assert isinstance(result, Action | Device), text
    assert tools_seen == {"set_power", "set_brightness", "set_color", "set_cover", "set_climate", "set_lock",
                          "set_alarm", "get_state", "confirm"}


def test_the_language_is_complete_for_closed_sets(every_call: list[str], schema) -> None:
    calls = [parse_call(t.removesuffix("<tool_call|>")) for t in every_call]
    power = {(c.arguments["device"], c.arguments["state"]) for c in calls if c.name == "set_power"}
    assert power == {(d, s) for d in schema["set_power"]["arguments"]["device"]["enum"] for s in ("on", "off")}
    percents = {c.arguments["percent"] for c in calls if c.name == "set_brightness" and c.arguments["device"] == "sofa_bulb"
                and "percent" in c.arguments}
    assert percents == set(range(101))
    temps = sorted(c.arguments["temperature"] for c in calls
                   if c.name == "set_climate" and c.arguments["device"] == "living_room_thermostat"
                   and set(c.arguments) == {"device", "temperature"})
    assert temps[0] == 5 and temps[-1] == 28 and len(temps) == 47  # 5.0 .. 28.0 by the device's 0.5 step


@pytest.mark.parametrize("text", [
    f"call:set_power{{device:{Q}bedroom_sensor{Q},state:{Q}on{Q}}}<tool_call|>",  # read-only sensor
    f"call:set_power{{device:{Q}porch_light{Q},state:{Q}on{Q}}}<tool_call|>",  # unsupported device
    f"call:set_power{{device:{Q}kitchen{Q},state:{Q}on{Q}}}<tool_call|>",  # unknown id
    f"call:set_power{{device:{Q}kitchen_ceiling{Q},state:{Q}toggle{Q}}}<tool_call|>",
    f"call:set_power{{state:{Q}on{Q},device:{Q}kitchen_ceiling{Q}}}<tool_call|>",  # not the template's key order
    f"call:set_power{{device:{Q}kitchen_ceiling{Q}}}<tool_call|>",  # required state missing
    f"call:set_power{{device:{Q}kitchen_ceiling{Q},state:{Q}on{Q}}}",  # not closed
    f"call:set_color{{color:{Q}blue{Q},device:{Q}kitchen_spots{Q}}}<tool_call|>",  # white ambiance only
    f"call:set_cover{{device:{Q}garage_door{Q},position:50}}<tool_call|>",  # open/closed only
    f"call:set_cover{{device:{Q}bedroom_blind{Q},position:101}}<tool_call|>",
    f"call:set_cover{{device:{Q}bedroom_blind{Q},position:050}}<tool_call|>",
    f"call:set_climate{{device:{Q}living_room_thermostat{Q},temperature:30}}<tool_call|>",  # its max is 28
    f"call:set_climate{{device:{Q}living_room_thermostat{Q},temperature:21.3}}<tool_call|>",  # off its 0.5 step
    f"call:set_climate{{device:{Q}hall_radiator{Q},mode:{Q}auto{Q}}}<tool_call|>",  # not one of its modes
    f"call:set_climate{{device:{Q}hall_radiator{Q}}}<tool_call|>",  # says nothing to do
    f"call:set_brightness{{device:{Q}desk_lamp{Q}}}<tool_call|>",
    f"call:set_brightness{{change:{Q}up{Q},device:{Q}desk_lamp{Q},percent:50}}<tool_call|>",  # exclusive
    f"call:set_brightness{{device:{Q}desk_lamp{Q},percent:50,wobble:1}}<tool_call|>",
    f"call:turn_on{{device:{Q}desk_lamp{Q}}}<tool_call|>",
    "call:set_power{device:kitchen_ceiling,state:on}<tool_call|>",  # unquoted strings
])
def test_rejects_invalid_calls(grammar: Grammar, text: str) -> None:
    assert not grammar.accepts(text)


def test_accepts_per_device_ranges_and_modes(grammar: Grammar) -> None:
    assert grammar.accepts(f"call:set_climate{{device:{Q}hall_radiator{Q},temperature:34.5}}<tool_call|>")
    assert grammar.accepts(f"call:set_climate{{device:{Q}living_room_thermostat{Q},mode:{Q}auto{Q}}}<tool_call|>")
    assert grammar.accepts(f"call:set_climate{{device:{Q}hall_radiator{Q},mode:{Q}heat{Q},temperature:20}}<tool_call|>")
    assert grammar.accepts(f"call:confirm{{answer:{Q}yes{Q}}}<tool_call|>")


def test_equal_continuations_are_shared(schema) -> None:
    small = compile_schema({"set_power": schema["set_power"]})
    after = [small.root.walk(f"call:set_power{{device:\ue000{d}\ue000") for d in ("desk_lamp", "fan_plug", "sofa_bulb")]
    assert after[0] is not None and after[0] is after[1] is after[2]
    assert small.root.forced() == "call:set_power{device:\ue000"


@pytest.mark.parametrize(("schema", "message"), [
    ({"note": {"arguments": {"text": {"type": "string"}}, "required": ["text"]}}, "not a closed set"),
    ({"dim": {"arguments": {"level": {"type": "integer", "minimum": 0}}, "required": ["level"]}}, "minimum and maximum"),
    ({"dim": {"arguments": {"level": {"type": "number", "minimum": 0, "maximum": 1e6}}, "required": ["level"]}},
     "at most"),
    ({"dim": {"arguments": {}, "required": ["level"]}}, "not declared"),
    ({"set_power": {"arguments": {"device": {"type": "string", "enum": []}}, "required": ["device"]}}, "no tool"),
    ({"bad name": {"arguments": {}, "required": []}}, "cannot appear"),
    ({"say": {"arguments": {"w": {"type": "string", "enum": ['a<|"|>b']}}, "required": ["w"]}}, "special token"),
])
def test_schemas_that_are_not_closed_are_refused_with_one_line(schema, message: str) -> None:
    with pytest.raises(GrammarError, match=message) as err:
        compile_schema(schema)
    assert "\n" not in str(err.value)
