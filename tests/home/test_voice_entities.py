"""The notify (announcements) and number (volume) entities on the assistant's MQTT device, with a real
Mosquitto and a client playing Home Assistant; they survive a Home Assistant restart and a broker restart."""

from __future__ import annotations

import json
import time

from assistant.config import Config
from assistant.config.schema import AnnounceConfig, ServiceConfig
from assistant.home import open_home
from assistant.service.everyday import Everyday

from .conftest import Broker, needs_mosquitto
from .test_announcer import CONFIG, ROOT, ha, wait_value  # noqa: F401 - the ha fixture

pytestmark = needs_mosquitto


def until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("timed out")


def entities(client) -> dict | None:
    configs = [json.loads(p) for t, p, _ in list(client.messages) if t == CONFIG and p]
    return next((c["cmps"] for c in reversed(configs) if "volume" in c["cmps"]), None)


def test_entities_are_announced_commanded_and_announced_again(home_broker: Broker, ha, tmp_path):  # noqa: F811
    mqtt = home_broker.config()
    config = Config(mqtt=mqtt, service=ServiceConfig(state_dir=str(tmp_path)), announce=AnnounceConfig(chime=False))
    home = open_home(mqtt)
    try:
        everyday = Everyday.build(config, home)
        cmps = until(lambda: entities(ha))
        assert cmps["announce"] == {"p": "notify", "name": "Announce", "unique_id": "test_assistant_announce",
                                    "command_topic": f"{ROOT}/announce", "icon": "mdi:bullhorn"}
        assert cmps["volume"]["state_topic"] == f"{ROOT}/volume" and cmps["volume"]["max"] == 100
        assert {"status", "mute", "latency"} <= set(cmps), "the assistant's own entities are still there"
        wait_value(ha, f"{ROOT}/volume", "80")

        ha.publish(f"{ROOT}/volume/set", "35.4")
        wait_value(ha, f"{ROOT}/volume", "35")
        for bad in ("loud", "150", "nan"):
            ha.publish(f"{ROOT}/volume/set", bad)
        ha.publish(f"{ROOT}/announce", "Dinner is ready.")  # what notify.send_message publishes
        wait_value(ha, f"{ROOT}/announce/result", json.dumps({"status": "queued", "text": "Dinner is ready."}))
        assert everyday.volume.percent == 35 and everyday.announcements is not None and everyday.announcements.pending()
        assert json.loads((tmp_path / "volume.json").read_text()) == {"percent": 35}

        ha.messages.clear()
        ha.publish("homeassistant/status", "online")  # Home Assistant restarted: everything again
        until(lambda: entities(ha))
        wait_value(ha, f"{ROOT}/volume", "35")

        home_broker.stop()
        until(lambda: not home.connection.connected)
        home_broker.start()  # the broker restarted: the subscriptions come back with the connection
        until(lambda: home.connection.connected, timeout=40)
        ha2 = home_broker.client("home-assistant-2")
        ha2.subscribe(f"{ROOT}/#")
        ha2.publish("assistant/announce", json.dumps({"text": "Everyone.", "all": True}))
        wait_value(ha2, f"{ROOT}/announce/result", json.dumps({"status": "queued", "text": "Everyone."}), timeout=10)
        ha2.close()
    finally:
        home.close()
