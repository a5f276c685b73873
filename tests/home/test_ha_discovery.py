"""Home Assistant MQTT discovery parsing (pure, no broker)."""

from __future__ import annotations

import json
import logging

from assistant.home import ha_discovery
from assistant.home.model import BRIGHTNESS, COLOR, LOCK, MODE, POSITION, POWER, SETPOINT, Command
from assistant.home.registry import Registry, Topics

from . import fixtures

HA = "homeassistant"


def parse(topic: str, payload: dict | str) -> list:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return ha_discovery.parse_config(HA, f"{HA}/{topic}", text)


def test_single_component_abbreviations_and_base_topic():
    [d] = parse("switch/garden/irrigation/config", fixtures.HA_IRRIGATION)
    assert (d.key, d.name, d.kind, d.area) == ("homeassistant:irrigation_valve_1", "Garden Irrigation", "switch", "Garden")
    assert d.capabilities[POWER].encode("on") == [Command("home/irrigation/set", "1")]
    assert d.capabilities[POWER].encode("off") == [Command("home/irrigation/set", "0")]
    [state] = d.state_topics
    assert state.topic == "home/irrigation/state" and state.parse("1") == {POWER: "on"}
    [avail] = d.availability
    assert avail.topic == "home/irrigation/status"
    assert (avail.parse("up"), avail.parse("down"), avail.parse("?")) == (True, False, None)


def test_device_based_form_shares_root_options():
    devices = parse("device/shelly_a8032ab12345/config", fixtures.HA_SHELLY)
    relay, power = sorted(devices, key=lambda d: d.kind, reverse=True)
    assert relay.name == "Hall Ceiling light" and relay.area == "Hallway" and power.kind == "sensor"
    base = "shellyplus1pm-a8032ab12345"
    assert relay.capabilities[POWER].encode("on") == [Command(f"{base}/command/switch:0", "on")]
    assert relay.state_topics[0].parse('{"output": true, "apower": 12.5}') == {POWER: "on"}
    assert power.state_topics[0].parse('{"output": true, "apower": 12.5}') == {"power": "12.5"}
    assert power.units == {"power": "W"}
    for d in devices:  # availability and ~ come from the root
        assert d.availability[0].topic == f"{base}/online" and d.availability[0].parse("false") is False


def test_device_based_component_reduced_to_platform_is_removed():
    payload = json.loads(json.dumps(fixtures.HA_SHELLY))
    payload["cmps"]["relay"] = {"p": "switch"}
    devices = parse("device/shelly_a8032ab12345/config", payload)
    assert [d.kind for d in devices] == ["sensor"]


def test_json_light_commands():
    [d] = parse("light/desk_lamp/config", fixtures.HA_DESK)
    assert d.name == "Desk lamp" and d.area == "Office"  # name null: the device itself
    topic = "office/desk_lamp/set"
    assert d.capabilities[BRIGHTNESS].encode(50) == [Command(topic, '{"state":"ON","brightness":127}')]
    assert d.capabilities[COLOR].encode("warm white") == [Command(topic, '{"state":"ON","color_temp":370}')]
    red = json.loads(d.capabilities[COLOR].encode("red")[0].payload)
    assert red["color"]["x"] > 0.6 and red["color"]["y"] < 0.35
    assert d.state_topics[0].parse('{"state":"ON","brightness":254}') == {POWER: "on", BRIGHTNESS: 100}


def test_default_schema_light_with_separate_topics():
    cfg = {"name": "Hall", "uniq_id": "hall1", "cmd_t": "hall/on", "bri_cmd_t": "hall/bri", "bri_scl": 100,
           "rgb_cmd_t": "hall/rgb", "rgb_cmd_tpl": "{{ red }},{{ green }},{{ blue }}", "bri_stat_t": "hall/bri/state"}
    [d] = parse("light/hall/config", cfg)
    assert d.capabilities[BRIGHTNESS].encode(30) == [Command("hall/bri", "30")]
    assert d.capabilities[COLOR].encode("blue") == [Command("hall/rgb", "0,0,255")]
    assert {s.topic for s in d.state_topics} == {"hall/bri/state"}
    assert d.state_topics[0].parse("50") == {BRIGHTNESS: 50}


def test_climate_lock_cover_and_alarm():
    [trv] = parse("climate/living_trv/config", fixtures.HA_TRV)
    assert trv.capabilities[SETPOINT].encode(21.5) == [Command("trv/living/target/set", "21.5")]
    assert (trv.capabilities[SETPOINT].minimum, trv.capabilities[SETPOINT].maximum) == (5, 28)
    assert trv.capabilities[MODE].values == ("off", "heat", "auto")
    [lock] = parse("lock/front_door/config", fixtures.HA_FRONT_DOOR)
    assert lock.sensitive and lock.capabilities[LOCK].encode("unlocked") == [Command("nuki/front/lock/set", "UNLOCK")]
    assert lock.state_topics[0].parse("LOCKED") == {LOCK: "locked"}
    [garage] = parse("cover/garage/config", fixtures.HA_GARAGE)
    assert garage.sensitive and garage.capabilities[POSITION].encode(100) == [Command("garage/door/set", "OPEN")]
    assert garage.capabilities[POSITION].step == 100
    [alarm] = parse("alarm_control_panel/house/config", fixtures.HA_ALARM)
    assert alarm.sensitive and alarm.capabilities["alarm"].encode("armed_away") == [Command("alarm/set", "ARM_AWAY")]


def test_cover_with_position_template():
    cfg = {"name": "Blind", "uniq_id": "b1", "cmd_t": "b/set", "set_pos_t": "b/pos/set",
           "set_pos_tpl": '{"position": {{ position }}}', "pos_t": "b/pos"}
    [d] = parse("cover/b/config", cfg)
    assert d.capabilities[POSITION].encode(30) == [Command("b/pos/set", '{"position": 30}')]
    assert d.state_topics[0].parse("30") == {POSITION: 30}


def test_unsafe_command_template_makes_entity_unsupported_with_a_log_line(caplog):
    with caplog.at_level(logging.WARNING, logger="assistant.home"):
        [d] = parse("light/porch/config", fixtures.HA_UNSAFE)
    assert d.unsupported and not d.capabilities
    assert "Porch light" in caplog.text and "unsupported" in caplog.text


def test_wildcard_command_topic_is_refused():
    [d] = parse("switch/evil/config", {"name": "Evil", "uniq_id": "evil", "cmd_t": "home/#"})
    assert d.unsupported and not d.capabilities


def test_bad_payloads_and_ignored_platforms(caplog):
    assert parse("switch/x/config", "not json") == []
    assert parse("switch/x/config", "[1, 2]") == []
    assert parse("button/x/config", {"name": "Restart", "cmd_t": "x/restart"}) == []
    assert parse("switch/x/config", "") == []


def test_config_topic_forms():
    assert ha_discovery.is_config_topic(HA, "homeassistant/switch/obj/config")
    assert ha_discovery.is_config_topic(HA, "homeassistant/switch/node/obj/config")
    assert ha_discovery.is_config_topic(HA, "homeassistant/device/dev1/config")
    assert not ha_discovery.is_config_topic(HA, "homeassistant/status")
    assert not ha_discovery.is_config_topic(HA, "homeassistant/switch/obj/state")


def test_empty_payload_deletes_and_prefix_is_configurable():
    registry = Registry(Topics(discovery_prefix="ha"))
    registry.handle("ha/switch/garden/irrigation/config", json.dumps(fixtures.HA_IRRIGATION))
    registry.handle("homeassistant/light/desk_lamp/config", json.dumps(fixtures.HA_DESK))  # other prefix: ignored
    assert [d.id for d in registry.devices()] == ["garden_irrigation"]
    registry.handle("ha/switch/garden/irrigation/config", "")
    assert registry.devices() == []
