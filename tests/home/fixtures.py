"""Retained discovery and state payloads modelled on real devices (zigbee2mqtt 2.x, HA discovery, Tasmota 13/14)."""

from __future__ import annotations

import json
from typing import Any

Z2M = "zigbee2mqtt"
HA = "homeassistant"

HUE_IEEE = "0x0017880104e45517"
PLUG_IEEE = "0x000d6ffffe2e9a10"


def _light_expose(color: bool, endpoint: str | None = None) -> dict[str, Any]:
    sfx = f"_{endpoint}" if endpoint else ""
    features: list[dict[str, Any]] = [
        {"type": "binary", "name": "state", "label": "State", "property": f"state{sfx}", "access": 7,
         "value_on": "ON", "value_off": "OFF", "value_toggle": "TOGGLE"},
        {"type": "numeric", "name": "brightness", "label": "Brightness", "property": f"brightness{sfx}", "access": 7,
         "value_min": 0, "value_max": 254},
        {"type": "numeric", "name": "color_temp", "label": "Color temp", "property": f"color_temp{sfx}", "access": 7,
         "unit": "mired", "value_min": 153, "value_max": 454},
    ]
    if color:
        features.append({"type": "composite", "name": "color_xy", "label": "Color (X/Y)", "property": f"color{sfx}",
                         "access": 7, "features": [
                             {"type": "numeric", "name": "x", "property": "x", "access": 7},
                             {"type": "numeric", "name": "y", "property": "y", "access": 7}]})
    expose: dict[str, Any] = {"type": "light", "features": features}
    if endpoint:
        expose["endpoint"] = endpoint
    return expose


LINKQUALITY = {"type": "numeric", "name": "linkquality", "label": "Linkquality", "property": "linkquality", "access": 1,
               "unit": "lqi", "value_min": 0, "value_max": 255}

Z2M_DEVICES: list[dict[str, Any]] = [
    {"ieee_address": "0x00124b0022ab3c4d", "type": "Coordinator", "friendly_name": "Coordinator", "definition": None},
    {"ieee_address": HUE_IEEE, "type": "Router", "friendly_name": "kitchen/ceiling", "supported": True,
     "power_source": "Mains (single phase)",
     "definition": {"vendor": "Philips", "model": "9290022166", "description": "Hue white and color ambiance E26/E27",
                    "exposes": [_light_expose(color=True), LINKQUALITY], "options": []}},
    {"ieee_address": "0x0017880109abcdef", "type": "Router", "friendly_name": "kitchen/spots", "supported": True,
     "definition": {"vendor": "Philips", "model": "8718696548738", "description": "Hue white ambiance GU10",
                    "exposes": [_light_expose(color=False), LINKQUALITY]}},
    {"ieee_address": PLUG_IEEE, "type": "Router", "friendly_name": "Coffee machine", "supported": True,
     "definition": {"vendor": "IKEA", "model": "E1603/E1702/E1708", "description": "TRADFRI control outlet",
                    "exposes": [{"type": "switch", "features": [
                        {"type": "binary", "name": "state", "property": "state", "access": 7,
                         "value_on": "ON", "value_off": "OFF", "value_toggle": "TOGGLE"}]},
                        {"type": "enum", "name": "power_on_behavior", "property": "power_on_behavior", "access": 7,
                         "values": ["off", "on", "toggle", "previous"]}, LINKQUALITY]}},
    {"ieee_address": "0x00158d00045a1b2c", "type": "EndDevice", "friendly_name": "bedroom/sensor", "supported": True,
     "definition": {"vendor": "Aqara", "model": "WSDCGQ11LM", "description": "Temperature, humidity and pressure sensor",
                    "exposes": [
                        {"type": "numeric", "name": "battery", "property": "battery", "access": 1, "unit": "%"},
                        {"type": "numeric", "name": "temperature", "property": "temperature", "access": 1, "unit": "°C"},
                        {"type": "numeric", "name": "humidity", "property": "humidity", "access": 1, "unit": "%"},
                        LINKQUALITY]}},
    {"ieee_address": "0x847127fffe3d5e6f", "type": "EndDevice", "friendly_name": "Hall radiator", "supported": True,
     "definition": {"vendor": "Danfoss", "model": "014G2461", "description": "Ally thermostat",
                    "exposes": [{"type": "climate", "features": [
                        {"type": "numeric", "name": "occupied_heating_setpoint", "property": "occupied_heating_setpoint",
                         "access": 7, "value_min": 5, "value_max": 35, "value_step": 0.5, "unit": "°C"},
                        {"type": "numeric", "name": "local_temperature", "property": "local_temperature", "access": 5,
                         "unit": "°C"},
                        {"type": "enum", "name": "system_mode", "property": "system_mode", "access": 7,
                         "values": ["off", "heat"]}]}, LINKQUALITY]}},
    {"ieee_address": "0xa4c138d2e3f40a1b", "type": "Router", "friendly_name": "Stairs switch", "supported": True,
     "definition": {"vendor": "Tuya", "model": "TS0012", "description": "Smart light switch - 2 gang",
                    "exposes": [
                        {"type": "switch", "endpoint": "left", "features": [
                            {"type": "binary", "name": "state", "property": "state_left", "access": 7,
                             "value_on": "ON", "value_off": "OFF"}]},
                        {"type": "switch", "endpoint": "right", "features": [
                            {"type": "binary", "name": "state", "property": "state_right", "access": 7,
                             "value_on": "ON", "value_off": "OFF"}]}, LINKQUALITY]}},
    {"ieee_address": "0x0c4314fffe7a8b9c", "type": "Router", "friendly_name": "bedroom/blind", "supported": True,
     "definition": {"vendor": "IKEA", "model": "E1757", "description": "FYRTUR roller blind",
                    "exposes": [{"type": "cover", "features": [
                        {"type": "enum", "name": "state", "property": "state", "access": 3, "values": ["OPEN", "CLOSE", "STOP"]},
                        {"type": "numeric", "name": "position", "property": "position", "access": 7,
                         "value_min": 0, "value_max": 100, "unit": "%"}]},
                        {"type": "numeric", "name": "battery", "property": "battery", "access": 5, "unit": "%"}]}},
    {"ieee_address": "0x000d6f0012345678", "type": "EndDevice", "friendly_name": "Back door", "supported": True,
     "definition": {"vendor": "Yale", "model": "YRD226HA2619", "description": "Assure lock",
                    "exposes": [{"type": "lock", "features": [
                        {"type": "binary", "name": "state", "property": "state", "access": 7,
                         "value_on": "LOCK", "value_off": "UNLOCK"}]}]}},
]

Z2M_GROUPS = [
    {"id": 1, "friendly_name": "Kitchen lights", "members": [
        {"ieee_address": HUE_IEEE, "endpoint": 11}, {"ieee_address": "0x0017880109abcdef", "endpoint": 11}], "scenes": []},
    {"id": 2, "friendly_name": "Empty group", "members": [], "scenes": []},
]

# Home Assistant discovery, in the forms real publishers use.
HA_IRRIGATION = {  # single component, abbreviated, with a ~ base topic
    "~": "home/irrigation", "name": "Irrigation", "uniq_id": "irrigation_valve_1", "cmd_t": "~/set", "stat_t": "~/state",
    "pl_on": "1", "pl_off": "0", "avty_t": "~/status", "pl_avail": "up", "pl_not_avail": "down",
    "dev": {"ids": ["garden_ctrl_01"], "name": "Garden", "sa": "Garden", "mf": "Acme", "mdl": "Valve 2"},
}
HA_SHELLY = {  # device-based form, shared availability and ~ at the root
    "dev": {"ids": "shellyplus1pm-a8032ab12345", "name": "Hall", "mf": "Shelly", "mdl": "Plus 1PM", "sa": "Hallway"},
    "o": {"name": "shelly-ha-bridge", "sw": "1.2.0", "url": "https://example.invalid"},
    "~": "shellyplus1pm-a8032ab12345", "avty_t": "~/online", "pl_avail": "true", "pl_not_avail": "false",
    "cmps": {
        "relay": {"p": "switch", "name": "Ceiling light", "uniq_id": "shelly_a8032ab12345_relay0",
                  "cmd_t": "~/command/switch:0", "pl_on": "on", "pl_off": "off", "stat_t": "~/status/switch:0",
                  "val_tpl": "{{ 'on' if value_json.output else 'off' }}", "stat_on": "on", "stat_off": "off"},
        "power": {"p": "sensor", "name": "Power", "uniq_id": "shelly_a8032ab12345_power0", "stat_t": "~/status/switch:0",
                  "val_tpl": "{{ value_json.apower }}", "unit_of_meas": "W", "dev_cla": "power"},
    },
}
HA_DESK = {  # JSON schema light (name null = the device itself)
    "schema": "json", "name": None, "uniq_id": "desk_lamp_light", "cmd_t": "office/desk_lamp/set", "stat_t": "office/desk_lamp",
    "sup_clrm": ["color_temp", "xy"], "bri_scl": 254, "dev": {"ids": ["desk_lamp"], "name": "Desk lamp", "sa": "Office"},
}
HA_TRV = {
    "name": None, "uniq_id": "living_trv", "dev": {"ids": ["living_trv"], "name": "Living room thermostat", "sa": "Living room"},
    "temp_cmd_t": "trv/living/target/set", "temp_stat_t": "trv/living/target", "curr_temp_t": "trv/living/current",
    "mode_cmd_t": "trv/living/mode/set", "mode_stat_t": "trv/living/mode", "modes": ["off", "heat", "auto"],
    "min_temp": 5, "max_temp": 28, "temp_step": 0.5,
}
HA_FRONT_DOOR = {
    "name": "Front door", "uniq_id": "front_door_lock", "cmd_t": "nuki/front/lock/set", "stat_t": "nuki/front/lock",
    "pl_lock": "LOCK", "pl_unlk": "UNLOCK", "stat_locked": "LOCKED", "stat_unlocked": "UNLOCKED",
}
HA_GARAGE = {
    "name": "Garage door", "uniq_id": "garage_door_1", "dev_cla": "garage", "cmd_t": "garage/door/set",
    "stat_t": "garage/door/state", "pl_open": "OPEN", "pl_cls": "CLOSE", "pl_stop": "STOP",
}
HA_ALARM = {
    "name": "House alarm", "uniq_id": "alarm_panel_1", "cmd_t": "alarm/set", "stat_t": "alarm/state",
}
HA_UNSAFE = {  # a command template outside the safe subset: listed, never controlled
    "name": "Porch light", "uniq_id": "porch_light_1", "cmd_t": "porch/light/set",
    "cmd_tpl": "{{ states('sun.sun') }}", "stat_t": "porch/light/state",
}
HA_Z2M_TWIN = {  # what zigbee2mqtt's own HA integration announces for the Hue bulb: deduplicated away
    "schema": "json", "name": None, "uniq_id": f"{HUE_IEEE}_light_zigbee2mqtt", "cmd_t": "zigbee2mqtt/kitchen/ceiling/set",
    "stat_t": "zigbee2mqtt/kitchen/ceiling", "sup_clrm": ["xy", "color_temp"], "brightness": True,
    "dev": {"ids": [f"zigbee2mqtt_{HUE_IEEE}"], "name": "kitchen/ceiling", "sa": "Kitchen"},
}

# Tasmota native discovery: a Sonoff Basic with a non-default full topic, a 2-relay board, an RGBCW bulb.
TASMOTA_BASIC = {
    "ip": "192.168.1.50", "dn": "Fan plug", "fn": ["Fan plug", None, None, None, None, None, None, None],
    "hn": "tasmota-A1B2C3-0003", "mac": "DC4F22A1B2C3", "md": "Sonoff Basic", "ty": 0, "if": 0, "ofln": "Offline",
    "onln": "Online", "state": ["OFF", "ON", "TOGGLE", "HOLD"], "sw": "13.4.0", "t": "fanplug",
    "ft": "%topic%/%prefix%/", "tp": ["cmnd", "stat", "tele"], "rl": [1, 0, 0, 0, 0, 0, 0, 0],
    "swc": [-1] * 8, "swn": [None] * 8, "btn": [0] * 8, "so": {"4": 0, "11": 0, "13": 0, "17": 0, "20": 0, "30": 0,
                                                               "68": 0, "73": 0, "82": 0, "114": 0, "117": 0},
    "lk": 0, "lt_st": 0, "sho": [], "sht": [], "ver": 1,
}
TASMOTA_DUAL = {
    **TASMOTA_BASIC, "dn": "Porch relays", "fn": ["Porch lamp", "Garden lamp", None, None, None, None, None, None],
    "mac": "A4CF12D3E4F5", "hn": "tasmota-D3E4F5", "t": "tasmota_D3E4F5", "ft": "%prefix%/%topic%/",
    "rl": [1, 1, 0, 0, 0, 0, 0, 0], "md": "Sonoff Dual R2",
}
TASMOTA_BULB = {
    **TASMOTA_BASIC, "dn": "Sofa bulb", "fn": ["Sofa bulb", None, None, None, None, None, None, None],
    "mac": "84F3EBAABBCC", "hn": "tasmota-AABBCC", "t": "sofa_bulb", "ft": "%prefix%/%topic%/",
    "rl": [2, 0, 0, 0, 0, 0, 0, 0], "lt_st": 5, "md": "Athom LB01",
}


def retained() -> dict[str, str]:
    """Every retained message the fixture broker holds: discovery configs plus some current state."""
    d = json.dumps
    return {
        f"{Z2M}/bridge/state": d({"state": "online"}),
        f"{Z2M}/bridge/devices": d(Z2M_DEVICES),
        f"{Z2M}/bridge/groups": d(Z2M_GROUPS),
        f"{Z2M}/kitchen/ceiling": d({"state": "ON", "brightness": 127, "color_temp": 370, "linkquality": 120}),
        f"{Z2M}/bedroom/sensor": d({"temperature": 19.5, "humidity": 48, "battery": 91}),
        f"{Z2M}/Coffee machine/availability": "offline",  # legacy string form
        f"{HA}/switch/garden/irrigation/config": d(HA_IRRIGATION),
        f"{HA}/device/shelly_a8032ab12345/config": d(HA_SHELLY),
        f"{HA}/light/desk_lamp/config": d(HA_DESK),
        f"{HA}/climate/living_trv/config": d(HA_TRV),
        f"{HA}/lock/front_door/config": d(HA_FRONT_DOOR),
        f"{HA}/cover/garage/config": d(HA_GARAGE),
        f"{HA}/alarm_control_panel/house/config": d(HA_ALARM),
        f"{HA}/light/porch/config": d(HA_UNSAFE),
        f"{HA}/light/{HUE_IEEE}/light/config": d(HA_Z2M_TWIN),
        "trv/living/target": "20.5",
        "trv/living/mode": "heat",
        "trv/living/current": "19.0",
        "tasmota/discovery/DC4F22A1B2C3/config": d(TASMOTA_BASIC),
        "tasmota/discovery/A4CF12D3E4F5/config": d(TASMOTA_DUAL),
        "tasmota/discovery/84F3EBAABBCC/config": d(TASMOTA_BULB),
        "fanplug/tele/LWT": "Online",
    }


def loaded_registry(messages: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """A Registry fed every retained fixture message (no broker), plus ``messages``."""
    from assistant.home.registry import Registry

    registry = Registry(**kwargs)
    for topic, payload in {**retained(), **(messages or {})}.items():
        registry.handle(topic, payload)
    return registry
