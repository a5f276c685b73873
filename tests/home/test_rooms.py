"""Room by default: an unnamed device is the one in the assistant's room (``mqtt.area``), a named room wins,
and this room's devices come first in the grammar. Commands go through a real Mosquitto."""

from __future__ import annotations

import time

import pytest

from assistant.home import open_home
from assistant.protocols import ToolCall

from . import rooms_home
from .conftest import Broker, needs_mosquitto

pytestmark = needs_mosquitto


@pytest.fixture
def rooms_broker(broker: Broker) -> Broker:
    loader = broker.client("loader")
    for topic, payload in rooms_home.retained().items():
        loader.publish(topic, payload, retain=True)
    loader.close()
    return broker


def commands_after(broker: Broker, area: str, call: ToolCall) -> tuple[str, set[str]]:
    spy = broker.client("spy")
    spy.subscribe("house/#")
    home = open_home(broker.config(client_id=f"a_{area.lower().replace(' ', '_')}", area=area))
    try:
        home.wait_for_discovery(quiet_s=0.3)
        spoken = home.execute(call)
        time.sleep(0.2)  # the spy's copy of the QoS 1 command
    finally:
        home.close()
        spy.close()
    return spoken, {t for t, _, _ in spy.messages}


@pytest.mark.parametrize("area", ["Kitchen", "Living room"])
def test_the_light_is_this_rooms_light(rooms_broker: Broker, area: str):
    spoken, topics = commands_after(rooms_broker, area, ToolCall("set_power", {"device": "light", "state": "on"}))
    assert spoken == "Done." and topics == rooms_home.topics_in(area)


def test_the_light_in_a_room_with_two_switches_both(rooms_broker: Broker):
    _, topics = commands_after(rooms_broker, "Bedroom", ToolCall("set_power", {"device": "light", "state": "off"}))
    assert topics == rooms_home.topics_in("Bedroom") and len(topics) == 2


def test_a_named_room_wins(rooms_broker: Broker):
    _, topics = commands_after(rooms_broker, "Kitchen", ToolCall("set_power", {"device": "bedroom_light", "state": "on"}))
    assert topics == {rooms_home.topic_of("bedroom_l")}


def test_without_a_room_the_word_is_not_a_device(rooms_broker: Broker):
    spoken, topics = commands_after(rooms_broker, "", ToolCall("set_power", {"device": "light", "state": "on"}))
    assert topics == set() and "no device called light" in spoken


def test_the_grammar_offers_the_room_word_then_this_rooms_devices_first(rooms_broker: Broker):
    home = open_home(rooms_broker.config(client_id="a_bedroom", area="Bedroom"))
    try:
        home.wait_for_discovery(quiet_s=0.3)
        enum = home.tool_schema()["set_power"]["arguments"]["device"]["enum"]
        assert enum[:3] == ["light", "bedroom_light", "reading_lamp"] and set(enum[3:]) == {"kitchen_light", "living_room_light"}
        (power,) = [t for t in home.tools() if t["function"]["name"] == "set_power"]
        assert "light=the light in this room (Bedroom)" in power["function"]["parameters"]["properties"]["device"]["description"]
    finally:
        home.close()


def test_the_constrained_grammar_accepts_the_room_word(rooms_broker: Broker):
    from assistant.engine.grammar.grammar import call_text, compile_schema, to_symbols

    home = open_home(rooms_broker.config(client_id="a_kitchen", area="Kitchen"))
    try:
        home.wait_for_discovery(quiet_s=0.3)
        root = compile_schema(home.tool_schema()).root
    finally:
        home.close()
    node = root.walk(to_symbols(call_text("set_power", {"device": "light", "state": "on"})))
    assert node is not None and node.final
