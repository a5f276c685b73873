"""Command topics in control namespaces are refused (one warning each); ``mqtt.allow_topics`` lets one through.
Duplicate stable ids are resolved deterministically with a warning."""

from __future__ import annotations

import json
import logging
import time

import pytest

from assistant.home import open_home
from assistant.home.registry import Topics
from assistant.home.topicguard import TopicGuard, parse_filters
from assistant.protocols import ToolCall

from . import fixtures
from .conftest import Broker, needs_mosquitto


def plug(name: str, command_topic: str, unique_id: str) -> str:
    return json.dumps({"name": name, "unique_id": unique_id, "command_topic": command_topic})


CONTROL_TOPICS = {
    "bridge_plug": "zigbee2mqtt/bridge/request/device/remove",
    "discovery_plug": "homeassistant/switch/other/config",
    "tasmota_plug": "tasmota/discovery/AABBCC/config",
    "sys_plug": "$SYS/broker/clients",
    "own_plug": "assistant/test_assistant/mute/set",
}


@pytest.mark.parametrize(("name", "topic"), list(CONTROL_TOPICS.items()))
def test_each_control_namespace_is_refused(name: str, topic: str, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="assistant.home")
    config = f"homeassistant/switch/{name}/config"
    topics = Topics(own_root="assistant/test_assistant")
    registry = fixtures.loaded_registry({config: plug(name.replace("_", " "), topic, name)}, topics=topics)
    device = registry.get(name)
    assert device is not None and not device.capabilities and device.unsupported.startswith("command topic in")
    assert topic not in registry.command_topics()
    assert sum(config in r.getMessage() and "refused to control" in r.getMessage() for r in caplog.records) == 1


def test_guard_rules() -> None:
    guard = TopicGuard.for_hubs("homeassistant", "zigbee2mqtt", "tasmota/discovery", "assistant/x")
    assert guard.refused("zigbee2mqtt/bridge/request/permit_join") == "zigbee2mqtt's bridge"
    assert guard.refused("zigbee2mqtt/bridge") == "zigbee2mqtt's bridge"
    assert guard.refused("zigbee2mqtt/bridgeX/set") == ""
    assert guard.refused("zigbee2mqtt/kitchen/set") == ""
    assert guard.refused("a/+/set") == guard.refused("a/#") == "a wildcard"
    assert guard.refused("$SYS/x") == "the broker's $ namespace"
    allowed = TopicGuard.for_hubs("homeassistant", "zigbee2mqtt", "tasmota/discovery",
                                  allow=parse_filters(" zigbee2mqtt/bridge/request/permit_join , $SYS/+/x"))
    assert allowed.refused("zigbee2mqtt/bridge/request/permit_join") == ""
    assert allowed.refused("$SYS/a/x") == ""
    assert allowed.refused("zigbee2mqtt/bridge/request/device/remove") == "zigbee2mqtt's bridge"
    assert allowed.refused("a/#") == "a wildcard"


def test_a_z2m_friendly_name_inside_the_bridge_is_refused() -> None:
    devices = json.loads(fixtures.retained()["zigbee2mqtt/bridge/devices"])
    evil = dict(next(d for d in devices if d.get("friendly_name") == "kitchen/ceiling"))
    evil.update(friendly_name="bridge/request/device/remove", ieee_address="0xdeadbeef")
    registry = fixtures.loaded_registry({"zigbee2mqtt/bridge/devices": json.dumps([*devices, evil])})
    assert not any(t.startswith("zigbee2mqtt/bridge/") for t in registry.command_topics())
    assert registry.get("kitchen_ceiling") is not None


@needs_mosquitto
def test_the_evil_plug_publishes_nothing_and_allow_topics_lets_one_through(broker: Broker) -> None:
    loader = broker.client("loader")
    loader.publish("homeassistant/switch/evil/config", plug("evil plug", "zigbee2mqtt/bridge/request/device/remove", "evil"),
                   retain=True)
    loader.publish("homeassistant/switch/permit/config", plug("permit", "zigbee2mqtt/bridge/request/permit_join", "permit"),
                   retain=True)
    loader.close()
    spy = broker.client("spy")
    spy.subscribe("zigbee2mqtt/#")
    home = open_home(broker.config(announce=False, state_echo_timeout_s=0.0,
                                   allow_topics="zigbee2mqtt/bridge/request/permit_join"))
    try:
        home.wait_for_discovery(quiet_s=0.3)
        home.execute(ToolCall("set_power", {"device": "evil_plug", "state": "on"}))
        assert home.bus.last_result is not None and home.bus.last_result.outcome == "refused"
        home.execute(ToolCall("set_power", {"device": "permit", "state": "on"}))
        assert home.bus.last_result is not None and home.bus.last_result.outcome == "sent"
        assert spy.wait_for("zigbee2mqtt/bridge/request/permit_join") == [("zigbee2mqtt/bridge/request/permit_join", "ON", False)]
        time.sleep(0.2)
        assert not spy.wait_for("zigbee2mqtt/bridge/request/device/remove", timeout=0.1)
    finally:
        spy.close()
        home.close()


def test_duplicate_unique_ids_keep_the_first_topic_with_one_warning(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="assistant.home")
    first = plug("first plug", "dup/a/set", "same")
    second = plug("second plug", "dup/b/set", "same")
    for order in ((("homeassistant/switch/b/config", second), ("homeassistant/switch/a/config", first)),
                  (("homeassistant/switch/a/config", first), ("homeassistant/switch/b/config", second))):
        caplog.clear()
        registry = fixtures.loaded_registry(dict(order))
        same = [d for d in registry.devices(include_hidden=True) if d.key == "homeassistant:same"]
        assert [d.name for d in same] == ["first plug"]
        assert registry.command_topics() >= {"dup/a/set"} and "dup/b/set" not in registry.command_topics()
        warned = [r.getMessage() for r in caplog.records if "duplicate stable id" in r.getMessage()]
        assert len(warned) == 1 and warned[0].startswith("homeassistant/switch/b/config") and "switch/a/config" in warned[0]


def test_a_duplicate_announced_later_never_takes_over_a_device_in_use(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="assistant.home")
    registry = fixtures.loaded_registry({"homeassistant/switch/b/config": plug("real plug", "dup/b/set", "same")})
    assert registry.get("real_plug") is not None  # in use from here on
    registry.handle("homeassistant/switch/a/config", plug("evil plug", "dup/a/set", "same"))  # sorts first
    same = [d for d in registry.devices(include_hidden=True) if d.key == "homeassistant:same"]
    assert [d.name for d in same] == ["real plug"] and "dup/a/set" not in registry.command_topics()
    assert "homeassistant/switch/a/config: duplicate stable id homeassistant:same" in caplog.text
