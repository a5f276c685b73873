"""Large homes: every retained config arrives despite Mosquitto's default queue limits, ingestion does not rebuild
the device list per message, and a broker that drops messages is noticed."""

from __future__ import annotations

import json
import logging
import time

from assistant.benchmarks.discovery import config_payload, publish_configs
from assistant.home import open_home
from assistant.home.brokerdrops import DropWatch
from assistant.home.registry import Registry

from .conftest import Broker, needs_mosquitto


@needs_mosquitto
def test_5000_retained_configs_all_arrive_with_the_broker_defaults(broker: Broker) -> None:
    publish_configs(broker.port, 5000)  # default max_inflight_messages 20 and max_queued_messages 1000
    home = open_home(broker.config(announce=False))
    try:
        deadline = time.monotonic() + 60
        while home.registry.announced() < 5000 and time.monotonic() < deadline:
            time.sleep(0.1)
        devices = home.registry.devices()
        assert len(devices) == 5000
        assert {d.key for d in devices} == {f"homeassistant:bench_{'light' if i % 3 == 0 else 'switch'}_{i}"
                                           for i in range(5000)}
    finally:
        home.close()


def test_a_replay_rebuilds_the_device_list_once_when_it_is_read() -> None:
    registry = Registry(clock=lambda: 0.0)  # no time passes: only reading forces a rebuild
    for i in range(3000):
        registry.handle(*config_payload(i))
    assert registry.rebuilds == 1  # the first message, then none while the replay streams in
    assert registry.announced() == 3000
    assert len(registry.devices()) == 3000 and registry.rebuilds == 2
    registry.devices()
    assert registry.rebuilds == 2


def test_state_arriving_before_its_device_is_applied_when_the_device_appears() -> None:
    registry = Registry(clock=lambda: 0.0)
    registry.handle(*config_payload(1))
    registry.handle("bench/switch2/state", "ON")
    registry.handle(*config_payload(2))
    device = next(d for d in registry.devices() if d.key == "homeassistant:bench_switch_2")
    assert registry.state(device) == {"power": "on"}


def test_drop_counter_warns_on_a_rise_at_most_once_per_interval(caplog) -> None:
    now = [0.0]
    watch = DropWatch(logging.getLogger("assistant.home"), interval_s=600, clock=lambda: now[0])
    caplog.set_level(logging.WARNING)
    watch.handle(b"1500")  # the first reading is the baseline
    watch.handle(b"1500")
    assert not caplog.records
    watch.handle(b"1600")
    now[0] = 10
    watch.handle(b"1700")
    now[0] = 700
    watch.handle(b"1750")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and "reports 100 dropped" in messages[0] and "reports 150 dropped" in messages[1]
    assert watch.dropped == 250
    watch.handle(b"3")  # a restarted broker
    assert watch.dropped == 250


@needs_mosquitto
def test_a_broker_dropping_messages_is_warned_about(tmp_path, caplog) -> None:
    broker = Broker(tmp_path / "broker", extra_config=("sys_interval 1",))
    broker.start()
    try:
        publish_configs(broker.port, 2000)
        caplog.set_level(logging.WARNING, logger="assistant.home")
        home = open_home(broker.config(announce=False))
        try:
            deadline = time.monotonic() + 60  # a loaded machine can pause the replay longer than any quiet period
            while len(home.registry.devices()) < 2000 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert len(home.registry.devices()) == 2000  # ours all arrived
            slow = broker.client("slow-default-client")  # a client with the default receive window
            slow.subscribe("homeassistant/#")
            deadline = time.monotonic() + 10
            while home.drops.dropped == 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            slow.close()
            assert home.drops.dropped > 0
            assert "the MQTT broker reports" in caplog.text and "dropped message(s)" in caplog.text
        finally:
            home.close()
    finally:
        broker.stop()


def test_ids_once_read_stay_with_their_devices_when_namesakes_arrive() -> None:
    from . import fixtures

    registry = fixtures.loaded_registry()
    before = {d.key: d.id for d in registry.devices()}
    for i, area in enumerate(["Kitchen", "Office", ""]):
        registry.handle(f"homeassistant/light/dup{i}/config", json.dumps({
            "name": "desk lamp", "unique_id": f"dup{i}", "command_topic": f"dup{i}/set", "device": {"suggested_area": area}}))
    after = {d.key: d.id for d in registry.devices()}
    assert all(after[k] == v for k, v in before.items())
    assert len(set(after.values())) == len(after)


def test_thousands_of_namesakes_get_unique_ids() -> None:
    registry = Registry(clock=lambda: 0.0)
    for i in range(3000):
        registry.handle(f"homeassistant/switch/s{i}/config",
                        json.dumps({"name": "plug", "unique_id": f"s{i}", "command_topic": f"s{i}/set"}))
    ids = [d.id for d in registry.devices()]
    assert len(set(ids)) == 3000 and "plug" in ids and "plug_3000" in ids
