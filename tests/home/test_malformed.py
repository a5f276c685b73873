"""Malformed discovery and state payloads are logged and skipped; they never raise into the network thread."""

from __future__ import annotations

import copy
import json
import random

import pytest

from assistant.home.registry import Registry
from assistant.home.validate import Refusal, validate
from assistant.protocols import ToolCall

from . import fixtures

JUNK = [None, "", "x", 0, -1, 1.5, True, [], {}, ["a"], {"a": 1}, "#", "a/+/b"]


def mutate(obj: object, rnd: random.Random) -> None:
    if isinstance(obj, (dict, list)) and obj:
        key = rnd.choice(list(obj)) if isinstance(obj, dict) else rnd.randrange(len(obj))
        if rnd.random() < 0.5:
            obj[key] = copy.deepcopy(rnd.choice(JUNK))  # type: ignore[index]
        else:
            mutate(obj[key], rnd)  # type: ignore[index]


def test_mutated_discovery_payloads_never_raise():
    rnd = random.Random(5)
    base = {t: json.loads(p) for t, p in fixtures.retained().items() if p.startswith(("{", "["))}
    configs = [t for t in base if "config" in t or "bridge/" in t]
    for _ in range(600):
        topic = rnd.choice(configs)
        payload = copy.deepcopy(base[topic])
        for _ in range(rnd.randint(1, 4)):
            mutate(payload, rnd)
        registry = Registry()
        registry.handle(topic, json.dumps(payload))
        for device in registry.devices(include_hidden=True):
            device.actions()
            registry.available(device)


def test_junk_on_every_state_and_availability_topic_is_ignored():
    registry = fixtures.loaded_registry()
    before = {d.id: registry.state(d) for d in registry.devices()}
    topics = set()
    for d in registry.devices():
        topics.update(s.topic for s in d.state_topics)
        topics.update(a.topic for a in d.availability)
    for topic in sorted(topics):
        for junk in ("", "{", "[]", "null", '{"state": {"deep": []}}', "\u0000", "9" * 400):
            registry.handle(topic, junk)
    assert registry.get("kitchen_ceiling") is not None and len(registry.devices()) == len(before)


def test_structured_payload_values_make_the_entity_unsupported():
    odd = {"name": "Odd", "uniq_id": "odd", "cmd_t": "odd/set", "pl_on": {"nested": 1}, "pl_off": ["x"]}
    registry = fixtures.loaded_registry({"homeassistant/switch/odd/config": json.dumps(odd)})
    device = registry.get("odd")
    assert device.unsupported == "payload_on is not a plain value" and not device.capabilities
    with pytest.raises(Refusal, match="can't do that"):
        validate(ToolCall("set_power", {"device": "odd", "state": "on"}), registry)
