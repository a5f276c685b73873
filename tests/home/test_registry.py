"""The registry: deduplication, overrides, ids, lookups, state and availability (pure, no broker)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from assistant.errors import ConfigError
from assistant.home.model import BRIGHTNESS, POWER
from assistant.home.overrides import load_overrides
from assistant.home.registry import Registry

from . import fixtures


def test_zigbee2mqtt_devices_announced_through_ha_discovery_are_deduplicated():
    registry = fixtures.loaded_registry()
    keys = {d.key for d in registry.devices()}
    assert f"homeassistant:{fixtures.HUE_IEEE}_light_zigbee2mqtt" not in keys
    assert f"zigbee2mqtt:{fixtures.HUE_IEEE}" in keys


def test_ha_twin_lends_its_suggested_area():
    twin = {"name": None, "uniq_id": "plug_twin", "cmd_t": "zigbee2mqtt/Coffee machine/set",
            "dev": {"ids": [f"zigbee2mqtt_{fixtures.PLUG_IEEE}"], "name": "Coffee machine", "sa": "Kitchen"}}
    registry = fixtures.loaded_registry({"homeassistant/switch/plug_twin/config": json.dumps(twin)})
    assert registry.get("coffee_machine").area == "Kitchen"
    assert len([d for d in registry.devices() if "Coffee" in d.name]) == 1


def test_every_fixture_device_is_discovered_with_short_unique_ids():
    registry = fixtures.loaded_registry()
    ids = [d.id for d in registry.devices()]
    assert len(ids) == len(set(ids)) == 23
    assert {"kitchen_ceiling", "kitchen_lights", "fan_plug", "sofa_bulb", "hall_ceiling_light", "front_door",
            "living_room_thermostat", "stairs_switch_left", "porch_light"} <= set(ids)


def test_name_clashes_get_the_area_then_a_number():
    lamp = {"name": "Lamp", "cmd_t": "x/set"}
    registry = Registry()
    for i, area in enumerate(["Bedroom", "Office", "Office"]):
        cfg = {**lamp, "uniq_id": f"lamp{i}", "cmd_t": f"lamp{i}/set", "dev": {"ids": [f"l{i}"], "name": "Lamp", "sa": area}}
        registry.handle(f"homeassistant/switch/lamp{i}/config", json.dumps(cfg))
    assert [d.id for d in registry.devices()] == ["bedroom_lamp", "office_lamp", "office_lamp_2"]


def test_lookup_by_id_name_alias_ignoring_case_and_spaces():
    registry = fixtures.loaded_registry()
    assert registry.get("kitchen_ceiling").key == f"zigbee2mqtt:{fixtures.HUE_IEEE}"
    assert registry.get("Kitchen Ceiling").id == "kitchen_ceiling"
    assert registry.get("LivingRoomThermostat").id == "living_room_thermostat"
    for bad in ("", "kitchen", "#", "zigbee2mqtt/kitchen/ceiling/set", None, 42, ["kitchen_ceiling"], "x" * 500):
        assert registry.get(bad) is None


def test_overrides_file(tmp_path):
    path = tmp_path / "overrides.toml"
    path.write_text(
        f'["zigbee2mqtt:{fixtures.HUE_IEEE}"]\nname = "big lamp"\naliases = ["the big one"]\narea = "Dining room"\n'
        '["fan_plug"]\nhide = true\n'
        '["homeassistant:irrigation_valve_1"]\nsensitive = true\n'
    )
    registry = fixtures.loaded_registry(overrides=load_overrides(str(path)))
    lamp = registry.get("the big one")
    assert (lamp.id, lamp.name, lamp.area) == ("big_lamp", "big lamp", "Dining room")
    assert registry.get("fan_plug") is None and "fan_plug" not in [d.id for d in registry.devices()]
    assert "fan_plug" in [d.id for d in registry.devices(include_hidden=True)]
    assert registry.get("garden_irrigation").sensitive


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('["x"]\ncolour = "red"\n', "x.colour: unknown key"),
        ('["x"]\naliases = "one"\n', "x.aliases: expected a list of strings"),
        ('["x"]\nhide = "yes"\n', "x.hide: expected true or false"),
        ("x = 1\n", "x: expected a table"),
        ("[x\n", "invalid TOML"),
    ],
)
def test_bad_overrides_file_is_one_clear_line(tmp_path, text, message):
    path = tmp_path / "o.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_overrides(str(path))
    assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="cannot read overrides file"):
        load_overrides(str(tmp_path / "missing.toml"))


def test_state_that_arrives_before_discovery_is_kept():
    registry = Registry()
    registry.handle("zigbee2mqtt/kitchen/ceiling", '{"state":"ON","brightness":254}')
    registry.handle("zigbee2mqtt/bridge/devices", json.dumps(fixtures.Z2M_DEVICES))
    assert registry.state(registry.get("kitchen_ceiling")) == {POWER: "on", BRIGHTNESS: 100}


def test_availability_modes():
    cfg = {"name": "Dual", "uniq_id": "dual", "cmd_t": "d/set", "avty": [{"t": "a/1"}, {"t": "a/2"}]}
    for mode, expected in (("all", False), ("any", True), ("latest", False)):
        registry = Registry()
        registry.handle("homeassistant/switch/dual/config", json.dumps({**cfg, "avty_mode": mode}))
        device = registry.get("dual")
        assert registry.available(device) is None  # nothing heard yet
        registry.handle("a/1", "online")
        registry.handle("a/2", "offline")
        assert registry.available(device) is expected, mode


def test_wait_for_state_sees_a_later_update_only():
    registry = fixtures.loaded_registry()
    ceiling = registry.get("kitchen_ceiling")
    since = time.monotonic()
    assert not registry.wait_for_state(ceiling, lambda s: s.get(POWER) == "on", 0.05, since)  # old state does not count
    timer = threading.Timer(0.05, registry.handle, ("zigbee2mqtt/kitchen/ceiling", '{"state":"OFF"}'))
    timer.start()
    assert registry.wait_for_state(ceiling, lambda s: s.get(POWER) == "off", 5.0, since)
    timer.join()


def test_subscriptions_cover_state_and_availability_topics():
    subs = fixtures.loaded_registry().subscriptions()
    assert {"homeassistant/+/+/config", "homeassistant/+/+/+/config", "zigbee2mqtt/#", "tasmota/discovery/+/config",
            "fanplug/stat/RESULT", "fanplug/tele/LWT", "trv/living/target", "home/irrigation/status"} <= subs
    assert not any(s.startswith("zigbee2mqtt/") and s != "zigbee2mqtt/#" for s in subs)
