"""``assistant devices mqtt`` through the real CLI against a broker holding the fixture devices."""

from __future__ import annotations

import json
import re
import time

from tests.conftest import run_cli

from .conftest import Broker, needs_mosquitto

pytestmark = needs_mosquitto


def config_file(tmp_path, broker: Broker, extra: str = "") -> str:
    path = tmp_path / "config.toml"
    path.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n{extra}')
    return str(path)


def test_lists_every_discovered_device_with_its_actions(tmp_path, home_broker: Broker):
    result = run_cli("-c", config_file(tmp_path, home_broker), "devices", "mqtt", "--wait", "0.5", timeout=60)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:-1]}
    assert len(lines) == 23
    assert re.search(r"^kitchen_ceiling\s+light\s+kitchen\s+yes\s+power\(on/off\) brightness\(0-100\) color read\s+"
                     r"zigbee2mqtt:0x0017880104e45517$", lines["kitchen_ceiling"])
    assert re.search(r"^fan_plug\s+switch\s+-\s+yes\s+power\(on/off\) read\s+tasmota:DC4F22A1B2C3:1$", lines["fan_plug"])
    assert re.search(r"^hall_ceiling_light\s+switch\s+Hallway\s+unknown\s+power\(on/off\) read", lines["hall_ceiling_light"])
    assert "lock(locked/unlocked) read [confirm]" in lines["front_door"]
    assert "setpoint(5-35) mode(off/heat) read" in lines["hall_radiator"]
    assert re.search(r"coffee_machine\s+switch\s+-\s+no\s", lines["coffee_machine"])
    assert "unsupported: template uses call, outside the safe subset" in lines["porch_light"]
    assert result.stdout.splitlines()[-1] == "23 devices (0 hidden, 1 unsupported)."


def test_listing_beside_the_running_assistant_neither_kicks_it_nor_lists_its_entities(tmp_path, home_broker: Broker):
    from assistant.home import open_home

    cfg = home_broker.config(client_id="gemma-assistant")
    service = open_home(cfg)
    try:
        result = run_cli("-c", config_file(tmp_path, home_broker), "devices", "mqtt", "--json", "--wait", "0.5", timeout=60)
        assert result.returncode == 0, result.stderr
        ids = {r["id"] for r in json.loads(result.stdout)}
        assert len(ids) == 23 and not any("assistant" in i or "mute" in i for i in ids)
        assert service.connection.connected and service.connection.connects == 1
    finally:
        service.close()


def test_json_output_and_overrides(tmp_path, home_broker: Broker):
    overrides = tmp_path / "overrides.toml"
    overrides.write_text('["tasmota:DC4F22A1B2C3:1"]\nhide = true\narea = "Bedroom"\n')
    cfg = config_file(tmp_path, home_broker, f'overrides_file = "{overrides}"\n')
    result = run_cli("-c", cfg, "devices", "mqtt", "--json", "--wait", "0.5", timeout=60)
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in json.loads(result.stdout)}
    assert rows["fan_plug"]["hidden"] is True and rows["fan_plug"]["area"] == "Bedroom"
    assert rows["front_door"]["sensitive"] is True
    assert rows["kitchen_lights"]["actions"] == ["power(on/off)", "brightness(0-100)", "color", "read"]


def test_unreachable_broker_and_wrong_password_are_one_line_errors(tmp_path):
    broker = Broker(tmp_path / "auth", users={"assistant": "right"})
    cfg = config_file(tmp_path, broker, 'connect_timeout_s = 1.0\n')
    result = run_cli("-c", cfg, "devices", "mqtt", timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == \
        f"assistant: error: cannot reach the MQTT broker at 127.0.0.1:{broker.port} (Connection refused)"
    broker.start()
    try:
        (tmp_path / "pw").write_text("wrong\n")
        cfg = config_file(tmp_path, broker, f'username = "assistant"\npassword_file = "{tmp_path / "pw"}"\n')
        result = run_cli("-c", cfg, "devices", "mqtt", timeout=60)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert f"assistant: error: MQTT broker 127.0.0.1:{broker.port} refused the connection: Not authorized" in result.stderr
    finally:
        broker.stop()


def test_empty_broker_says_how_to_fix_it(tmp_path, broker: Broker):
    result = run_cli("-c", config_file(tmp_path, broker), "devices", "mqtt", "--wait", "0.3", timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("No devices found. Check mqtt.discovery_prefix")


def test_the_house_view_lists_the_assistants_on_the_broker_with_their_rooms(tmp_path, home_broker: Broker):
    from assistant.home import open_home

    kitchen = open_home(home_broker.config(client_id="kitchen", area="Kitchen"))
    bedroom = open_home(home_broker.config(client_id="bedroom", area="Bedroom"))
    deadline = time.monotonic() + 5
    while not kitchen.presence.peers_online() and time.monotonic() < deadline:
        time.sleep(0.02)
    bedroom.close()  # it said goodbye: seen, offline
    try:
        cfg = config_file(tmp_path, home_broker, 'client_id = "kitchen"\n')
        result = run_cli("-c", cfg, "devices", "mqtt", "--house", "--json", "--wait", "0.3", timeout=60)
        assert result.returncode == 0, result.stderr
        rows = {r["id"]: r for r in json.loads(result.stdout)}
        assert {k: (r["area"], r["online"], r["this_config"]) for k, r in rows.items()} == {
            "kitchen": ("Kitchen", "yes", True), "bedroom": ("Bedroom", "no", False)}
        text = run_cli("-c", cfg, "devices", "mqtt", "--wait", "0.3", timeout=60).stdout
        assert "Assistants on this broker (2):" in text
        assert re.search(r"^kitchen \(this config\)\s+Kitchen\s+yes\s+yes", text, re.M)
        assert re.search(r"^bedroom\s+Bedroom\s+no\s+yes", text, re.M)
    finally:
        kitchen.close()
