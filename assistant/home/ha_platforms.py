"""Home Assistant MQTT platforms (light, switch, fan, cover, climate, lock, alarm, sensors) to capabilities.

Each builder takes one expanded entity config and returns capabilities and state topics; a
template outside the safe subset raises :class:`UnsupportedTemplate` and the caller marks the
entity unsupported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assistant.home.colors import COLORS, WHITE_MIREDS, clamp_mireds, rgb_to_hs, rgb_to_xy
from assistant.home.model import (
    ALARM,
    BRIGHTNESS,
    COLOR,
    LOCK,
    MODE,
    POSITION,
    POWER,
    SETPOINT,
    Capability,
    Command,
    StateTopic,
    Unsupported,
    json_command,
    parse_json,
    valid_topic,
)
from assistant.home.templates import Renderer, compile_template, value_renderer

Built = tuple[dict[str, Capability], list[StateTopic], dict[str, str]]
CLIMATE_MODES = ("auto", "off", "cool", "heat", "dry", "fan_only")
ALARM_STATES = ("armed_home", "armed_away", "armed_night", "disarmed")


def _topic(cfg: dict[str, Any], key: str) -> str | None:
    value = cfg.get(key)
    if value is None:
        return None
    if not valid_topic(value):
        raise Unsupported(f"{key} is not a concrete topic")
    return str(value)


def _template(cfg: dict[str, Any], key: str, variables: tuple[str, ...]) -> Renderer | None:
    source = cfg.get(key)
    return compile_template(str(source), variables) if source else None


def _render(tpl: Renderer | None, default: str, **values: Any) -> str:
    return tpl(**values) if tpl else default


def _state(topic: str, template: str | None, convert: Callable[[str], dict[str, Any]]) -> StateTopic:
    extract = value_renderer(template)

    def parse(payload: str) -> dict[str, Any]:
        value = extract(payload)
        return convert(value) if value is not None else {}

    return StateTopic(topic, parse)


def _power(cfg: dict[str, Any], topic: str, template_key: str = "command_template") -> Capability:
    on, off = str(cfg.get("payload_on", "ON")), str(cfg.get("payload_off", "OFF"))
    tpl = _template(cfg, template_key, ("value",))

    def encode(v: Any) -> list[Command]:
        payload = on if v == "on" else off
        return [Command(topic, _render(tpl, payload, value=payload))]

    return Capability(POWER, encode, (topic,), ("on", "off"))


def _on_off_state(cfg: dict[str, Any], key: str = "value_template") -> StateTopic | None:
    topic = _topic(cfg, "state_topic")
    if not topic:
        return None
    on = str(cfg.get("state_on", cfg.get("payload_on", "ON")))
    off = str(cfg.get("state_off", cfg.get("payload_off", "OFF")))
    return _state(topic, cfg.get(key), lambda v: {POWER: "on"} if v == on else {POWER: "off"} if v == off else {})


def build_switch(cfg: dict[str, Any]) -> Built:
    caps: dict[str, Capability] = {}
    if topic := _topic(cfg, "command_topic"):
        caps[POWER] = _power(cfg, topic)
    state = _on_off_state(cfg)
    return caps, [state] if state else [], {}


def build_light(cfg: dict[str, Any]) -> Built:
    schema = cfg.get("schema", "default")
    if schema == "json":
        return _build_json_light(cfg)
    if schema not in ("default", "basic"):
        raise Unsupported(f"light schema '{schema}' is not supported")
    caps, states, units = build_switch({**cfg, "value_template": cfg.get("state_value_template")})
    scale = float(cfg.get("brightness_scale", 255))
    if topic := _topic(cfg, "brightness_command_topic"):
        tpl = _template(cfg, "brightness_command_template", ("value",))
        caps[BRIGHTNESS] = Capability(
            BRIGHTNESS, lambda v: [Command(topic, _render(tpl, str(round(v * scale / 100)), value=round(v * scale / 100)))],
            (topic,), minimum=0, maximum=100,
        )
    if st := _topic(cfg, "brightness_state_topic"):
        states.append(_state(st, cfg.get("brightness_value_template"), lambda v: _scaled(v, scale)))
    color = _default_color(cfg)
    if color:
        caps[COLOR] = color
    return caps, states, units


def _scaled(v: str, scale: float) -> dict[str, Any]:
    try:
        return {BRIGHTNESS: round(float(v) * 100 / scale)}
    except ValueError:
        return {}


def _default_color(cfg: dict[str, Any]) -> Capability | None:
    """Colour over the default schema's separate rgb/hs/xy/colour-temperature topics."""
    rgb_t, hs_t, xy_t = _topic(cfg, "rgb_command_topic"), _topic(cfg, "hs_command_topic"), _topic(cfg, "xy_command_topic")
    ct_t = _topic(cfg, "color_temp_command_topic")
    rgb_tpl = _template(cfg, "rgb_command_template", ("red", "green", "blue"))
    ct_tpl = _template(cfg, "color_temp_command_template", ("value",))
    kelvin = bool(cfg.get("color_temp_kelvin"))
    if not (rgb_t or hs_t or xy_t or ct_t):
        return None

    def encode(name: Any) -> list[Command]:
        rgb = COLORS[name]
        if ct_t and (name in WHITE_MIREDS or not (rgb_t or hs_t or xy_t)):
            mireds = clamp_mireds(WHITE_MIREDS.get(name, 300), cfg.get("min_mireds"), cfg.get("max_mireds"))
            value = round(1_000_000 / mireds) if kelvin else mireds
            return [Command(ct_t, _render(ct_tpl, str(value), value=value))]
        if rgb_t:
            return [Command(rgb_t, _render(rgb_tpl, ",".join(map(str, rgb)), red=rgb[0], green=rgb[1], blue=rgb[2]))]
        if hs_t:
            return [Command(hs_t, "{},{}".format(*rgb_to_hs(rgb)))]
        assert xy_t
        return [Command(xy_t, "{},{}".format(*rgb_to_xy(rgb)))]

    topics = tuple(t for t in (rgb_t, hs_t, xy_t, ct_t) if t)
    names = tuple(COLORS) if (rgb_t or hs_t or xy_t) else tuple(WHITE_MIREDS)
    return Capability(COLOR, encode, topics, names)


def _build_json_light(cfg: dict[str, Any]) -> Built:
    topic = _topic(cfg, "command_topic")
    caps: dict[str, Capability] = {}
    modes = [str(m) for m in cfg.get("supported_color_modes") or []]
    scale = float(cfg.get("brightness_scale", 255))
    kelvin = bool(cfg.get("color_temp_kelvin"))
    if topic:
        power = json_command(topic, lambda v: {"state": "ON" if v == "on" else "OFF"})
        caps[POWER] = Capability(POWER, power, (topic,), ("on", "off"))
        if cfg.get("brightness") or any(m != "onoff" for m in modes):
            caps[BRIGHTNESS] = Capability(
                BRIGHTNESS, json_command(topic, lambda v: {"state": "ON", "brightness": round(v * scale / 100)}),
                (topic,), minimum=0, maximum=100,
            )
        color_modes = [m for m in modes if m in ("rgb", "rgbw", "rgbww", "hs", "xy")]
        if color_modes or "color_temp" in modes:
            caps[COLOR] = Capability(COLOR, json_command(topic, lambda n: _json_color(n, color_modes, modes, kelvin, cfg)),
                                     (topic,), tuple(COLORS) if color_modes else tuple(WHITE_MIREDS))
    states = []
    if st := _topic(cfg, "state_topic"):
        states.append(StateTopic(st, lambda p: _json_light_state(p, scale)))
    return caps, states, {}


def _json_color(name: str, color_modes: list[str], modes: list[str], kelvin: bool, cfg: dict[str, Any]) -> dict[str, Any]:
    if "color_temp" in modes and (name in WHITE_MIREDS or not color_modes):
        mireds = clamp_mireds(WHITE_MIREDS.get(name, 300), cfg.get("min_mireds"), cfg.get("max_mireds"))
        return {"state": "ON", "color_temp": round(1_000_000 / mireds) if kelvin else mireds}
    rgb = COLORS[name]
    if "hs" in color_modes:
        h, s = rgb_to_hs(rgb)
        return {"state": "ON", "color": {"h": h, "s": s}}
    if "xy" in color_modes:
        x, y = rgb_to_xy(rgb)
        return {"state": "ON", "color": {"x": x, "y": y}}
    return {"state": "ON", "color": {"r": rgb[0], "g": rgb[1], "b": rgb[2]}}


def _json_light_state(payload: str, scale: float) -> dict[str, Any]:
    data = parse_json(payload)
    if not isinstance(data, dict):
        return {}
    out: dict[str, Any] = {}
    if data.get("state") in ("ON", "OFF"):
        out[POWER] = data["state"].lower()
    if isinstance(data.get("brightness"), (int, float)):
        out[BRIGHTNESS] = round(data["brightness"] * 100 / scale)
    if "color" in data or "color_temp" in data:
        out[COLOR] = data.get("color") or {"color_temp": data.get("color_temp")}
    return out


def build_cover(cfg: dict[str, Any]) -> Built:
    caps: dict[str, Capability] = {}
    cmd_t, pos_t = _topic(cfg, "command_topic"), _topic(cfg, "set_position_topic")
    p_open, p_close = cfg.get("payload_open", "OPEN"), cfg.get("payload_close", "CLOSE")
    lo, hi = float(cfg.get("position_closed", 0)), float(cfg.get("position_open", 100))
    tpl = _template(cfg, "set_position_template", ("position", "position_open", "position_closed"))

    def encode(p: Any) -> list[Command]:
        if pos_t:
            raw = round(lo + (hi - lo) * p / 100)
            return [Command(pos_t, _render(tpl, str(raw), position=raw, position_open=hi, position_closed=lo))]
        if cmd_t and p in (0, 100) and (p_open if p == 100 else p_close) is not None:
            return [Command(cmd_t, str(p_open if p == 100 else p_close))]
        raise ValueError("this cover only opens and closes")

    if pos_t:
        caps[POSITION] = Capability(POSITION, encode, (pos_t,), minimum=0, maximum=100, step=1)
    elif cmd_t and p_open is not None and p_close is not None:
        caps[POSITION] = Capability(POSITION, encode, (cmd_t,), minimum=0, maximum=100, step=100)
    states = []
    if pt := _topic(cfg, "position_topic"):
        states.append(_state(pt, cfg.get("position_template"), lambda v: _percent(v, lo, hi)))
    if st := _topic(cfg, "state_topic"):
        s_open, s_closed = str(cfg.get("state_open", "open")), str(cfg.get("state_closed", "closed"))
        states.append(_state(st, cfg.get("value_template"),
                             lambda v: {POSITION: 100} if v == s_open else {POSITION: 0} if v == s_closed else {}))
    return caps, states, {}


def _percent(v: str, lo: float, hi: float) -> dict[str, Any]:
    try:
        return {POSITION: round((float(v) - lo) * 100 / (hi - lo))} if hi != lo else {}
    except ValueError:
        return {}


def build_climate(cfg: dict[str, Any]) -> Built:
    caps: dict[str, Capability] = {}
    lo, hi, step = float(cfg.get("min_temp", 7)), float(cfg.get("max_temp", 35)), float(cfg.get("temp_step", 0.5))
    if t := _topic(cfg, "temperature_command_topic"):
        tpl = _template(cfg, "temperature_command_template", ("value",))
        caps[SETPOINT] = Capability(SETPOINT, _templated(t, tpl, _fmt), (t,), minimum=lo, maximum=hi, step=step)
    if m := _topic(cfg, "mode_command_topic"):
        mtpl = _template(cfg, "mode_command_template", ("value",))
        modes = tuple(str(x) for x in cfg.get("modes") or CLIMATE_MODES)
        caps[MODE] = Capability(MODE, _templated(m, mtpl, str), (m,), modes)
    states = []
    if st := _topic(cfg, "temperature_state_topic"):
        states.append(_state(st, cfg.get("temperature_state_template"), lambda v: _number(SETPOINT, v)))
    if st := _topic(cfg, "mode_state_topic"):
        states.append(_state(st, cfg.get("mode_state_template"), lambda v: {MODE: v} if v else {}))
    if st := _topic(cfg, "current_temperature_topic"):
        states.append(_state(st, cfg.get("current_temperature_template"), lambda v: _number("temperature", v)))
    return caps, states, {"temperature": "degrees", SETPOINT: "degrees"}


def _templated(topic: str, tpl: Renderer | None, fmt: Callable[[Any], str]) -> Callable[[Any], list[Command]]:
    return lambda v: [Command(topic, _render(tpl, fmt(v), value=v))]


def _number(key: str, v: str) -> dict[str, Any]:
    try:
        return {key: float(v)}
    except ValueError:
        return {}


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def build_lock(cfg: dict[str, Any]) -> Built:
    if cfg.get("code_format"):
        raise Unsupported("this lock needs a code")
    caps: dict[str, Capability] = {}
    if topic := _topic(cfg, "command_topic"):
        p_lock, p_unlock = str(cfg.get("payload_lock", "LOCK")), str(cfg.get("payload_unlock", "UNLOCK"))
        tpl = _template(cfg, "command_template", ("value",))

        def encode(v: Any) -> list[Command]:
            payload = p_lock if v == "locked" else p_unlock
            return [Command(topic, _render(tpl, payload, value=payload))]

        caps[LOCK] = Capability(LOCK, encode, (topic,), ("locked", "unlocked"))
    states = []
    if st := _topic(cfg, "state_topic"):
        names = {str(cfg.get(f"state_{s}", s.upper())): s for s in ("locked", "unlocked", "locking", "unlocking", "jammed")}
        states.append(_state(st, cfg.get("value_template"), lambda v: {LOCK: names[v]} if v in names else {}))
    return caps, states, {}


def build_alarm(cfg: dict[str, Any]) -> Built:
    if cfg.get("code"):
        raise Unsupported("this alarm panel needs a code")
    caps: dict[str, Capability] = {}
    if topic := _topic(cfg, "command_topic"):
        payloads = {
            "armed_home": cfg.get("payload_arm_home", "ARM_HOME"), "armed_away": cfg.get("payload_arm_away", "ARM_AWAY"),
            "armed_night": cfg.get("payload_arm_night", "ARM_NIGHT"), "disarmed": cfg.get("payload_disarm", "DISARM"),
        }
        tpl = _template(cfg, "command_template", ("action",))
        caps[ALARM] = Capability(
            ALARM, lambda v: [Command(topic, _render(tpl, str(payloads[v]), action=payloads[v]))], (topic,), ALARM_STATES
        )
    states = []
    if st := _topic(cfg, "state_topic"):
        states.append(_state(st, cfg.get("value_template"), lambda v: {ALARM: v} if v else {}))
    return caps, states, {}


def build_fan(cfg: dict[str, Any]) -> Built:
    return build_switch(cfg)


def build_sensor(cfg: dict[str, Any], binary: bool = False) -> Built:
    key = str(cfg.get("device_class") or "value")
    states = []
    if st := _topic(cfg, "state_topic"):
        on, off = str(cfg.get("payload_on", "ON")), str(cfg.get("payload_off", "OFF"))
        if binary:
            states.append(_state(st, cfg.get("value_template"), lambda v: {key: "on" if v == on else "off" if v == off else v}))
        else:
            states.append(_state(st, cfg.get("value_template"), lambda v: {key: v}))
    unit = cfg.get("unit_of_measurement")
    return {}, states, {key: str(unit)} if unit else {}


BUILDERS: dict[str, tuple[str, Callable[[dict[str, Any]], Built]]] = {
    "light": ("light", build_light),
    "switch": ("switch", build_switch),
    "fan": ("fan", build_fan),
    "cover": ("cover", build_cover),
    "climate": ("climate", build_climate),
    "lock": ("lock", build_lock),
    "alarm_control_panel": ("alarm", build_alarm),
    "sensor": ("sensor", build_sensor),
    "binary_sensor": ("sensor", lambda cfg: build_sensor(cfg, binary=True)),
}
