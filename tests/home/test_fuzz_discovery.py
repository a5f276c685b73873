"""Fuzz: discovery payloads of all three dialects (and state messages) never raise past the registry, and whatever
they announce stays within the limits: no command topic in a control namespace, bounded names, a grammar that builds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.home import tools
from assistant.home.limits import MAX_NAME, MAX_TOPIC
from assistant.home.registry import Registry, Topics

from .strategies import discovery_message

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def registry_after(messages: list[tuple[str, str | bytes]]) -> Registry:
    registry = Registry(Topics(own_root="assistant/x"))
    for topic, payload in messages:
        registry.handle(topic, payload)
    return registry


@FUZZ
@given(st.lists(discovery_message(), min_size=1, max_size=6))
def test_no_discovery_message_raises_and_what_it_announces_is_bounded(messages) -> None:
    registry = registry_after(messages)
    devices = registry.devices(include_hidden=True)
    for d in devices:
        assert len(d.name) <= MAX_NAME and d.name.isprintable() and len(d.area) <= MAX_NAME
        assert all(len(a) <= MAX_NAME for a in d.aliases)
        for topic in d.command_topics():
            assert len(topic) <= MAX_TOPIC and not registry.guard.refused(topic), topic
        assert len(d.id) <= 2 * MAX_NAME + 8
    assert len({d.id for d in devices}) == len(devices)
    schema = tools.tool_schema(registry.devices())
    tools.declarations(schema, registry.devices())
    registry.subscriptions()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(discovery_message(), min_size=1, max_size=4), st.lists(discovery_message(), min_size=1, max_size=4))
def test_messages_on_other_topics_never_change_the_fixture_devices(before, after) -> None:
    from . import fixtures

    clean = fixtures.loaded_registry()
    fuzzed = fixtures.loaded_registry()
    fuzzed.get("kitchen_ceiling")  # ids are in use from here on
    fixture_topics = set(fixtures.retained())
    for topic, payload in [*before, *after]:
        if topic not in fixture_topics:
            fuzzed.handle(topic, payload)
    mine = {d.key: (d.id, d.name, tuple(sorted(d.command_topics()))) for d in clean.devices(include_hidden=True)}
    theirs = {d.key: (d.id, d.name, tuple(sorted(d.command_topics()))) for d in fuzzed.devices(include_hidden=True)}
    assert {k: theirs.get(k) for k in mine} == mine
