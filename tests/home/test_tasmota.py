"""Tasmota native discovery (pure, no broker)."""

from __future__ import annotations

import json

from assistant.home import tasmota
from assistant.home.model import BRIGHTNESS, COLOR, POWER, Command

from . import fixtures


def parse(cfg: dict) -> list:
    return tasmota.parse_config(f"tasmota/discovery/{cfg['mac']}/config", json.dumps(cfg))


def test_topics_follow_the_announced_full_topic():
    [d] = parse(fixtures.TASMOTA_BASIC)  # ft = "%topic%/%prefix%/"
    assert (d.name, d.kind, d.key) == ("Fan plug", "switch", "tasmota:DC4F22A1B2C3:1")
    assert d.capabilities[POWER].encode("on") == [Command("fanplug/cmnd/POWER", "ON")]
    topics = {s.topic: s for s in d.state_topics}
    assert topics["fanplug/stat/RESULT"].parse('{"POWER":"OFF"}') == {POWER: "off"}
    assert topics["fanplug/stat/POWER"].parse("ON") == {POWER: "on"}
    assert d.availability[0].topic == "fanplug/tele/LWT"
    assert (d.availability[0].parse("Online"), d.availability[0].parse("Offline")) == (True, False)


def test_multi_relay_devices_use_indexed_power_and_friendly_names():
    porch, garden = parse(fixtures.TASMOTA_DUAL)
    assert (porch.name, garden.name) == ("Porch lamp", "Garden lamp")
    assert garden.capabilities[POWER].encode("off") == [Command("cmnd/tasmota_D3E4F5/POWER2", "OFF")]
    assert garden.state_topics[0].parse('{"POWER1":"ON","POWER2":"OFF"}') == {POWER: "off"}


def test_rgbcw_light():
    [bulb] = parse(fixtures.TASMOTA_BULB)
    assert bulb.kind == "light"
    assert bulb.capabilities[BRIGHTNESS].encode(40) == [Command("cmnd/sofa_bulb/Dimmer", "40")]
    assert bulb.capabilities[COLOR].encode("red") == [Command("cmnd/sofa_bulb/Color", "255,0,0")]
    assert bulb.capabilities[COLOR].encode("warm white") == [Command("cmnd/sofa_bulb/CT", "370")]
    assert bulb.state_topics[1].parse('{"POWER":"ON","Dimmer":40}') == {POWER: "on", BRIGHTNESS: 40}


def test_setoption26_forces_an_index_and_shutters_are_unsupported():
    [d] = parse({**fixtures.TASMOTA_BASIC, "so": {"26": 1}})
    assert d.capabilities[POWER].topics == ("fanplug/cmnd/POWER1",)
    shutter = parse({**fixtures.TASMOTA_DUAL, "rl": [3, 3, 0, 0, 0, 0, 0, 0]})
    assert all(s.unsupported and not s.capabilities for s in shutter)


def test_not_a_tasmota_config():
    assert tasmota.parse_config("tasmota/discovery/X/config", '{"hello": 1}') == []
    assert tasmota.parse_config("tasmota/discovery/X/config", "") == []
    assert tasmota.is_config_topic("tasmota/discovery", "tasmota/discovery/DC4F22A1B2C3/config")
    assert not tasmota.is_config_topic("tasmota/discovery", "tasmota/discovery/DC4F22A1B2C3/sensors")
