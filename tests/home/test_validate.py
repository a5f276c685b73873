"""Validation of tool calls against the registry: exact commands, every refusal, hostile model output (pure)."""

from __future__ import annotations

import json

import pytest

from assistant.home.model import Capability, Command
from assistant.home.validate import Action, Refusal, validate
from assistant.protocols import ToolCall

from . import fixtures


@pytest.fixture(scope="module")
def registry():
    return fixtures.loaded_registry()


def commands(registry, name, **args):
    action = validate(ToolCall(name, args), registry)
    assert isinstance(action, Action)
    return [(c.topic, c.payload) for c in action.commands]


def refusal(registry, call):
    with pytest.raises(Refusal) as err:
        validate(call, registry)
    return str(err.value)


def test_each_tool_builds_the_exact_command(registry):
    assert commands(registry, "set_power", device="kitchen_ceiling", state="on") == [
        ("zigbee2mqtt/kitchen/ceiling/set", '{"state":"ON"}')]
    assert commands(registry, "set_power", device="fan_plug", state="OFF") == [("fanplug/cmnd/POWER", "OFF")]
    assert commands(registry, "set_brightness", device="desk_lamp", percent=50) == [
        ("office/desk_lamp/set", '{"state":"ON","brightness":127}')]
    assert commands(registry, "set_brightness", device="desk_lamp", percent="60") == [
        ("office/desk_lamp/set", '{"state":"ON","brightness":152}')]
    assert commands(registry, "set_brightness", device="sofa_bulb", percent=0) == [("cmnd/sofa_bulb/POWER", "OFF")]
    assert commands(registry, "set_color", device="sofa_bulb", color="Warm_White") == [("cmnd/sofa_bulb/CT", "370")]
    assert commands(registry, "set_cover", device="bedroom_blind", position=30) == [
        ("zigbee2mqtt/bedroom/blind/set", '{"position":30}')]
    assert commands(registry, "set_climate", device="living_room_thermostat", temperature=21.4, mode="heat") == [
        ("trv/living/target/set", "21.5"), ("trv/living/mode/set", "heat")]
    assert commands(registry, "set_lock", device="front_door", state="unlocked") == [("nuki/front/lock/set", "UNLOCK")]
    assert commands(registry, "set_alarm", device="house_alarm", state="disarmed") == [("alarm/set", "DISARM")]


def test_brighter_works_from_the_last_known_state(registry):
    # kitchen/ceiling's retained state has brightness 127 of 254 = 50 %; "up" is +25 % -> 75 % -> 190.
    assert commands(registry, "set_brightness", device="kitchen_ceiling", change="up") == [
        ("zigbee2mqtt/kitchen/ceiling/set", '{"state":"ON","brightness":190}')]
    assert refusal(registry, ToolCall("set_brightness", {"device": "desk_lamp", "change": "up"})) == \
        "I don't know how bright the Desk lamp is."


def test_get_state_returns_the_device(registry):
    assert validate(ToolCall("get_state", {"device": "bedroom_sensor"}), registry).id == "bedroom_sensor"


@pytest.mark.parametrize(
    ("call", "spoken"),
    [
        (ToolCall("set_power", {}, raw="<garbage>", error="unparsable JSON"), "Sorry, I didn't understand that command."),
        (ToolCall("publish", {"topic": "a/b", "payload": "x"}), "I can't do that."),
        (ToolCall("set_power", {"device": "garage_heater", "state": "on"}), "There is no device called garage heater."),
        (ToolCall("set_power", {"device": "bedroom_sensor", "state": "on"}), "The bedroom sensor can't do that."),
        (ToolCall("set_brightness", {"device": "fan_plug", "percent": 50}), "The Fan plug can't do that."),
        (ToolCall("set_brightness", {"device": "desk_lamp", "percent": 150}), "The Desk lamp only goes from 0 to 100 percent."),
        (ToolCall("set_brightness", {"device": "desk_lamp", "percent": -5}), "The Desk lamp only goes from 0 to 100 percent."),
        (ToolCall("set_brightness", {"device": "desk_lamp", "percent": True}), "Sorry, I didn't get the brightness."),
        (ToolCall("set_brightness", {"device": "desk_lamp"}), "How bright should the Desk lamp be?"),
        (ToolCall("set_power", {"device": "fan_plug", "state": "toggle"}), "The Fan plug can't be set to toggle."),
        (ToolCall("set_color", {"device": "kitchen_spots", "color": "red"}), "The kitchen spots can't be set to red."),
        (ToolCall("set_cover", {"device": "garage_door", "position": 50}), "The Garage door only opens and closes."),
        (ToolCall("set_climate", {"device": "hall_radiator", "temperature": 40}),
         "The Hall radiator only goes from 5 to 35 degrees."),
        (ToolCall("set_climate", {"device": "hall_radiator", "mode": "turbo"}), "The Hall radiator can't be set to turbo."),
        (ToolCall("set_climate", {"device": "hall_radiator"}), "What should I set the Hall radiator to?"),
        (ToolCall("get_state", {"device": "porch_light"}), "I can't read the Porch light."),
    ],
)
def test_refusals_have_a_short_spoken_reason(registry, call, spoken):
    assert refusal(registry, call) == spoken


HOSTILE = [
    ToolCall("set_power", {"device": "zigbee2mqtt/kitchen/ceiling/set", "state": "on"}),  # invented topic as device
    ToolCall("set_power", {"device": "#", "state": "on"}),
    ToolCall("set_power", {"device": "+/+/set", "state": "on"}),
    ToolCall("set_power", {"device": "kitchen_ceiling/#", "state": "on"}),
    ToolCall("set_power", {"device": '{"topic": "zigbee2mqtt/bridge/request/restart"}', "state": "on"}),
    ToolCall("set_power", {"device": "kitchen_ceiling", "state": 'on", "topic": "evil/set'}),  # JSON injection
    ToolCall("set_power", {"device": "kitchen_ceiling", "state": "on", "topic": "zigbee2mqtt/bridge/request/restart"}),
    ToolCall("set_power", {"device": "kitchen_ceiling", "state": {"state": "ON", "topic": "x"}}),
    ToolCall("set_power", {"device": ["kitchen_ceiling"], "state": "on"}),
    ToolCall("set_color", {"device": "sofa_bulb", "color": "255,0,0\ncmnd/other/POWER ON"}),
    ToolCall("set_brightness", {"device": "desk_lamp", "percent": "50}; {\"state\": \"OFF\""}),
    ToolCall("set_brightness", {"device": "desk_lamp", "percent": float("nan")}),
    ToolCall("set_climate", {"device": "hall_radiator", "temperature": "1e9"}),
    ToolCall("mqtt_publish", {"topic": "zigbee2mqtt/bridge/request/restart", "payload": "{}"}),
    ToolCall("set_power; publish", {"device": "kitchen_ceiling", "state": "on"}),
    ToolCall("set_power", "kitchen_ceiling on"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("call", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_model_output_never_builds_a_command(registry, call):
    refusal(registry, call)


def test_spoken_echo_of_model_text_is_sanitised(registry):
    spoken = refusal(registry, ToolCall("set_power", {"device": "<speak>" + "x" * 200 + "</speak>", "state": "on"}))
    assert "<" not in spoken and len(spoken) < 80


def test_last_line_of_defence_rejects_a_command_to_any_other_topic(registry):
    device = fixtures.loaded_registry().get("fan_plug")
    device.capabilities["power"] = Capability("power", lambda v: [Command("zigbee2mqtt/bridge/request/restart", "{}")],
                                              ("fanplug/cmnd/POWER",), ("on", "off"))

    class One:
        def get(self, name):
            return device

    with pytest.raises(Refusal, match=r"I can't do that\."):
        validate(ToolCall("set_power", {"device": "fan_plug", "state": "on"}), One())  # type: ignore[arg-type]


def test_all_command_topics_are_discovered_topics(registry):
    topics = registry.command_topics()
    assert "zigbee2mqtt/kitchen/ceiling/set" in topics
    assert not any("#" in t or "+" in t for t in topics)
    json.dumps(sorted(topics))
