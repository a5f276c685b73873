"""Wake arbitration and presence between several assistants on a real Mosquitto (one ``Home`` per assistant).

The arbiters' clock is a manual one, so rounds open and close when the test says (claims still travel
through the real broker); nothing here asserts a timing.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator

import pytest

from assistant.home import Home, open_home
from assistant.home.arbiter import ID_BURST, claim_topic
from assistant.home.claims import Claim
from assistant.service.arbitration import WakeEvidence

from .conftest import Broker, needs_mosquitto

pytestmark = needs_mosquitto
ROOMS = {"kitchen": "Kitchen", "living": "Living room", "bedroom": "Bedroom"}


class ManualClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def wait(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


@pytest.fixture
def house(broker: Broker) -> Iterator[tuple[dict[str, Home], ManualClock]]:
    clock = ManualClock()
    homes = {}
    for node, area in ROOMS.items():
        home = open_home(broker.config(client_id=node, area=area))
        assert home.arbiter is not None
        home.arbiter.clock = clock
        homes[node] = home
    wait(lambda: all(len(h.presence.peers_online()) == 2 for h in homes.values()))
    yield homes, clock
    for home in homes.values():
        home.close()


def test_alone_an_assistant_answers_at_once_and_still_says_so(broker: Broker):
    home = open_home(broker.config(client_id="kitchen", area="Kitchen"))
    spy = broker.client("spy")
    spy.subscribe("assistant/_house/wake")
    try:
        assert home.arbiter is not None
        ruling = home.arbiter.claim(WakeEvidence(-20.0, 0.9))
        assert ruling.outcome(0.0) is True
        (msg,) = spy.wait_for("assistant/_house/wake")
        assert json.loads(msg[1])["id"] == "kitchen"
    finally:
        spy.close()
        home.close()


def test_three_assistants_the_loudest_answers_and_the_others_yield(house):
    homes, clock = house
    levels = {"kitchen": -32.0, "living": -18.5, "bedroom": -26.0}
    rulings = {node: homes[node].arbiter.claim(WakeEvidence(level, 0.95)) for node, level in levels.items()}
    nonces = [r.claim.nonce for r in rulings.values()]
    wait(lambda: all(h.arbiter._rounds.arrival(n) is not None for h in homes.values() for n in nonces))
    # every assistant online has claimed: decided at once, without waiting for the window's end
    assert {node: r.outcome(clock.t) for node, r in rulings.items()} == {"kitchen": False, "living": True, "bedroom": False}


def test_when_one_assistant_did_not_hear_it_the_others_wait_for_the_window(house):
    homes, clock = house
    rulings = {node: homes[node].arbiter.claim(WakeEvidence(level)) for node, level in (("kitchen", -30.0), ("bedroom", -25.0))}
    nonces = [r.claim.nonce for r in rulings.values()]
    wait(lambda: all(homes[n].arbiter._rounds.arrival(x) is not None for n in rulings for x in nonces))
    assert all(r.outcome(clock.t) is None for r in rulings.values())  # the living room might still claim
    clock.t += homes["kitchen"].arbiter.window_s
    assert {node: r.outcome(clock.t) for node, r in rulings.items()} == {"kitchen": False, "bedroom": True}


def test_a_calibration_offset_counts_in_the_claim(broker: Broker):
    a = open_home(broker.config(client_id="quiet_mic", wake_level_offset_db=12.0))
    b = open_home(broker.config(client_id="loud_mic"))
    clock = ManualClock()
    a.arbiter.clock = b.arbiter.clock = clock
    try:
        wait(lambda: a.presence.peers_online() and b.presence.peers_online())
        ra, rb = a.arbiter.claim(WakeEvidence(-30.0)), b.arbiter.claim(WakeEvidence(-20.0))
        wait(lambda: all(h.arbiter._rounds.arrival(r.claim.nonce) for h in (a, b) for r in (ra, rb)))
        clock.t += 1.0
        assert (ra.outcome(clock.t), rb.outcome(clock.t)) == (True, False)
    finally:
        a.close()
        b.close()


def test_an_assistant_in_a_conversation_keeps_it(house):
    homes, clock = house
    talking = homes["bedroom"].arbiter.claim(WakeEvidence(-45.0), in_conversation=True)
    assert talking.outcome(clock.t) is True  # never waits
    loud = homes["kitchen"].arbiter.claim(WakeEvidence(-10.0))
    heard = homes["kitchen"].arbiter._rounds.arrival
    wait(lambda: heard(loud.claim.nonce) is not None and len(homes["kitchen"].arbiter._rounds._heard) == 2)
    clock.t += 1.0
    assert loud.outcome(clock.t) is False


def test_the_broker_stopped_during_a_claim_each_answers_alone(house, broker: Broker):
    homes, clock = house
    assert broker.proc is not None
    os.kill(broker.proc.pid, signal.SIGSTOP)  # the broker hangs: the claim is never echoed
    try:
        ruling = homes["kitchen"].arbiter.claim(WakeEvidence(-20.0))
        assert ruling.outcome(clock.t) is None
        clock.t += 5.0
        assert ruling.outcome(clock.t) is True
    finally:
        os.kill(broker.proc.pid, signal.SIGCONT)
    broker.stop()
    wait(lambda: not homes["living"].connection.connected)
    assert homes["living"].arbiter.claim(WakeEvidence(-20.0)).outcome(clock.t) is True


def test_malformed_floods_and_a_claiming_rogue_cannot_silence_the_house(house, broker: Broker):
    homes, clock = house
    rogue = broker.client("rogue")
    rogue.publish("assistant/rogue/presence", json.dumps({"id": "rogue", "arbitrate": True}), retain=True)
    rogue.publish("assistant/rogue/availability", "online", retain=True)
    wait(lambda: homes["kitchen"].presence.is_peer("rogue"))
    topic = claim_topic(homes["kitchen"].cfg)
    for payload in ("{", "x" * 5000, json.dumps({"v": 1, "id": "../#", "n": "00000000", "score": 1})):
        rogue.publish(topic, payload)
    for i in range(ID_BURST + 4):
        rogue.publish(topic, Claim("rogue", f"{i:016x}", 200.0, 1.0, True).encode())
    rogue.publish(topic, Claim("stranger", "f" * 16, 200.0, 1.0, True).encode())  # not present on the broker
    wait(lambda: len(homes["kitchen"].arbiter._rounds._heard) == ID_BURST)  # the first burst counted...
    clock.t += 2.0  # ...in its own round; after it the rogue is ignored
    rogue.publish(topic, Claim("rogue", "e" * 16, 200.0, 1.0, True).encode())
    ruling = homes["kitchen"].arbiter.claim(WakeEvidence(-30.0))
    wait(lambda: homes["kitchen"].arbiter._rounds.arrival(ruling.claim.nonce) is not None)
    clock.t += 2.0
    assert ruling.outcome(clock.t) is True
    rogue.close()


def test_presence_lists_the_house_with_rooms_and_goes_offline_on_close(house, broker: Broker):
    homes, _ = house
    rows = {p.id: p for p in homes["kitchen"].presence.house()}
    assert {k: (p.area, p.online) for k, p in rows.items()} == {
        "kitchen": ("Kitchen", True), "living": ("Living room", True), "bedroom": ("Bedroom", True)}
    assert rows["living"].name == "Voice assistant (Living room)"
    homes["bedroom"].close()
    wait(lambda: len(homes["kitchen"].presence.peers_online()) == 1)


def test_each_assistant_is_its_own_device_in_its_room_and_not_a_device_of_the_others(house, broker: Broker):
    homes, _ = house
    ha = broker.client("home-assistant")
    ha.subscribe("homeassistant/device/+/config")
    config = json.loads(ha.wait_for("homeassistant/device/living/config")[-1][1])
    assert config["dev"]["sa"] == "Living room" and config["dev"]["ids"] == ["living"]
    ha.close()
    assert not [d for d in homes["kitchen"].registry.devices(include_hidden=True) if "assistant" in d.name.lower()]
