"""Hypothesis strategies for what enters from outside: discovery payloads in the three dialects, and tool calls."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
# Strings a hostile config would try: control namespaces, wildcards, special tokens, control characters, long ones.
NASTY = st.sampled_from([
    "zigbee2mqtt/bridge/request/device/remove", "homeassistant/switch/x/config", "tasmota/discovery/AA/config", "$SYS/x",
    "a/+/b", "a/#", "", " ", "~", "~/set", "x\0y", '<|"|>', "<tool_call|>", "<|tool_call>", "lamp\nERROR forged", "\x1b[2J",
    "x" * 5000, "ON", "OFF", "on", "heat", "{{ value }}", "{{ value * 99999999 }}", "{{ states('x') }}", "{% for x in y %}",
    "{{ value_json.state }}", "%prefix%/%topic%/", "kitchen light", "é" * 80,
])
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True), TEXT, NASTY)


def json_values(keys: list[str]) -> st.SearchStrategy[Any]:
    """JSON values whose object keys are mostly the dialect's own (so the parsers get past their first checks)."""
    key = st.one_of(st.sampled_from(keys), TEXT)
    return st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                        st.dictionaries(key, inner, max_size=8)), max_leaves=30)


HA_KEYS = ["name", "unique_id", "uniq_id", "command_topic", "cmd_t", "state_topic", "stat_t", "payload_on", "payload_off",
           "brightness_command_topic", "brightness_scale", "rgb_command_topic", "color_temp_command_topic", "modes",
           "mode_command_topic", "temperature_command_topic", "min_temp", "max_temp", "temp_step", "position_topic",
           "set_position_topic", "availability", "availability_topic", "avty_t", "device", "dev", "identifiers",
           "suggested_area", "components", "platform", "p", "~", "value_template", "command_template", "device_class",
           "supported_features", "code_arm_required", "effect_list", "schema", "state_value_template", "topic"]
TASMOTA_KEYS = ["t", "ft", "tp", "rl", "fn", "mac", "hn", "dn", "lt_st", "so", "state", "onln", "ofln", "26"]
Z2M_KEYS = ["friendly_name", "ieee_address", "type", "definition", "exposes", "features", "name", "property", "access",
            "value_min", "value_max", "value_step", "values", "value_on", "value_off", "endpoint", "unit", "members",
            "description", "id"]
COMPONENTS = ["light", "switch", "fan", "cover", "climate", "lock", "alarm_control_panel", "sensor", "binary_sensor",
              "device", "button", "x"]


def dumped(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


@st.composite
def discovery_message(draw: st.DrawFn) -> tuple[str, str | bytes]:
    """One message on a discovery topic of one of the three dialects, with a JSON-ish (or raw) payload."""
    dialect = draw(st.sampled_from(["ha", "tasmota", "z2m_devices", "z2m_groups", "state"]))
    if dialect == "ha":
        topic = f"homeassistant/{draw(st.sampled_from(COMPONENTS))}/{draw(st.sampled_from(['a', 'b', 'n/a']))}/config"
        body = json_values(HA_KEYS)
    elif dialect == "tasmota":
        topic = f"tasmota/discovery/{draw(st.sampled_from(['AABBCC', 'DDEEFF']))}/config"
        body = json_values(TASMOTA_KEYS)
    elif dialect == "state":
        topic = draw(st.sampled_from(["a/state", "kitchen/ceiling/state", "zigbee2mqtt/kitchen/ceiling", "fanplug/tele/LWT",
                                      "zigbee2mqtt/bridge/state", "$SYS/broker/publish/messages/dropped"]))
        body = json_values(HA_KEYS + Z2M_KEYS)
    else:
        topic = f"zigbee2mqtt/bridge/{dialect.removeprefix('z2m_')}"
        body = st.lists(json_values(Z2M_KEYS), max_size=4)
    kind = draw(st.sampled_from(["json", "json", "json", "text", "bytes"]))
    if kind == "json":
        return topic, dumped(draw(body))
    if kind == "text":
        return topic, draw(st.one_of(TEXT, NASTY))
    return topic, draw(st.binary(max_size=64))


TOOL_NAMES = ["set_power", "set_brightness", "set_color", "set_cover", "set_climate", "set_lock", "set_alarm", "get_state",
              "confirm", "end_conversation", "x", ""]
ARG_NAMES = ["device", "state", "percent", "change", "color", "position", "temperature", "mode", "answer", "x"]

