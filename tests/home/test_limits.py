"""Limits on what enters from the broker: huge names, payloads, nesting and counts are truncated or refused, with one
warning naming the topic, and never disturb the other devices."""

from __future__ import annotations

import json
import logging

import pytest

from assistant.errors import ConfigError
from assistant.home import open_home
from assistant.home.limits import MAX_NAME, MAX_PAYLOAD, TopicWarnings, clip, json_depth
from assistant.home.overrides import load_overrides
from assistant.protocols import ToolCall
from tests.conftest import run_cli

from . import fixtures
from .conftest import Broker, needs_mosquitto
from .test_cli_devices import config_file


def switch(name: str, base: str, unique_id: str = "") -> str:
    return json.dumps({"name": name, "unique_id": unique_id or base.replace("/", "_"), "command_topic": f"{base}/set",
                       "state_topic": f"{base}/state"})


HUGE_NAME = "evil " * 200_000  # 1 MB


def load(broker: Broker, messages: dict[str, str]) -> None:
    client = broker.client("hostile-loader")
    for topic, payload in {**fixtures.retained(), **messages}.items():
        client.publish(topic, payload, retain=True)
    client.close()


@needs_mosquitto
def test_a_1mb_device_name_lists_as_one_short_line(tmp_path, broker: Broker) -> None:
    load(broker, {"homeassistant/switch/evil/config": switch(HUGE_NAME, "evil/plug"),  # over the payload limit
                  "homeassistant/switch/long/config": switch(HUGE_NAME[:200_000], "long/plug")})  # within it
    result = run_cli("-c", config_file(tmp_path, broker), "devices", "mqtt", "--wait", "0.5", timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.stdout) < 10_000 and len(result.stderr) < 4_000
    assert result.stdout.splitlines()[-1].startswith("24 devices")
    evil = [line for line in result.stdout.splitlines() if line.startswith("evil")]
    assert len(evil) == 1 and evil[0].split()[0] == "_".join(["evil"] * 13)[:MAX_NAME].rstrip("_")
    assert result.stderr.count("homeassistant/switch/evil/config") == 1  # one warning each, naming the topic
    assert result.stderr.count("homeassistant/switch/long/config") == 1


@needs_mosquitto
def test_oversized_deep_and_malformed_payloads_are_refused_and_the_home_still_works(broker: Broker, caplog) -> None:
    deep = '{"name": "deep", "command_topic": "deep/set", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    load(broker, {
        "homeassistant/switch/big/config": switch("big " + "x" * MAX_PAYLOAD, "big/plug"),
        "homeassistant/switch/deep/config": deep,
        "homeassistant/switch/nested/config": '{"name": "nested", "command_topic": "n/set", "x": ' + "[" * 40 + "]" * 40 + "}",
        "homeassistant/light/abbrev/config": json.dumps({"name": "odd", "~": "a", "cmd_t": "~/set", "fx_list": "x" * 100}),
        "kitchen/ceiling/state": "{" * 100_000,
    })
    caplog.set_level(logging.WARNING, logger="assistant.home")
    home = open_home(broker.config(announce=False))
    try:
        home.wait_for_discovery(quiet_s=0.3)
        ids = {d.id for d in home.registry.devices(include_hidden=True)}
        assert {"big", "deep", "nested"}.isdisjoint(ids)
        assert "kitchen_ceiling" in ids and len(ids) >= 23
        assert "homeassistant/switch/big/config: ignored a message of" in caplog.text
        assert "ignoring discovery message on homeassistant/switch/deep/config: not a JSON object" in caplog.text
        home.execute(ToolCall("set_power", {"device": "kitchen_ceiling", "state": "on"}))
        assert home.bus.last_result is not None and home.bus.last_result.outcome in ("done", "not_responding")
    finally:
        home.close()


def test_names_aliases_areas_and_values_are_clipped_in_the_registry(caplog) -> None:
    payload = json.dumps({"name": "lamp\nINFO forged line " + "y" * 500, "unique_id": "lamp", "command_topic": "l/set",
                          "device": {"identifiers": ["l"], "suggested_area": "a" * 500},
                          "effect_list": ["e" * 100], "state_topic": "l/state"})
    registry = fixtures.loaded_registry({"homeassistant/light/lamp/config": payload})
    lamp = next(d for d in registry.devices() if d.key == "homeassistant:lamp")
    assert len(lamp.name) <= MAX_NAME and "\n" not in lamp.name and len(lamp.area) <= MAX_NAME
    assert len(lamp.id) <= MAX_NAME


def test_an_over_long_stable_id_is_refused() -> None:
    registry = fixtures.loaded_registry({"homeassistant/switch/u/config": switch("u", "u/plug", unique_id="u" * 5000)})
    assert not any(d.name == "u" for d in registry.devices(include_hidden=True))


def test_topic_warnings_say_each_topic_once_and_at_most_a_burst_per_interval(caplog) -> None:
    now = [0.0]
    warnings = TopicWarnings(logging.getLogger("assistant.home"), burst=2, interval_s=60, clock=lambda: now[0])
    caplog.set_level(logging.WARNING)
    assert warnings.warn("a/config", "too long")
    assert not warnings.warn("a/config", "too long")
    assert warnings.warn("b/config", "too long")
    assert not warnings.warn("c/config", "too long")  # over the burst: held back
    now[0] = 61.0
    assert warnings.warn("d/config", "too long")
    assert [r.getMessage() for r in caplog.records] == [
        "a/config: too long", "b/config: too long", "d/config: too long (1 similar warning(s) held back)"]


def test_clip_and_depth() -> None:
    assert clip("a\nb\x1b[2Jc\u2028d" + "e" * 100, 10) == "a b [2Jc d"
    assert json_depth({"a": [1, {"b": []}]}) == 4
    assert json_depth(json.loads("[" * 900 + "]" * 900)) > 32


def test_over_long_overrides_are_a_config_error(tmp_path) -> None:
    path = tmp_path / "overrides.toml"
    path.write_text('["homeassistant:lamp"]\naliases = ["' + "x" * 200 + '"]\n')
    with pytest.raises(ConfigError, match="at most 8 aliases of 64 characters"):
        load_overrides(str(path))
    path.write_text('["homeassistant:lamp"]\nname = "' + "x" * 200 + '"\n')
    with pytest.raises(ConfigError, match="longer than 64 characters"):
        load_overrides(str(path))
