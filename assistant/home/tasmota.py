"""Tasmota native discovery: ``<prefix>/<MAC>/config`` to one :class:`Device` per relay or light.

Topics are built from the announced full topic ``ft`` with ``%prefix%`` (``tp``: command, stat,
tele), ``%topic%`` (``t``), ``%hostname%`` (``hn``) and ``%id%`` (MAC tail), never assumed.
Relay types ``rl``: 1 relay, 2 light (``lt_st`` 1 dimmer, 2 CT, 3 RGB, 4 RGBW, 5 RGBCW); shutters (3)
are listed as unsupported.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from assistant.home.colors import COLORS, WHITE_MIREDS
from assistant.home.model import (
    BRIGHTNESS,
    COLOR,
    MALFORMED,
    POWER,
    AvailabilityTopic,
    Capability,
    Command,
    Device,
    StateTopic,
    online_parser,
    parse_json,
    valid_topic,
)

log = logging.getLogger("assistant.home")
SOURCE = "tasmota"


def is_config_topic(prefix: str, topic: str) -> bool:
    return topic.startswith(prefix + "/") and topic.endswith("/config") and topic.count("/") == prefix.count("/") + 2


def full_topic(cfg: dict[str, Any], prefix_index: int) -> str:
    """``ft`` with its placeholders filled; ends with '/'."""
    prefixes = cfg.get("tp") or ["cmnd", "stat", "tele"]
    mac = str(cfg.get("mac", ""))
    topic = (str(cfg.get("ft") or "%prefix%/%topic%/")
             .replace("%prefix%", str(prefixes[prefix_index]))
             .replace("%topic%", str(cfg.get("t", "")))
             .replace("%hostname%", str(cfg.get("hn", "")))
             .replace("%id%", mac[-6:]))
    return topic if topic.endswith("/") else topic + "/"


def parse_config(topic: str, payload: str) -> list[Device]:
    if not payload.strip():
        return []
    cfg = parse_json(payload)
    if not isinstance(cfg, dict) or not cfg.get("t"):
        log.warning("ignoring Tasmota discovery on %s: not a Tasmota config", topic)
        return []
    try:
        return _devices(cfg, topic)
    except MALFORMED as err:
        log.warning("ignoring Tasmota discovery on %s: malformed (%s)", topic, err)
        return []


def _devices(cfg: dict[str, Any], topic: str) -> list[Device]:
    cmnd, stat, tele = full_topic(cfg, 0), full_topic(cfg, 1), full_topic(cfg, 2)
    if not all(valid_topic(t) for t in (cmnd, stat, tele)):
        log.warning("ignoring Tasmota discovery on %s: invalid topics", topic)
        return []
    relays = [int(r) if isinstance(r, int) else 0 for r in cfg.get("rl") or []]
    used = [i for i, r in enumerate(relays) if r]
    names = cfg.get("fn") or []
    states = cfg.get("state") or ["OFF", "ON", "TOGGLE", "HOLD"]
    force_index = str((cfg.get("so") or {}).get("26", 0)) == "1"
    lwt = online_parser(str(cfg.get("onln", "Online")), str(cfg.get("ofln", "Offline")))
    availability = (AvailabilityTopic(f"{tele}LWT", lwt),)
    devices = []
    for i in used:
        index = "" if len(used) == 1 and not force_index else str(i + 1)
        name = names[i] if i < len(names) and names[i] else f"{cfg.get('dn') or cfg['t']}" + (f" {i + 1}" if index else "")
        power_key = f"POWER{index}"
        device = Device(
            key=f"{SOURCE}:{cfg.get('mac', cfg['t'])}:{i + 1}", name=str(name), kind="switch", source=SOURCE,
            availability=availability, state_topics=(
                StateTopic(f"{stat}RESULT", _json_state(power_key, states)),
                StateTopic(f"{tele}STATE", _json_state(power_key, states)),
                StateTopic(f"{stat}{power_key}", partial(_power_value, states=states)),
            ),
        )
        if relays[i] == 3:
            device.kind, device.unsupported, device.state_topics = "cover", "Tasmota shutters are not supported", ()
        else:
            topic_power = f"{cmnd}{power_key}"
            device.capabilities[POWER] = Capability(POWER, partial(_power_command, topic_power, states), (topic_power,),
                                                    ("on", "off"))
            if relays[i] == 2:
                _light(device, cfg, cmnd)
        devices.append(device)
    return devices


def _light(device: Device, cfg: dict[str, Any], cmnd: str) -> None:
    device.kind = "light"
    subtype = int(cfg.get("lt_st") or 0)
    if subtype >= 1:
        dimmer = f"{cmnd}Dimmer"
        device.capabilities[BRIGHTNESS] = Capability(
            BRIGHTNESS, lambda v: [Command(dimmer, str(int(v)))], (dimmer,), minimum=0, maximum=100)
    if subtype in (2, 5) or subtype >= 3:
        color, ct = f"{cmnd}Color", f"{cmnd}CT"
        has_ct, has_rgb = subtype in (2, 5), subtype >= 3

        def encode(name: Any) -> list[Command]:
            if has_ct and (name in WHITE_MIREDS or not has_rgb):
                return [Command(ct, str(max(153, min(500, WHITE_MIREDS.get(name, 300)))))]
            return [Command(color, ",".join(map(str, COLORS[name])))]

        topics = tuple(t for t, ok in ((color, has_rgb), (ct, has_ct)) if ok)
        device.capabilities[COLOR] = Capability(COLOR, encode, topics, tuple(COLORS) if has_rgb else tuple(WHITE_MIREDS))


def _power_command(topic: str, states: list[str], value: Any) -> list[Command]:
    return [Command(topic, states[1] if value == "on" else states[0])]


def _power_value(payload: str, states: list[str]) -> dict[str, Any]:
    text = payload.strip()
    return {POWER: "on"} if text == states[1] else {POWER: "off"} if text == states[0] else {}


def _json_state(power_key: str, states: list[str]) -> Any:
    def parse(payload: str) -> dict[str, Any]:
        data = parse_json(payload)
        if not isinstance(data, dict):
            return {}
        out = _power_value(str(data[power_key]), states) if power_key in data else {}
        if isinstance(data.get("Dimmer"), (int, float)):
            out[BRIGHTNESS] = int(data["Dimmer"])
        if "Color" in data or "CT" in data:
            out[COLOR] = data.get("Color") or {"CT": data.get("CT")}
        return out

    return parse
