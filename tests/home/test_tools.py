"""Tool declarations, the grammar-friendly schema and the device selection (pure, no broker)."""

from __future__ import annotations

import json

from assistant.home import tools

from . import fixtures


def registry_devices():
    return fixtures.loaded_registry().devices()


def by_name(decls):
    return {d["function"]["name"]: d["function"] for d in decls}


def test_declarations_are_openai_functions_with_enumerated_device_ids():
    devices = registry_devices()
    decls = tools.declarations(tools.tool_schema(devices), devices)
    for d in decls:
        assert d["type"] == "function"
        f = d["function"]
        assert f["name"] and f["description"] and f["parameters"]["type"] == "object"
        assert set(f["parameters"]["required"]) <= set(f["parameters"]["properties"])
    fns = by_name(decls)
    assert set(fns) == {"set_power", "set_brightness", "set_color", "set_cover", "set_climate", "set_lock", "set_alarm",
                        "get_state", "confirm"}
    power = fns["set_power"]["parameters"]["properties"]
    assert "kitchen_ceiling" in power["device"]["enum"] and "fan_plug" in power["device"]["enum"]
    assert "bedroom_sensor" not in power["device"]["enum"]  # read-only
    assert "porch_light" not in power["device"]["enum"]  # unsupported template
    assert power["state"]["enum"] == ["on", "off"]
    assert "bedroom_sensor" in fns["get_state"]["parameters"]["properties"]["device"]["enum"]
    assert fns["set_lock"]["parameters"]["properties"]["device"]["enum"] == ["back_door", "front_door"]
    json.dumps(decls)  # serialisable for the chat template


def test_schema_gives_closed_sets_and_per_device_ranges():
    schema = tools.tool_schema(registry_devices())
    climate = schema["set_climate"]
    assert climate["arguments"]["mode"]["enum"] == ["auto", "heat", "off"]
    assert (climate["arguments"]["temperature"]["minimum"], climate["arguments"]["temperature"]["maximum"]) == (5, 35)
    assert climate["per_device"]["living_room_thermostat"]["temperature"] == {"minimum": 5, "maximum": 28, "step": 0.5}
    assert climate["per_device"]["hall_radiator"]["mode"] == {"enum": ["off", "heat"]}
    assert schema["set_cover"]["per_device"]["garage_door"] == {"position": {"enum": [0, 100]}}
    assert "bedroom_blind" not in schema["set_cover"]["per_device"]  # full range, nothing narrower
    assert schema["set_color"]["per_device"]["kitchen_spots"]["color"]["enum"] == ["white", "warm white", "cool white"]
    assert schema["confirm"]["arguments"]["answer"]["enum"] == ["yes", "no"]


def test_no_confirm_tool_without_sensitive_devices_and_aliases_in_descriptions():
    devices = [d for d in registry_devices() if not d.sensitive]
    assert "confirm" not in tools.tool_schema(devices)
    devices[0].aliases = ("the thing",)
    fns = by_name(tools.declarations(tools.tool_schema(devices), devices))
    assert f"the thing={devices[0].id}" in fns["get_state"]["parameters"]["properties"]["device"]["description"]


def test_small_home_offers_everything():
    devices = registry_devices()
    assert tools.select(devices, "", limit=100) == devices


def test_large_home_offers_the_devices_the_utterance_is_about():
    devices = registry_devices()
    chosen = {d.id for d in tools.select(devices, "turn on the kitchen lights", limit=4)}
    assert {"kitchen_ceiling", "kitchen_lights", "kitchen_spots"} <= chosen
    assert "living_room_thermostat" in {d.id for d in tools.select(devices, "make it warmer in the living room", limit=3)}
    assert "kitchen_ceiling" in {d.id for d in tools.select(devices, "switch off the kichen ceiling", limit=2)}  # mis-heard


def test_ties_prefer_the_assistants_area_then_recent_use():
    devices = registry_devices()
    office = tools.select(devices, "", limit=1, home_area="office")
    assert [d.id for d in office] == ["desk_lamp"]
    recent = tools.select(devices, "", limit=1, recent=[fixtures.loaded_registry().get("fan_plug").key])
    assert [d.id for d in recent] == ["fan_plug"]


def test_confirm_stays_offered_while_a_question_is_open_even_in_a_large_home():
    import dataclasses

    from assistant.config.schema import MqttConfig
    from assistant.home.bus import MqttBus
    from assistant.protocols import ToolCall

    cfg = dataclasses.replace(MqttConfig(), max_tool_devices=2)
    bus = MqttBus(fixtures.loaded_registry(), publisher=None, cfg=cfg)  # type: ignore[arg-type]  # asking publishes nothing
    assert "confirm" not in by_name(bus.tools("turn on the kitchen lights"))
    assert bus.execute(ToolCall("set_lock", {"device": "front_door", "state": "unlocked"})).startswith("Do you really")
    assert "confirm" in by_name(bus.tools("yes"))
    assert "confirm" in bus.tool_schema("yes")


def test_brightness_percent_and_change_are_exclusive_in_the_schema_and_its_grammar():
    from assistant.engine.grammar.grammar import compile_schema

    schema = tools.tool_schema(registry_devices())
    assert schema["set_brightness"]["exclusive"] == [["percent", "change"]]
    assert "exclusive" not in schema["set_power"]
    grammar = compile_schema({"set_brightness": schema["set_brightness"]})
    device = schema["set_brightness"]["arguments"]["device"]["enum"][0]
    q = '<|"|>'
    assert grammar.accepts(f"call:set_brightness{{change:{q}up{q},device:{q}{device}{q}}}<tool_call|>")
    assert not grammar.accepts(f"call:set_brightness{{change:{q}up{q},device:{q}{device}{q},percent:50}}<tool_call|>")
