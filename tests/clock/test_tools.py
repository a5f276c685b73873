"""The clock's tools: validated before acting, answered in words, and under the grammar with the tiny model,
beside the devices of a real Mosquitto (one schema, one grammar)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.clock.book import ClockBook
from assistant.clock.store import ClockStore
from assistant.clock.tools import REFUSED, TOOL_NAMES, ClockBus, ClockTools, clock_schema
from assistant.config.schema import ModelConfig
from assistant.engine.constrained import GrammarEngine
from assistant.engine.decoding.sampling import SamplingParams
from assistant.engine.decoding.toolcalls import parse_call
from assistant.engine.grammar.grammar import call_text, compile_schema
from assistant.engine.model import GemmaModel, GenerationOptions
from assistant.home import Home, open_home
from assistant.protocols import Message, ToolCall
from assistant.service.wiring import NoDevicesBus, with_stop_tool
from tests.home import fixtures
from tests.home.conftest import Broker, needs_mosquitto

from .conftest import ZONE

CFG = ModelConfig(decoder_precision="fp32", embed_precision="fp32", audio_precision="fp32")


@pytest.fixture
def tools(book: ClockBook) -> ClockTools:
    return ClockTools(book, ["pasta", "eggs"])


def test_calls_are_validated_before_they_act(tools, book):
    assert tools.execute(ToolCall("set_timer", {"minutes": 8, "name": "pasta"})) == "Pasta timer set for 8 minutes."
    for bad in (ToolCall("set_timer", {"minutes": 700}), ToolCall("set_timer", {"seconds": 7}),
                ToolCall("set_timer", {"minutes": 2, "name": "lasagne"}),
                ToolCall("set_timer", {"minutes": "two"}), ToolCall("set_timer", {"minutes": 1.5}),
                ToolCall("add_alarm", {"minute": 5}), ToolCall("add_alarm", {"hour": 7, "minute": 32}),
                ToolCall("get_time", {"what": "weather"}),
                ToolCall("cancel_timer", {"name": "pasta", "colour": "red"}), ToolCall("set_timer", {"minutes": True})):
        assert tools.execute(bad) == REFUSED, bad
    assert len(book.timers()) == 1
    assert tools.execute(ToolCall("cancel_timer", {"name": "all"})) == "All timers cancelled."
    assert tools.execute(ToolCall("get_time", {"what": "time"})) == "It's twenty past seven in the evening."


def test_a_running_timers_name_joins_the_closed_set(tools, book):
    book.set_timer(60, "laundry")  # e.g. from 'assistant timers add 1m --name laundry'
    assert "laundry" in tools.schema()["timer_status"]["arguments"]["name"]["enum"]
    assert tools.execute(ToolCall("timer_status", {"name": "laundry"})) == "Laundry timer: 1 minute left."


def test_every_answer_is_the_services_own_sentence(tools, book, clock):
    answers = [tools.execute(ToolCall(name, args)) for name, args in [
        ("set_timer", {"minutes": 65, "name": "eggs"}), ("timer_status", {}),
        ("change_timer", {"minutes": -5}), ("add_alarm", {"hour": 7, "repeat": "daily"}), ("timer_status", {}),
        ("cancel_alarm", {"hour": 7}), ("get_time", {"what": "date"}), ("cancel_timer", {})]]
    assert answers == ["Eggs timer set for 1 hour and 5 minutes.", "Eggs timer: 1 hour and 5 minutes left.",
                       "Eggs timer now has 1 hour left.", "Alarm set for seven o'clock in the morning every day.",
                       "Eggs timer: 1 hour left. Alarms: seven o'clock in the morning every day.",
                       "Alarm for seven o'clock in the morning cancelled.",
                       "Today is Friday, the 4th of December.", "Eggs timer cancelled."]


def test_the_bus_adds_the_tools_after_the_devices_and_routes_the_calls(tools):
    bus = ClockBus(NoDevicesBus(), tools)
    assert [t["function"]["name"] for t in bus.tools()] == list(clock_schema([]))
    assert set(bus.tool_schema()) == TOOL_NAMES
    assert bus.execute(ToolCall("set_power", {"device": "x", "state": "on"})) == "The smart home is not connected."
    grammar = compile_schema(with_stop_tool(bus.tool_schema()))
    assert grammar.accepts(call_text("set_timer", {"minutes": 8, "name": "pasta"}))
    assert grammar.accepts(call_text("add_alarm", {"hour": 6, "minute": 30, "repeat": "weekdays"}))
    assert grammar.accepts(call_text("timer_status", {}))
    stop = call_text("end_conversation", {})  # "stop": a call without arguments, as the parser reads it
    assert grammar.accepts(stop) and parse_call(stop.removesuffix("<tool_call|>")).error == ""
    assert not grammar.accepts(call_text("set_timer", {"name": "pasta"}).replace("pasta", "lasagne"))
    assert not grammar.accepts(call_text("add_alarm", {"hour": 25}))


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    broker = Broker(tmp_path / "broker")
    broker.start()
    loader = broker.client("fixture-loader")
    for topic, payload in fixtures.retained().items():
        loader.publish(topic, payload, retain=True)
    loader.close()
    h = open_home(broker.config())
    h.wait_for_discovery(quiet_s=0.3)
    yield h
    h.close()
    broker.stop()


@pytest.mark.slow
@needs_mosquitto
def test_the_tiny_model_under_the_grammar_only_makes_valid_clock_calls(tmp_path, grammar_model_dir, home, clock):
    book = ClockBook(ClockStore(tmp_path / "state"), clock, ZONE, max_items=100, synced=lambda: True)
    bus = ClockBus(home, ClockTools(book, ["pasta", "eggs", "tea"]))
    schema = bus.tool_schema()
    assert set(schema) >= TOOL_NAMES and "set_power" in schema  # one schema: devices and the clock
    clock_only = {k: v for k, v in schema.items() if k in TOOL_NAMES}
    model = GemmaModel.load(grammar_model_dir, CFG)
    answers, names = [], set()
    for seed in range(12):
        opts = GenerationOptions(max_new_tokens=60,
                                 sampling=SamplingParams(sample=True, seed=seed, temperature=1.5, top_k=0, top_p=1.0))
        engine = GrammarEngine(model, lambda: clock_only, force=True, options=opts)
        calls = [e for e in engine.generate([Message("user", text="set a pasta timer for eight minutes")], bus.tools())
                 if isinstance(e, ToolCall)]
        assert len(calls) == 1 and calls[0].error == "", calls
        names.add(calls[0].name)
        answer = bus.execute(calls[0])
        assert answer and answer != REFUSED, (calls[0], answer)
        answers.append(answer)
    assert len(names) >= 3, names  # the random model wanders over several tools, each one valid
    assert book.store.read().timers == book.state.timers  # what the book says is what the file holds
