"""Fuzz: tool-call text and arguments of any shape never raise past the parser and validation, and nothing off the
registry is ever published (checked per call on the validation layer's output, and by a subscriber on a real broker)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.engine.decoding.toolcalls import extract_calls, parse_call
from assistant.home import Home, open_home
from assistant.home.tools import TOOLS, eligible
from assistant.home.validate import MAX_PAYLOAD, Action, Refusal, validate
from assistant.protocols import ToolCall
from tests.home import fixtures
from tests.home.conftest import Broker, needs_mosquitto
from tests.home.strategies import ARG_NAMES, NASTY, SCALAR, TOOL_NAMES

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])
QUOTE = '<|"|>'
PIECES = ["call:", "{", "}", "[", "]", ",", ":", QUOTE, "<tool_call|>", "<|tool_call>", "set_power", "device", "state",
          "kitchen_ceiling", "on", "true", "null", "1e309", "-0", "21.5", " ", "\n", "x" * 300]
CALL_TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=40).map("".join)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Home, Any]]:
    broker = Broker(Path(tmp_path_factory.mktemp("fuzz-broker")))
    broker.start()
    loader = broker.client("loader")
    for topic, payload in fixtures.retained().items():
        loader.publish(topic, payload, retain=True)
    loader.close()
    home = open_home(broker.config(announce=False, state_echo_timeout_s=0.0, publish_timeout_s=1.0))
    home.wait_for_discovery(quiet_s=0.3)
    spy = broker.client("spy")
    spy.subscribe("#")
    yield home, spy
    spy.close()
    home.close()
    broker.stop()


def device_ids() -> list[str]:
    return [d.id for d in fixtures.loaded_registry().devices(include_hidden=True)]


ELIGIBLE = {tool: [d.id for d in fixtures.loaded_registry().devices() if eligible(tool, d)] for tool in TOOLS}
ARGUMENT = st.one_of(SCALAR, st.sampled_from(device_ids()), st.sampled_from(["on", "off", "up", "down", "blue", "heat",
                                                                             "locked", "unlocked", "armed_night", "yes"]),
                     st.lists(SCALAR, max_size=3), st.dictionaries(st.text(max_size=5), SCALAR, max_size=3))
CALLS = st.builds(ToolCall, name=st.one_of(st.sampled_from(TOOL_NAMES), NASTY),
                  arguments=st.dictionaries(st.one_of(st.sampled_from(ARG_NAMES), st.text(max_size=6)), ARGUMENT, max_size=4))
NUMBER = st.one_of(st.integers(-50, 150), st.floats(-50, 150), st.sampled_from([0, 100, 21.5, "30", "1e3", True]))


@st.composite
def plausible_call(draw: st.DrawFn) -> ToolCall:
    """A call to a real tool with its own argument names: far more of these get past validation and publish."""
    name = draw(st.sampled_from(sorted(TOOLS)))
    fit = ELIGIBLE[name] or device_ids()
    args: dict[str, Any] = {"device": draw(st.one_of(st.sampled_from(fit), st.sampled_from(fit), st.sampled_from(fit), NASTY))}
    for arg, spec in TOOLS[name][2].items():
        if arg in TOOLS[name][3] or draw(st.booleans()):
            own = st.sampled_from(spec["enum"]) if spec.get("enum") else NUMBER
            args[arg] = draw(st.one_of(own, own, own, ARGUMENT))
    if name == "set_climate":
        args["mode"] = draw(st.sampled_from(["heat", "off", "auto", "cool", "x"]))
    return ToolCall(name, args)


def check_on_registry(call: ToolCall, registry: Any) -> None:
    try:
        target = validate(call, registry)
    except Refusal:
        return
    if isinstance(target, Action):
        assert registry.get(target.device.id) is target.device
        for command in target.commands:
            assert command.topic in registry.command_topics() and not registry.guard.refused(command.topic)
            assert isinstance(command.payload, str) and len(command.payload) <= MAX_PAYLOAD


@FUZZ
@given(CALL_TEXT)
def test_any_call_text_parses_without_raising(text: str) -> None:
    call = parse_call(text)
    assert isinstance(call, ToolCall) and (call.error or isinstance(call.arguments, dict))
    visible, calls = extract_calls(f"hi <|tool_call>{text}<tool_call|> there <|tool_call>{text}")
    assert isinstance(visible, str) and len(calls) >= 1 and calls[-1].error


@needs_mosquitto
@FUZZ
@given(st.one_of(plausible_call(), plausible_call(), CALLS, CALL_TEXT.map(parse_call)))
def test_nothing_off_the_registry_is_ever_published(live, call: ToolCall) -> None:
    home, _spy = live
    check_on_registry(call, home.registry)
    spoken = home.execute(call)
    assert isinstance(spoken, str) and spoken


@needs_mosquitto
def test_the_subscriber_saw_only_registry_command_topics(live) -> None:
    home, spy = live
    home.execute(ToolCall("set_power", {"device": "kitchen_ceiling", "state": "on"}))
    time.sleep(0.3)
    allowed = home.registry.command_topics()
    sent = {t for t, _, retained in spy.messages if not retained}
    assert len(sent) >= 2 and sent <= allowed, sent - allowed  # the fuzzed calls published too, only there


def test_deep_nesting_is_a_malformed_call_not_a_recursion_error() -> None:
    for opener, closer in (("[", "]"), ("{a:", "}")):
        call = parse_call("call:set_power{device:" + opener * 5000 + "1" + closer * 5000 + "}")
        assert call.name == "set_power" and "nested deeper than" in call.error
    assert parse_call("call:x{a:" + "[" * 15 + "]" * 15 + "}").error == ""  # 16 levels with the braces
