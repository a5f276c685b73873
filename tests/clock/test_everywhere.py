"""``timers.ring_everywhere`` on a real Mosquitto: another assistant's timer rings here too, validated and bounded."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from assistant.clock.book import ClockBook
from assistant.clock.everywhere import MAX_PER_WINDOW, WINDOW_S, RemoteRings, parse_event
from assistant.clock.service import make_ringer, with_clock
from assistant.clock.store import ClockStore
from assistant.config import Config
from assistant.config.schema import ServiceConfig, TimersConfig
from assistant.home import open_home
from assistant.protocols import ToolCall
from tests.home.conftest import Broker, needs_mosquitto

from ..service.doubles import FakePlayer, FakeTts
from .conftest import ZONE


def _assistant(broker, tmp_path, clock, name: str, everywhere: bool) -> SimpleNamespace:
    config = Config(mqtt=broker.config(client_id=name), service=ServiceConfig(state_dir=str(tmp_path / name)),
                    timers=TimersConfig(ring_everywhere=everywhere))
    home = open_home(config.mqtt)
    book = ClockBook(ClockStore(tmp_path / name), clock, ZONE, synced=lambda: True)
    bus = with_clock(config, home, home, book)
    tts, player = FakeTts(), FakePlayer()
    return SimpleNamespace(home=home, bus=bus, tts=tts, player=player, ringer=make_ringer(config, bus, tts, player))


@pytest.fixture
def house(tmp_path, clock):
    broker = Broker(tmp_path / "broker")
    broker.start()
    spy = broker.client("spy")
    spy.subscribe("#")
    a, b, c = (_assistant(broker, tmp_path, clock, n, e) for n, e in (("a", False), ("b", True), ("c", False)))
    yield SimpleNamespace(broker=broker, spy=spy, a=a, b=b, c=c)
    spy.close()
    for x in (a, b, c):
        x.home.close()
    broker.stop()


def _said(x, timeout: float = 5.0) -> list[str]:
    """What ``x`` said once its ring played (ticking it, idle, meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not x.tts.said:
        x.ringer.tick(True)
        time.sleep(0.05)
    return list(x.tts.said)


def _ring_until(x, timeout: float = 5.0) -> bool:
    """Tick ``x``'s ringer (idle) until it rings or ``timeout`` passes (the event travels over the broker)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        x.ringer.tick(True)
        if x.ringer.ringing:
            return True
        time.sleep(0.05)
    return False


@needs_mosquitto
def test_a_timer_rings_where_set_and_on_assistants_with_ring_everywhere(house, clock):
    assert house.b.home.announcer.subscriptions() >= {"assistant/+/timer_event"}
    assert "assistant/+/timer_event" not in house.c.home.announcer.subscriptions()
    house.a.bus.execute(ToolCall("set_timer", {"minutes": 8, "name": "pasta"}))
    clock.advance(480)
    assert _ring_until(house.a), "it rings where it was set"
    house.spy.wait_for("assistant/a/timer_event")
    assert _ring_until(house.b), "b (ring_everywhere) rings a's timer too"
    assert [r.name for r in house.b.ringer.rings] == ["pasta"] and house.b.ringer.rings[0].remote
    assert any("pasta" in t for t in _said(house.b)), "the same tone and spoken name"
    assert not _ring_until(house.c, timeout=1.0), "c (ring_everywhere off) does not"
    assert house.b.ringer.stop(), "stopped the same way as its own ring"
    events = [t for t, _, _ in house.spy.messages if t.endswith("/timer_event")]
    assert events == ["assistant/a/timer_event"], "b does not publish a's ring again (no echo)"


@needs_mosquitto
def test_malformed_or_oversized_events_are_ignored(house):
    bad = ['{"event_type": "timer_finished", "name": "' + "x" * 300 + '"}', "not json", "[1, 2]",
           '{"event_type": "timer_finished", "name": 7}', '{"event_type": "timer_finished", "name": "a\\u0007"}',
           '{"event_type": "alarm", "name": "07:30"}', '{"event_type": "timer_finished", "late_s": "soon"}',
           "x" * 5000]
    for payload in bad:
        house.spy.publish("assistant/rogue/timer_event", payload)
    house.spy.publish("assistant/rogue/timer_event", json.dumps({"event_type": "timer_finished", "name": "tea"}))
    assert _ring_until(house.b)
    assert [r.name for r in house.b.ringer.rings] == ["tea"], "only the well-formed event rang"


def test_parse_event_bounds():
    assert parse_event(b'{"event_type":"timer_finished","name":"pasta","late_s":0}') == ("pasta", 0.0)
    assert parse_event(b'{"event_type":"timer_finished","name":"","late_s":90}') == ("", 90.0)
    assert parse_event(b'{"event_type":"timer_finished","name":"pasta","late_s":-1}') is None
    assert parse_event(b'{"event_type":"timer_finished","late_s":true}') is None
    assert parse_event(b'\xff\xfe') is None


def test_a_flood_rings_at_most_a_few_times_a_minute():
    now = [0.0]
    rung: list[str] = []
    remote = RemoteRings("assistant", "assistant/me/timer_event", lambda: "en", mono=lambda: now[0])
    remote.sink = lambda ring: rung.append(ring.name)
    event = json.dumps({"event_type": "timer_finished", "name": "tea"}).encode()
    assert not remote.handle("assistant/me/timer_event", event), "its own event is not rung twice"
    assert not remote.handle("assistant/x/y/timer_event", event) and not remote.handle("other/x/timer_event", event)
    for _ in range(MAX_PER_WINDOW * 5):
        assert remote.handle("assistant/rogue/timer_event", event)
    assert len(rung) == MAX_PER_WINDOW
    now[0] += WINDOW_S
    remote.handle("assistant/rogue/timer_event", event)
    assert len(rung) == MAX_PER_WINDOW + 1, "the limit is a window, not for ever"
