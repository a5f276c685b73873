"""Short spoken sentences about a device's last known state."""

from __future__ import annotations

from typing import Any

from assistant.home.model import ALARM, BRIGHTNESS, LOCK, MODE, POSITION, POWER, SETPOINT, Device

UNITS = {"°C": "degrees", "°F": "degrees", "%": "percent", "C": "degrees", "lx": "lux", "W": "watts", "V": "volts"}
FIRST = ("temperature", "humidity", "power", "illuminance", "occupancy", "contact", "pressure", "co2", "energy")
SKIP = {"linkquality", "update", "update_available", "color", "color_mode", "color_temp", "last_seen"}


def describe(device: Device, state: dict[str, Any], available: bool | None) -> str:
    name = f"The {device.name}"
    if available is False:
        return f"{name} is offline."
    if not state:
        return f"I don't know the state of the {device.name} yet."
    kind = device.kind
    if kind == "light" and state.get(POWER) == "on" and isinstance(state.get(BRIGHTNESS), (int, float)):
        return f"{name} is on at {round(state[BRIGHTNESS])} percent."
    if POWER in state and kind in ("light", "switch", "fan"):
        return f"{name} is {state[POWER]}."
    if kind == "cover" and isinstance(state.get(POSITION), (int, float)):
        p = round(state[POSITION])
        return f"{name} is {'open' if p >= 100 else 'closed' if p <= 0 else f'{p} percent open'}."
    if kind == "lock" and LOCK in state:
        return f"{name} is {state[LOCK]}."
    if kind == "alarm" and ALARM in state:
        return f"{name} is {str(state[ALARM]).replace('_', ' ')}."
    if kind == "climate":
        parts = []
        if SETPOINT in state:
            parts.append(f"set to {_num(state[SETPOINT])} degrees")
        if state.get(MODE):
            parts.append(f"in {str(state[MODE]).replace('_', ' ')} mode")
        now = _num(state["temperature"]) if "temperature" in state else None
        if not parts:
            return f"{name} reads {now} degrees." if now else f"I don't know the state of the {device.name} yet."
        text = f"{name} is {' '.join(parts)}"
        if now:
            text += f", and it is {now} degrees"
        return text + "."
    readings = sorted(((k, v) for k, v in state.items() if k not in SKIP and not isinstance(v, (dict, list))),
                      key=lambda kv: FIRST.index(kv[0]) if kv[0] in FIRST else 99 if kv[0] == "battery" else 50)
    if not readings:
        return f"I don't know the state of the {device.name} yet."
    said = [f"{k.replace('_', ' ')} {_num(v)} {UNITS.get(device.units.get(k, ''), device.units.get(k, ''))}".strip()
            for k, v in readings[:3]]
    if len(readings) == 1 and readings[0][0] in ("value", device.kind):
        return f"{name} reads {said[0].split(' ', 1)[1]}."
    return f"{name}: {', '.join(said)}."


def _num(v: Any) -> str:
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.1f}".rstrip("0").rstrip(".")
    return str(v)
