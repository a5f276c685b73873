"""zigbee2mqtt: ``<base>/bridge/devices`` and ``<base>/bridge/groups`` to :class:`Device` objects.

Each device's typed ``exposes`` decide what it can do: only features with the settable access
bit (2) become capabilities, readable ones (1) become state. A device with several endpoint
exposes (a two-gang switch) becomes one device per endpoint. Groups get the capabilities all
their members share. Commands are JSON on ``<base>/<friendly_name>/set``; state is the JSON on
``<base>/<friendly_name>``; availability is JSON ``{"state":"online"}`` or the legacy plain string.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from assistant.home.colors import COLORS, WHITE_MIREDS, clamp_mireds, rgb_to_hs, rgb_to_xy
from assistant.home.model import (
    BRIGHTNESS,
    COLOR,
    LOCK,
    MALFORMED,
    MODE,
    POSITION,
    POWER,
    SETPOINT,
    AvailabilityTopic,
    Capability,
    Device,
    StateTopic,
    json_command,
    online_parser,
    parse_json,
    valid_topic,
)

log = logging.getLogger("assistant.home")
SOURCE = "zigbee2mqtt"
SPECIFIC = ("light", "switch", "fan", "cover", "lock", "climate")
SET, READ = 2, 1
SETPOINTS = ("occupied_heating_setpoint", "current_heating_setpoint", "occupied_cooling_setpoint")


@dataclass
class Spec:
    """What one expose offers, before topics are known: property names and ranges per capability."""

    kind: str
    settable: dict[str, dict[str, Any]] = field(default_factory=dict)  # capability -> details
    readable: dict[str, tuple[str, Any]] = field(default_factory=dict)  # property -> (attribute, details)
    units: dict[str, str] = field(default_factory=dict)


def build(base: str, devices_payload: str | None, groups_payload: str | None) -> list[Device]:
    """All devices and groups announced by one zigbee2mqtt bridge."""
    raw_devices = parse_json(devices_payload or "[]")
    if not isinstance(raw_devices, list):
        log.warning("ignoring %s/bridge/devices: not a JSON list", base)
        raw_devices = []
    out: list[Device] = []
    specs_by_member: dict[tuple[str, int | None], Spec] = {}
    for entry in raw_devices:
        if not isinstance(entry, dict) or entry.get("type") == "Coordinator" or not entry.get("friendly_name"):
            continue
        try:
            for endpoint, spec in _specs(entry).items():
                ieee = str(entry.get("ieee_address", entry["friendly_name"]))
                specs_by_member[(ieee, _endpoint_number(endpoint))] = spec
                specs_by_member.setdefault((ieee, None), spec)
                device = _device(base, entry, endpoint, spec)
                if device:
                    out.append(device)
        except MALFORMED as err:
            log.warning("ignoring zigbee2mqtt device '%s': malformed definition (%s)", entry.get("friendly_name"), err)
    raw_groups = parse_json(groups_payload or "[]")
    for group in raw_groups if isinstance(raw_groups, list) else []:
        try:
            device = _group(base, group, specs_by_member) if isinstance(group, dict) else None
        except MALFORMED as err:
            log.warning("ignoring zigbee2mqtt group '%s': malformed (%s)", group.get("friendly_name"), err)
            continue
        if device:
            out.append(device)
    return out


def _endpoint_number(endpoint: str) -> int | None:
    digits = "".join(c for c in endpoint if c.isdigit())
    return int(digits) if digits else None


def _specs(entry: dict[str, Any]) -> dict[str, Spec]:
    """One Spec per endpoint ("" when the device has a single one)."""
    definition: dict[str, Any] = entry["definition"] if isinstance(entry.get("definition"), dict) else {}
    exposes = [e for e in definition.get("exposes") or [] if isinstance(e, dict)]
    specs: dict[str, Spec] = {}
    readings = Spec("sensor")
    for expose in exposes:
        if expose.get("type") in SPECIFIC:
            endpoint = str(expose.get("endpoint") or "")
            spec = specs.setdefault(endpoint, Spec(str(expose["type"])))
            for feature in expose.get("features") or []:
                if isinstance(feature, dict):
                    _feature(spec, feature)
        else:
            _feature(readings, expose, settable=False)
    if not specs:
        return {"": readings} if readings.readable else {}
    for spec in specs.values():
        spec.readable = {**readings.readable, **spec.readable}
        spec.units = {**readings.units, **spec.units}
    return specs


def _feature(spec: Spec, f: dict[str, Any], settable: bool = True) -> None:
    prop, access, ftype, name = str(f.get("property", "")), int(f.get("access") or 0), f.get("type"), f.get("name")
    if not prop:
        return
    if f.get("unit"):
        spec.units[name or prop] = str(f["unit"])
    can_set = settable and bool(access & SET)
    if ftype == "binary" and name == "state":
        on, off = f.get("value_on", "ON"), f.get("value_off", "OFF")
        cap = LOCK if spec.kind == "lock" else POWER
        if spec.kind == "cover":
            return
        if can_set:
            spec.settable[cap] = {"property": prop, "on": on, "off": off}
        on_name, off_name = ("locked", "unlocked") if cap == LOCK else ("on", "off")
        spec.readable[prop] = (cap, {on: on_name, off: off_name})
    elif ftype == "numeric" and name == "brightness":
        scale = float(f.get("value_max", 254))
        if can_set:
            spec.settable[BRIGHTNESS] = {"property": prop, "max": scale}
        spec.readable[prop] = (BRIGHTNESS, scale)
    elif ftype == "numeric" and name == "color_temp" and can_set:
        spec.settable.setdefault(COLOR, {})["color_temp"] = (prop, f.get("value_min"), f.get("value_max"))
    elif ftype == "composite" and name in ("color_xy", "color_hs") and can_set:
        spec.settable.setdefault(COLOR, {})["color"] = (prop, name)
    elif ftype == "numeric" and name == "position":
        if can_set:
            spec.settable[POSITION] = {"property": prop}
        spec.readable[prop] = (POSITION, None)
    elif ftype == "enum" and name == "state" and spec.kind == "cover":
        values = f.get("values") or []
        if can_set and "OPEN" in values and "CLOSE" in values:
            spec.settable.setdefault(POSITION, {"property": None})["state"] = prop
    elif ftype == "numeric" and name in SETPOINTS and SETPOINT not in spec.settable:
        if can_set:
            spec.settable[SETPOINT] = {"property": prop, "min": f.get("value_min", 5), "max": f.get("value_max", 30),
                                       "step": f.get("value_step", 0.5)}
        spec.readable[prop] = (SETPOINT, None)
    elif ftype == "enum" and name == "system_mode":
        if can_set:
            spec.settable[MODE] = {"property": prop, "values": tuple(str(v) for v in f.get("values") or ())}
        spec.readable[prop] = (MODE, None)
    elif ftype in ("numeric", "binary", "enum", "text") and access & READ:
        attribute = "temperature" if name == "local_temperature" else str(name or prop)
        spec.readable[prop] = (attribute, {f.get("value_on"): "on", f.get("value_off"): "off"} if ftype == "binary" else None)


def _capabilities(spec: Spec, topic: str) -> dict[str, Capability]:
    caps: dict[str, Capability] = {}
    s = spec.settable
    if POWER in s:
        p = s[POWER]
        caps[POWER] = Capability(POWER, json_command(topic, lambda v: {p["property"]: p["on"] if v == "on" else p["off"]}),
                                 (topic,), ("on", "off"))
    if LOCK in s:
        lk = s[LOCK]
        caps[LOCK] = Capability(LOCK, json_command(topic, lambda v: {lk["property"]: lk["on"] if v == "locked" else lk["off"]}),
                                (topic,), ("locked", "unlocked"))
    if BRIGHTNESS in s:
        b = s[BRIGHTNESS]
        on_prop = s[POWER]["property"] if POWER in s else None
        caps[BRIGHTNESS] = Capability(
            BRIGHTNESS, json_command(topic, lambda v: {**({on_prop: s[POWER]["on"]} if on_prop else {}),
                                                       b["property"]: round(v * b["max"] / 100)}),
            (topic,), minimum=0, maximum=100,
        )
    if s.get(COLOR):
        c = s[COLOR]
        names = tuple(COLORS) if "color" in c else tuple(WHITE_MIREDS)
        caps[COLOR] = Capability(COLOR, json_command(topic, lambda n: _color(n, c)), (topic,), names)
    if POSITION in s:
        pos = s[POSITION]
        step = 1 if pos.get("property") else 100
        caps[POSITION] = Capability(POSITION, json_command(topic, lambda v: _position(v, pos)), (topic,), minimum=0, maximum=100,
                                    step=step)
    if SETPOINT in s:
        sp = s[SETPOINT]
        caps[SETPOINT] = Capability(SETPOINT, json_command(topic, lambda v: {sp["property"]: v}), (topic,),
                                    minimum=float(sp["min"]), maximum=float(sp["max"]), step=float(sp["step"] or 0.5))
    if MODE in s and s[MODE]["values"]:
        m = s[MODE]
        caps[MODE] = Capability(MODE, json_command(topic, lambda v: {m["property"]: v}), (topic,), m["values"])
    return caps


def _color(name: str, c: dict[str, Any]) -> dict[str, Any]:
    if "color_temp" in c and (name in WHITE_MIREDS or "color" not in c):
        prop, lo, hi = c["color_temp"]
        return {prop: clamp_mireds(WHITE_MIREDS.get(name, 300), lo, hi)}
    prop, kind = c["color"]
    rgb = COLORS[name]
    if kind == "color_hs":
        h, s = rgb_to_hs(rgb)
        return {prop: {"hue": h, "saturation": s}}
    x, y = rgb_to_xy(rgb)
    return {prop: {"x": x, "y": y}}


def _position(v: int, pos: dict[str, Any]) -> dict[str, Any]:
    if pos.get("property"):
        return {pos["property"]: v}
    if v not in (0, 100):
        raise ValueError("this cover only opens and closes")
    return {pos["state"]: "OPEN" if v == 100 else "CLOSE"}


def _state_parser(spec: Spec) -> Any:
    def parse(payload: str) -> dict[str, Any]:
        data = parse_json(payload)
        if not isinstance(data, dict):
            return {}
        out: dict[str, Any] = {}
        for prop, (attribute, detail) in spec.readable.items():
            if prop not in data:
                continue
            value = data[prop]
            if attribute == BRIGHTNESS and isinstance(value, (int, float)):
                out[attribute] = round(value * 100 / float(detail))
            elif isinstance(detail, dict):
                out[attribute] = detail.get(value, value)
            else:
                out[attribute] = value
        if COLOR in spec.settable and ("color" in data or "color_temp" in data):
            out[COLOR] = data.get("color") or {"color_temp": data.get("color_temp")}
        return out

    return parse


def _split_name(friendly: str) -> tuple[str, str]:
    """``kitchen/floor_light`` -> (area "kitchen", name "kitchen floor light")."""
    area = friendly.rpartition("/")[0].replace("_", " ").replace("/", " ").strip()
    return area, " ".join(friendly.replace("/", " ").replace("_", " ").split()) or friendly


def _device(base: str, entry: dict[str, Any], endpoint: str, spec: Spec) -> Device | None:
    friendly = str(entry["friendly_name"])
    topic = f"{base}/{friendly}"
    if not valid_topic(topic):
        log.warning("ignoring zigbee2mqtt device '%s': its name makes an invalid topic", friendly)
        return None
    area, name = _split_name(friendly)
    ieee = str(entry.get("ieee_address", friendly))
    definition: dict[str, Any] = entry["definition"] if isinstance(entry.get("definition"), dict) else {}
    text = f"{definition.get('description', '')} {entry.get('description', '')}".lower()
    return Device(
        key=f"{SOURCE}:{ieee}" + (f":{endpoint}" if endpoint else ""),
        name=f"{name} {endpoint}" if endpoint else name,
        kind=spec.kind, source=SOURCE, area=area,
        capabilities=_capabilities(spec, f"{topic}/set"),
        state_topics=(StateTopic(topic, _state_parser(spec)),),
        availability=(AvailabilityTopic(f"{base}/bridge/state", online_parser()),
                      AvailabilityTopic(f"{topic}/availability", online_parser())),
        availability_mode="all",
        sensitive=spec.kind == "lock" or (spec.kind == "cover" and "garage" in text),
        units=spec.units, links=(f"zigbee2mqtt_{ieee}",),
    )


def _group(base: str, group: dict[str, Any], specs: dict[tuple[str, int | None], Spec]) -> Device | None:
    friendly = str(group.get("friendly_name") or "")
    members = [m for m in group.get("members") or [] if isinstance(m, dict)]
    member_specs = [specs.get((str(m.get("ieee_address")), m.get("endpoint"))) or specs.get((str(m.get("ieee_address")), None))
                    for m in members]
    known = [s for s in member_specs if s is not None]
    if not friendly or not known or len({s.kind for s in known}) != 1 or known[0].kind not in ("light", "switch", "cover"):
        return None
    shared = Spec(known[0].kind)
    for cap, detail in known[0].settable.items():
        if all(cap in s.settable for s in known):
            shared.settable[cap] = detail
    if COLOR in shared.settable:  # only the colour modes every member has
        shared.settable[COLOR] = {k: v for k, v in shared.settable[COLOR].items() if all(k in s.settable[COLOR] for s in known)}
    shared.readable = {p: v for p, v in known[0].readable.items() if v[0] in (POWER, BRIGHTNESS, POSITION)}
    fake_entry = {"friendly_name": friendly, "ieee_address": f"group_{group.get('id', friendly)}"}
    device = _device(base, fake_entry, "", shared)
    if device:
        device.availability = (AvailabilityTopic(f"{base}/bridge/state", online_parser()),)
        device.links = ()
    return device
