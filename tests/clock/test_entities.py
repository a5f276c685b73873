"""Timers on a real Mosquitto: Home Assistant discovery on the assistant's device, the state on its own topic,
and an event when one rings."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from assistant.clock.book import ClockBook
from assistant.clock.ringer import Ringer
from assistant.clock.service import make_ringer, with_clock
from assistant.clock.store import ClockStore
from assistant.config import Config
from assistant.config.schema import ServiceConfig
from assistant.home import open_home
from assistant.protocols import ToolCall
from tests.home.conftest import Broker, needs_mosquitto

from ..service.doubles import FakePlayer, FakeTts
from .conftest import ZONE

pytestmark = needs_mosquitto
ROOT = "assistant/test_assistant"
CONFIG_TOPIC = "homeassistant/device/test_assistant/config"


def _latest(spy, topic: str, timeout: float = 5.0, where=lambda payload: True) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for t, p, _ in spy.messages if t == topic and where(json.loads(p))]
        if found:
            return json.loads(found[-1])
        time.sleep(0.02)
    raise AssertionError(f"nothing on {topic}: {[t for t, _, _ in spy.messages]}")


@pytest.fixture
def rig(tmp_path, clock):
    broker = Broker(tmp_path / "broker")
    broker.start()
    spy = broker.client("spy")
    spy.subscribe("#")
    config = Config(mqtt=broker.config(), service=ServiceConfig(state_dir=str(tmp_path / "state")))
    home = open_home(config.mqtt)
    book = ClockBook(ClockStore(tmp_path / "state"), clock, ZONE, synced=lambda: True)
    bus = with_clock(config, home, home, book)
    yield SimpleNamespace(broker=broker, spy=spy, home=home, book=book, bus=bus, config=config)
    spy.close()
    home.close()
    broker.stop()


def test_discovery_state_and_ring_event(rig, clock):
    spy = rig.spy
    discovery = _latest(spy, CONFIG_TOPIC, where=lambda c: "timer_event" in c["cmps"])
    cmps = discovery["cmps"]
    assert cmps["timer_event"]["p"] == "event" and cmps["timer_event"]["event_types"] == ["timer_finished", "alarm"]
    assert cmps["next_timer"]["device_class"] == "duration" and cmps["next_timer_end"]["device_class"] == "timestamp"
    assert cmps["status"]["p"] == "sensor", "the announcer's own entities are still there"
    assert not [d for d in rig.home.registry.devices() if "timer" in d.id], "our own entities are not taken for devices"

    rig.bus.execute(ToolCall("set_timer", {"minutes": 8, "name": "pasta"}))
    state = _latest(spy, f"{ROOT}/timers", where=lambda p: p["count"] == 1)
    assert state["next_name"] == "pasta" and state["remaining_s"] == 480 and state["next_end"].endswith("+00:00")

    tts, player = FakeTts(), FakePlayer()
    ringer: Ringer = make_ringer(rig.config, rig.bus, tts, player)
    clock.advance(480)
    ringer.tick(True)
    event = _latest(spy, f"{ROOT}/timer_event")
    assert event == {"event_type": "timer_finished", "name": "pasta", "late_s": 0}
    assert _latest(spy, f"{ROOT}/timers", where=lambda p: p["count"] == 0)["next_end"] is None
    assert [r for t, _, r in spy.messages if t == f"{ROOT}/timer_event"] == [False], "events are not retained"


def test_home_assistant_coming_online_gets_the_timers_again(rig):
    spy = rig.spy
    rig.book.set_timer(60, "tea")
    _latest(spy, f"{ROOT}/timers", where=lambda p: p["count"] == 1)
    spy.messages.clear()
    ha = rig.broker.client("ha")
    ha.publish("homeassistant/status", "online")
    ha.close()
    assert "next_alarm" in _latest(spy, CONFIG_TOPIC)["cmps"]
    assert _latest(spy, f"{ROOT}/timers")["next_name"] == "tea"


def test_a_change_from_the_command_line_is_published_by_the_running_service(rig, tmp_path, clock):
    spy = rig.spy
    ringer = make_ringer(rig.config, rig.bus, FakeTts(), FakePlayer())
    other = ClockBook(ClockStore(tmp_path / "state"), clock, ZONE)  # what 'assistant timers add' does
    other.set_timer(300, "laundry")
    ringer.tick(True)
    assert _latest(spy, f"{ROOT}/timers", where=lambda p: p["count"] == 1)["next_name"] == "laundry"
