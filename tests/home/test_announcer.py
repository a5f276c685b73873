"""The assistant announces itself to Home Assistant (real Mosquitto playing the broker, a client playing HA)."""

from __future__ import annotations

import json
import time

import pytest

from assistant.home import open_home
from assistant.protocols import ToolCall

from .conftest import Broker, needs_mosquitto

pytestmark = needs_mosquitto
ROOT = "assistant/test_assistant"
CONFIG = "homeassistant/device/test_assistant/config"


@pytest.fixture
def ha(home_broker: Broker):
    client = home_broker.client("home-assistant")
    client.subscribe("assistant/#")
    client.subscribe(CONFIG)
    yield client
    client.close()


def last(client, topic: str) -> str:
    return client.wait_for(topic)[-1][1]


def wait_value(client, topic: str, value: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(t == topic and p == value for t, p, _ in client.messages):
            return
        time.sleep(0.02)
    raise AssertionError(f"{topic} never became {value!r}: {[m for m in client.messages if m[0] == topic]}")


def test_discovery_config_availability_and_states(home_broker: Broker, ha):
    home = open_home(home_broker.config())
    try:
        config = json.loads(last(ha, CONFIG))
        assert set(config["cmps"]) == {"status", "mute", "last_utterance", "last_action", "latency"}
        assert config["o"]["name"] == "assistant" and config["dev"]["ids"] == ["test_assistant"]
        assert config["cmps"]["mute"]["command_topic"] == f"{ROOT}/mute/set"
        assert config["cmps"]["status"]["options"] == ["idle", "listening", "thinking", "speaking"]
        assert config["availability_topic"] == f"{ROOT}/availability"
        wait_value(ha, f"{ROOT}/availability", "online")
        assert last(ha, f"{ROOT}/status") == "idle"
        home.announcer.set_status("thinking")
        wait_value(ha, f"{ROOT}/status", "thinking")
        with pytest.raises(ValueError, match="status must be one of"):
            home.announcer.set_status("dancing")
        home.announcer.set_last_utterance("turn on the fan")
        wait_value(ha, f"{ROOT}/last_utterance", "turn on the fan")
        home.wait_for_discovery(quiet_s=0.3)
        home.execute(ToolCall("set_power", {"device": "fan_plug", "state": "off"}))
        wait_value(ha, f"{ROOT}/last_action", "turn off the Fan plug")
        home.announcer.publish_latency({"total_ms": 850, "prefill_ms": 400})
        assert json.loads(last(ha, f"{ROOT}/latency")) == {"total_ms": 850, "prefill_ms": 400}
        assert not any("test_assistant" in d.key for d in home.registry.devices())
    finally:
        home.close()
    wait_value(ha, f"{ROOT}/availability", "offline")  # goodbye on a clean close


def test_mute_switch_from_home_assistant(home_broker: Broker, ha):
    home = open_home(home_broker.config())
    seen: list[bool] = []
    home.announcer.on_mute(seen.append)
    try:
        assert home.announcer.muted is False
        wait_value(ha, f"{ROOT}/mute", "OFF")
        ha.messages.clear()
        ha.publish(f"{ROOT}/mute/set", "ON")
        wait_value(ha, f"{ROOT}/mute", "ON")
        assert home.announcer.muted is True and seen == [True]
        ha.messages.clear()
        ha.publish(f"{ROOT}/mute/set", "OFF")
        wait_value(ha, f"{ROOT}/mute", "OFF")
        assert home.announcer.muted is False and seen == [True, False]
    finally:
        home.close()


def test_configs_republished_when_home_assistant_comes_back(home_broker: Broker, ha):
    home = open_home(home_broker.config())
    try:
        before = len(ha.wait_for(CONFIG))
        ha.publish("homeassistant/status", "online")
        deadline = time.monotonic() + 5
        while len(ha.wait_for(CONFIG)) == before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(ha.wait_for(CONFIG)) == before + 1
    finally:
        home.close()


def test_last_will_marks_the_assistant_offline_when_it_dies(home_broker: Broker, ha):
    home = open_home(home_broker.config())
    wait_value(ha, f"{ROOT}/availability", "online")
    ha.messages.clear()
    home.connection.client.loop_stop()
    home.connection.client.socket().close()  # no DISCONNECT packet: the broker publishes the will
    wait_value(ha, f"{ROOT}/availability", "offline")
    assert [m for m in ha.messages if m[0] == f"{ROOT}/availability"][-1][1] == "offline"
