"""zigbee2mqtt bridge/devices and bridge/groups parsing (pure, no broker)."""

from __future__ import annotations

import json

from assistant.home import z2m
from assistant.home.model import BRIGHTNESS, COLOR, LOCK, MODE, POSITION, POWER, SETPOINT, Command
from assistant.home.registry import Registry, Topics

from . import fixtures


def devices(base: str = "zigbee2mqtt") -> dict[str, object]:
    built = z2m.build(base, json.dumps(fixtures.Z2M_DEVICES), json.dumps(fixtures.Z2M_GROUPS))
    return {d.name: d for d in built}


def test_coordinator_skipped_and_names_give_areas():
    d = devices()
    assert "Coordinator" not in d
    ceiling = d["kitchen ceiling"]
    assert (ceiling.area, ceiling.kind, ceiling.key) == ("kitchen", "light", f"zigbee2mqtt:{fixtures.HUE_IEEE}")


def test_light_commands_are_absolute_json_on_the_set_topic():
    ceiling = devices()["kitchen ceiling"]
    topic = "zigbee2mqtt/kitchen/ceiling/set"
    assert ceiling.capabilities[POWER].encode("on") == [Command(topic, '{"state":"ON"}')]
    assert ceiling.capabilities[BRIGHTNESS].encode(100) == [Command(topic, '{"state":"ON","brightness":254}')]
    assert ceiling.capabilities[COLOR].encode("warm white") == [Command(topic, '{"color_temp":370}')]
    assert json.loads(ceiling.capabilities[COLOR].encode("blue")[0].payload)["color"]["x"] < 0.2
    assert ceiling.state_topics[0].topic == "zigbee2mqtt/kitchen/ceiling"
    assert ceiling.state_topics[0].parse('{"state":"OFF","brightness":127}') == {POWER: "off", BRIGHTNESS: 50}


def test_only_settable_features_become_actions():
    d = devices()
    plug, sensor = d["Coffee machine"], d["bedroom sensor"]
    assert set(plug.capabilities) == {POWER}  # power_on_behavior is settable but not one of our actions
    assert sensor.capabilities == {} and sensor.kind == "sensor"
    assert sensor.state_topics[0].parse('{"temperature": 19.5, "humidity": 48}') == {"temperature": 19.5, "humidity": 48}
    assert sensor.units["temperature"] == "°C"
    spots = d["kitchen spots"]
    assert spots.capabilities[COLOR].values == ("white", "warm white", "cool white")  # colour temperature only


def test_climate_cover_lock():
    d = devices()
    trv = d["Hall radiator"]
    sp = trv.capabilities[SETPOINT]
    assert sp.encode(21.5) == [Command("zigbee2mqtt/Hall radiator/set", '{"occupied_heating_setpoint":21.5}')]
    assert (sp.minimum, sp.maximum, sp.step) == (5, 35, 0.5)
    assert trv.capabilities[MODE].values == ("off", "heat")
    assert trv.state_topics[0].parse('{"local_temperature": 18.5, "system_mode": "heat"}') == {"temperature": 18.5, MODE: "heat"}
    blind = d["bedroom blind"]
    assert blind.capabilities[POSITION].encode(30) == [Command("zigbee2mqtt/bedroom/blind/set", '{"position":30}')]
    lock = d["Back door"]
    assert lock.sensitive
    assert lock.capabilities[LOCK].encode("locked") == [Command("zigbee2mqtt/Back door/set", '{"state":"LOCK"}')]
    assert lock.state_topics[0].parse('{"state":"UNLOCK"}') == {LOCK: "unlocked"}


def test_endpoints_become_separate_devices():
    d = devices()
    left, right = d["Stairs switch left"], d["Stairs switch right"]
    assert left.capabilities[POWER].encode("on") == [Command("zigbee2mqtt/Stairs switch/set", '{"state_left":"ON"}')]
    assert right.capabilities[POWER].encode("off") == [Command("zigbee2mqtt/Stairs switch/set", '{"state_right":"OFF"}')]
    assert left.key != right.key


def test_groups_get_the_shared_capabilities():
    d = devices()
    group = d["Kitchen lights"]
    assert "Empty group" not in d
    assert set(group.capabilities) == {POWER, BRIGHTNESS, COLOR}
    assert group.capabilities[COLOR].values == ("white", "warm white", "cool white")  # spots have no xy colour
    assert group.capabilities[POWER].encode("off") == [Command("zigbee2mqtt/Kitchen lights/set", '{"state":"OFF"}')]


def test_availability_json_and_legacy_string_and_bridge_state():
    registry = fixtures.loaded_registry()
    plug = registry.get("coffee_machine")
    ceiling = registry.get("kitchen_ceiling")
    assert registry.available(plug) is False  # legacy "offline" string
    registry.handle("zigbee2mqtt/Coffee machine/availability", '{"state":"online"}')
    assert registry.available(plug) is True
    registry.handle("zigbee2mqtt/bridge/state", '{"state":"offline"}')
    assert registry.available(plug) is False and registry.available(ceiling) is False
    registry.handle("zigbee2mqtt/bridge/state", "online")
    assert registry.available(ceiling) is True


def test_base_topic_is_configurable():
    registry = Registry(Topics(z2m_base="z2m"))
    registry.handle("z2m/bridge/devices", json.dumps(fixtures.Z2M_DEVICES))
    registry.handle("zigbee2mqtt/bridge/devices", "[]")
    ceiling = registry.get("kitchen_ceiling")
    assert ceiling.capabilities[POWER].topics == ("z2m/kitchen/ceiling/set",)
    assert "z2m/#" in registry.subscriptions()


def test_devices_come_and_go():
    registry = fixtures.loaded_registry()
    assert registry.get("back_door") is not None
    remaining = [d for d in fixtures.Z2M_DEVICES if d["friendly_name"] != "Back door"]
    registry.handle("zigbee2mqtt/bridge/devices", json.dumps(remaining))
    assert registry.get("back_door") is None and registry.get("kitchen_ceiling") is not None
