"""Against a real Mosquitto: discovery, exact commands, echoes, refusals, outages, login and TLS."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from assistant.errors import AssistantError
from assistant.home import Home, open_home
from assistant.protocols import Bus, ToolCall

from . import fixtures
from .conftest import Broker, needs_mosquitto
from .test_validate import HOSTILE

pytestmark = needs_mosquitto


def wait_until(check: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


@pytest.fixture
def home(home_broker: Broker) -> Iterator[Home]:
    h = open_home(home_broker.config())
    h.wait_for_discovery(quiet_s=0.3)
    yield h
    h.close()


@pytest.fixture
def spy(home_broker: Broker):
    """A client that sees every non-retained message from now on (the commands)."""
    client = home_broker.client("spy")
    client.subscribe("#")
    client.messages.clear()
    yield client
    client.close()


def commands(spy) -> list[tuple[str, str]]:
    return [(t, p) for t, p, retained in spy.messages if not retained and not t.startswith(("assistant/", "homeassistant/"))]


def test_home_is_a_bus_and_discovers_all_three_kinds(home: Home):
    assert isinstance(home, Bus)
    sources = {d.source for d in home.registry.devices()}
    assert sources == {"homeassistant", "zigbee2mqtt", "tasmota"}
    assert len(home.registry.devices()) == 23
    assert home.registry.state(home.registry.get("living_room_thermostat")) == {"setpoint": 20.5, "mode": "heat",
                                                                                   "temperature": 19.0}
    assert home.registry.available(home.registry.get("fan_plug")) is True  # Tasmota LWT
    assert not any(d.id.startswith("voice_assistant") for d in home.registry.devices())  # not our own entities


def test_tool_call_publishes_the_exact_topic_and_payload_not_retained(home: Home, spy):
    cases = [
        (ToolCall("set_power", {"device": "kitchen_ceiling", "state": "off"}),
         ("zigbee2mqtt/kitchen/ceiling/set", '{"state":"OFF"}')),
        (ToolCall("set_power", {"device": "fan_plug", "state": "on"}), ("fanplug/cmnd/POWER", "ON")),
        (ToolCall("set_power", {"device": "garden_irrigation", "state": "on"}), ("home/irrigation/set", "1")),
        (ToolCall("set_color", {"device": "sofa_bulb", "color": "red"}), ("cmnd/sofa_bulb/Color", "255,0,0")),
        (ToolCall("set_climate", {"device": "hall_radiator", "mode": "heat"}),
         ("zigbee2mqtt/Hall radiator/set", '{"system_mode":"heat"}')),
    ]
    for call, expected in cases:
        spy.messages.clear()
        home.execute(call)
        assert spy.wait_for(expected[0])
        assert commands(spy) == [expected]
        assert spy.qos[expected[0]] == 1  # the spy subscribed at QoS 1 and got QoS 1: it was published at QoS 1
        assert home.bus.last_result.puback_s is not None and home.bus.last_result.topics == (expected[0],)


def test_state_echo_says_done_and_silence_says_not_responding(home_broker: Broker):
    home = open_home(home_broker.config(state_echo_timeout_s=5.0))
    home.wait_for_discovery(quiet_s=0.3)
    device = home_broker.client("fake-zigbee")
    device.subscribe("zigbee2mqtt/kitchen/ceiling/set")

    def echo() -> None:
        msgs = device.wait_for("zigbee2mqtt/kitchen/ceiling/set")
        state = json.loads(msgs[0][1])
        device.publish("zigbee2mqtt/kitchen/ceiling", json.dumps({**state, "brightness": 254}), retain=True)

    responder = threading.Thread(target=echo)
    responder.start()
    assert home.execute(ToolCall("set_power", {"device": "kitchen_ceiling", "state": "off"})) == "Done."
    responder.join()
    result = home.bus.last_result
    assert result.outcome == "done" and result.echo_s is not None and result.puback_s is not None
    assert home.execute(ToolCall("get_state", {"device": "kitchen_ceiling"})) == "The kitchen ceiling is off."
    home.close()
    device.close()


def test_silence_after_a_command_says_not_responding(home: Home):
    # Nobody answers for the blind: the command went out, but the user hears the truth.
    assert home.execute(ToolCall("set_cover", {"device": "bedroom_blind", "position": 20})) == \
        "The bedroom blind is not responding."
    assert home.bus.last_result.outcome == "not_responding" and home.bus.last_result.puback_s is not None


def test_get_state_from_tracked_state(home: Home):
    assert home.execute(ToolCall("get_state", {"device": "kitchen_ceiling"})) == "The kitchen ceiling is on at 50 percent."
    assert home.execute(ToolCall("get_state", {"device": "living_room_thermostat"})) == \
        "The Living room thermostat is set to 20.5 degrees in heat mode, and it is 19 degrees."
    assert home.execute(ToolCall("get_state", {"device": "bedroom_sensor"})) == \
        "The bedroom sensor: temperature 19.5 degrees, humidity 48 percent, battery 91 percent."
    assert home.execute(ToolCall("get_state", {"device": "coffee_machine"})) == "The Coffee machine is offline."


def test_refusals_and_hostile_output_publish_nothing(home: Home, spy):
    spoken = [home.execute(call) for call in HOSTILE]
    assert all(s and len(s) < 80 for s in spoken)
    # an offline device is refused before sending
    assert home.execute(ToolCall("set_power", {"device": "coffee_machine", "state": "on"})) == \
        "The Coffee machine is not responding."
    assert home.bus.last_result.outcome == "offline"
    # a marker proves the spy was listening
    home.execute(ToolCall("set_power", {"device": "fan_plug", "state": "off"}))
    assert spy.wait_for("fanplug/cmnd/POWER")
    assert commands(spy) == [("fanplug/cmnd/POWER", "OFF")]


def test_sensitive_devices_need_a_spoken_confirmation(home: Home, spy):
    ask = ToolCall("set_lock", {"device": "front_door", "state": "unlocked"})
    assert home.execute(ask) == "Do you really want me to unlock the Front door?"
    assert home.bus.last_result.outcome == "confirm"
    assert home.execute(ToolCall("confirm", {"answer": "no"})) == "OK, I won't."
    assert home.execute(ToolCall("confirm", {"answer": "yes"})) == "There is nothing to confirm."
    home.execute(ask)
    home.execute(ToolCall("get_state", {"device": "fan_plug"}))  # anything else cancels the question
    assert home.execute(ToolCall("confirm", {"answer": "yes"})) == "There is nothing to confirm."
    home.execute(ToolCall("set_cover", {"device": "garage_door", "position": 100}))
    home.bus.pending = type(home.bus.pending)(home.bus.pending.action, expires=0.0)  # the question went stale
    assert home.execute(ToolCall("confirm", {"answer": "yes"})) == "There is nothing to confirm."
    assert commands(spy) == []
    home.execute(ask)
    home.execute(ToolCall("confirm", {"answer": "yes"}))
    assert spy.wait_for("nuki/front/lock/set")
    assert commands(spy) == [("nuki/front/lock/set", "UNLOCK")]


def test_live_discovery_devices_come_and_go(home: Home, home_broker: Broker):
    hub = home_broker.client("ha")
    cfg = {"name": "Heater", "uniq_id": "heater1", "cmd_t": "heater/set", "stat_t": "heater/state"}
    hub.publish("homeassistant/switch/heater/config", json.dumps(cfg), retain=True)
    wait_until(lambda: home.registry.get("heater"))
    hub.publish("heater/state", "ON", retain=True)  # its state topic is subscribed on discovery
    wait_until(lambda: home.registry.state(home.registry.get("heater")) == {"power": "on"})
    hub.publish("homeassistant/switch/heater/config", "", retain=True)
    wait_until(lambda: home.registry.get("heater") is None)
    hub.close()


def test_broker_restart_mid_session_reconnects_without_stale_commands(home: Home, home_broker: Broker):
    home_broker.stop()
    wait_until(lambda: not home.connection.connected)
    assert home.execute(ToolCall("set_power", {"device": "fan_plug", "state": "on"})) == "I can't reach the hub."
    assert home.bus.last_result.outcome == "unreachable"
    # Something paho queued while offline (as if sent just before the outage) must never be delivered later.
    home.connection.client.publish("fanplug/cmnd/POWER", "STALE", qos=1)
    home_broker.start()
    spy = home_broker.client("spy-after")
    spy.subscribe("#")
    wait_until(lambda: home.connection.connected, timeout=40)
    assert home.connection.connects == 2
    assert len(home.registry.devices()) == 23  # nothing lost, nothing doubled
    # the command is sent (PUBACK) but no Tasmota answers here, so the user is told
    assert home.execute(ToolCall("set_power", {"device": "fan_plug", "state": "off"})) == "The Fan plug is not responding."
    assert spy.wait_for("fanplug/cmnd/POWER")
    assert [p for t, p, _ in spy.messages if t == "fanplug/cmnd/POWER"] == ["OFF"]
    spy.close()


def test_unreachable_broker_is_a_clear_error_or_a_background_retry(tmp_path):
    broker = Broker(tmp_path / "never-started")
    cfg = broker.config(connect_timeout_s=0.5)
    with pytest.raises(AssistantError, match=rf"cannot reach the MQTT broker at 127.0.0.1:{broker.port} \(Connection refused\)"):
        open_home(cfg, require_broker=True)
    home = open_home(cfg)  # the service keeps trying in the background
    try:
        assert home.execute(ToolCall("set_power", {"device": "fan_plug", "state": "on"})) == \
            "There is no device called fan plug."
        broker.start()
        wait_until(lambda: home.connection.connected, timeout=40)
    finally:
        home.close()
        broker.stop()


def test_wrong_password_is_a_clear_message(tmp_path):
    broker = Broker(tmp_path / "auth", users={"assistant": "s3cret"})
    broker.start()
    try:
        with pytest.raises(AssistantError) as err:
            open_home(broker.config(username="assistant", password="wrong"))
        message = str(err.value)
        assert message.startswith(f"MQTT broker 127.0.0.1:{broker.port} refused the connection: Not authorized")
        assert "check mqtt.username and the password file" in message and "\n" not in message
        home = open_home(broker.config(username="assistant", password="s3cret"))
        assert home.connection.connected
        home.close()
    finally:
        broker.stop()


def test_tls_round_trip_with_a_certificate_made_at_test_time(tmp_path):
    broker = Broker(tmp_path / "tls", tls=True)
    broker.start()
    try:
        hub = broker.client("tls-hub")
        hub.publish("tasmota/discovery/DC4F22A1B2C3/config", json.dumps(fixtures.TASMOTA_BASIC), retain=True)
        hub.subscribe("fanplug/cmnd/#")
        home = open_home(broker.config())
        wait_until(lambda: home.registry.get("fan_plug"))
        assert home.execute(ToolCall("set_power", {"device": "fan_plug", "state": "on"})) == "The Fan plug is not responding."
        assert hub.wait_for("fanplug/cmnd/POWER")[0][1] == "ON"
        home.close()
        hub.close()
        with pytest.raises(AssistantError, match="TLS failed: CERTIFICATE_VERIFY_FAILED"):
            open_home(broker.config(ca_file="", connect_timeout_s=1.0), require_broker=True)
    finally:
        broker.stop()


def test_tls_with_a_client_certificate(tmp_path):
    broker = Broker(tmp_path / "mtls", client_certs=True)
    broker.start()
    try:
        cfg = broker.config(cert_file=str(broker.dir / "client.pem"), key_file=str(broker.dir / "client.key"))
        home = open_home(cfg)
        assert home.connection.connected
        home.close()
        with pytest.raises(AssistantError, match="the broker requires a client certificate"):
            open_home(broker.config(connect_timeout_s=1.0), require_broker=True)
        with pytest.raises(AssistantError, match="cannot load the MQTT TLS files"):
            open_home(broker.config(cert_file=str(tmp_path / "missing.pem")))
    finally:
        broker.stop()


def test_without_echo_wait_a_puback_is_done(home_broker: Broker):
    home = open_home(home_broker.config(state_echo_timeout_s=0.0))
    try:
        home.wait_for_discovery(quiet_s=0.3)
        assert home.execute(ToolCall("set_power", {"device": "fan_plug", "state": "on"})) == "Done."
        assert home.bus.last_result.outcome == "sent" and home.bus.last_result.echo_s is None
    finally:
        home.close()
