"""Every tool call is checked here before anything is sent: known device, settable capability, value in range.

:func:`validate` returns an :class:`Action` whose commands were built by the device's own encoders
(so their topics come from discovery), or raises :class:`Refusal` with a short spoken reason.
Nothing the model writes ever becomes a topic; argument text is only compared with closed sets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from assistant.home.model import ALARM, BRIGHTNESS, COLOR, LOCK, MODE, POSITION, POWER, SETPOINT, Command, Device, valid_topic
from assistant.home.registry import Registry, squash
from assistant.home.tools import GET_STATE, TOOLS, eligible
from assistant.home.topicguard import TopicGuard
from assistant.protocols import ToolCall

log = logging.getLogger("assistant.home")
STEP = 25  # "brighter"/"dimmer" change, in percent
MAX_PAYLOAD = 1024


class Refusal(Exception):
    """A tool call that will not be executed; ``str()`` is the spoken reason."""


@dataclass(frozen=True)
class Action:
    tool: str
    device: Device
    commands: tuple[Command, ...]
    expect: Callable[[dict[str, Any]], bool]
    summary: str  # "unlock the front door", used in questions and the last-action sensor


def speakable(value: Any, limit: int = 40) -> str:
    """Model text made safe to say back: letters, digits and spaces only, truncated."""
    text = re.sub(r"[^A-Za-z0-9 ]+", " ", str(value).replace("_", " "))
    return " ".join(text.split())[:limit] or "that"


def validate(call: ToolCall, registry: Registry) -> Action | Device:
    """An Action to perform, or for ``get_state`` the Device to describe; else raise Refusal."""
    if call.error:
        raise Refusal("Sorry, I didn't understand that command.")
    if not isinstance(call.name, str) or call.name not in TOOLS:
        raise Refusal("I can't do that.")
    args = call.arguments
    if not isinstance(args, Mapping) or not all(isinstance(k, str) for k in args):
        raise Refusal("Sorry, I didn't understand that command.")
    allowed = {"device", *TOOLS[call.name][2]}
    if set(args) - allowed:
        raise Refusal("Sorry, that command had something I don't understand.")
    device = registry.get(args.get("device"))
    if device is None:
        raise Refusal(f"There is no device called {speakable(args.get('device', ''))}.")
    if not eligible(call.name, device):
        raise Refusal(f"The {device.name} can't do that." if call.name != GET_STATE else f"I can't read the {device.name}.")
    if call.name == GET_STATE:
        return device
    action = _BUILDERS[call.name](device, args, registry)
    _guard(action, getattr(registry, "guard", None))
    return action


def _guard(action: Action, guard: TopicGuard | None = None) -> None:
    """Last line of defence: only this device's discovered command topics, plain short payloads."""
    allowed = action.device.command_topics()
    for c in action.commands:
        if c.topic not in allowed or not valid_topic(c.topic) or not isinstance(c.payload, str) or len(c.payload) > MAX_PAYLOAD \
                or (guard is not None and guard.refused(c.topic)):
            log.error("refused to publish %r to %r: not a command topic of %s", str(c.payload)[:80], c.topic[:200],
                      action.device.key)
            raise Refusal("I can't do that.")


def _enum(value: Any, allowed: tuple[str, ...] | list[str], what: str, device: Device) -> str:
    if isinstance(value, str):
        for option in allowed:
            if squash(option) == squash(value) and squash(value):
                return option
    raise Refusal(f"The {device.name} can't be set to {speakable(value)}." if value is not None else f"Which {what}?")


def _number(value: Any, what: str) -> float:
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,4}(\.\d{1,3})?", value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise Refusal(f"Sorry, I didn't get the {what}.")
    return float(value)


def _in_range(value: float, lo: float | None, hi: float | None, device: Device, unit: str) -> None:
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise Refusal(f"The {device.name} only goes from {_fmt(lo)} to {_fmt(hi)}{unit}.")


def _fmt(x: float | None) -> str:
    return "?" if x is None else str(int(x)) if float(x).is_integer() else str(x)


def _encode(device: Device, cap: str, value: Any) -> tuple[Command, ...]:
    try:
        return tuple(device.capabilities[cap].encode(value))
    except ValueError as err:
        raise Refusal(f"The {device.name} {err}.".replace(" this cover", "")) from None


def _power(d: Device, args: Mapping[str, Any], _r: Registry) -> Action:
    state = _enum(args.get("state"), ("on", "off"), "state", d)
    return Action("set_power", d, _encode(d, POWER, state), lambda s: s.get(POWER) == state, f"turn {state} the {d.name}")


def _brightness(d: Device, args: Mapping[str, Any], registry: Registry) -> Action:
    if ("percent" in args) == ("change" in args):
        raise Refusal(f"How bright should the {d.name} be?")
    if "change" in args:
        change = _enum(args["change"], ("up", "down"), "change", d)
        state = registry.state(d)
        current = 0 if state.get(POWER) == "off" else state.get(BRIGHTNESS)
        if not isinstance(current, (int, float)):
            raise Refusal(f"I don't know how bright the {d.name} is.")
        target = min(100, current + STEP) if change == "up" else max(0, current - STEP)
    else:
        target = _number(args["percent"], "brightness")
        _in_range(target, 0, 100, d, " percent")
    target = round(target)
    if target == 0 and POWER in d.capabilities:
        return Action("set_brightness", d, _encode(d, POWER, "off"), lambda s: s.get(POWER) == "off", f"turn off the {d.name}")
    return Action("set_brightness", d, _encode(d, BRIGHTNESS, target),
                  lambda s: isinstance(s.get(BRIGHTNESS), (int, float)) and abs(s[BRIGHTNESS] - target) <= 3,
                  f"set the {d.name} to {target} percent")


def _color(d: Device, args: Mapping[str, Any], _r: Registry) -> Action:
    color = _enum(args.get("color"), d.capabilities[COLOR].values, "colour", d)
    return Action("set_color", d, _encode(d, COLOR, color), lambda s: COLOR in s or s.get(POWER) == "on",
                  f"make the {d.name} {color}")


def _cover(d: Device, args: Mapping[str, Any], _r: Registry) -> Action:
    position = round(_number(args.get("position"), "position"))
    _in_range(position, 0, 100, d, " percent")
    word = {100: "open", 0: "close"}.get(position, f"set to {position} percent")
    return Action("set_cover", d, _encode(d, POSITION, position), lambda s: POSITION in s, f"{word} the {d.name}")


def _climate(d: Device, args: Mapping[str, Any], _r: Registry) -> Action:
    if "temperature" not in args and "mode" not in args:
        raise Refusal(f"What should I set the {d.name} to?")
    commands: list[Command] = []
    checks: list[Callable[[dict[str, Any]], bool]] = []
    parts = []
    if "temperature" in args:
        cap = d.capabilities.get(SETPOINT)
        if cap is None:
            raise Refusal(f"The {d.name} has no temperature setting.")
        value = _number(args["temperature"], "temperature")
        _in_range(value, cap.minimum, cap.maximum, d, " degrees")
        step = cap.step or 0.5
        value = round(round(value / step) * step, 2)
        target = int(value) if value.is_integer() else value
        commands += _encode(d, SETPOINT, target)
        checks.append(lambda s: isinstance(s.get(SETPOINT), (int, float)) and abs(s[SETPOINT] - target) < step / 2 + 0.01)
        parts.append(f"{_fmt(target)} degrees")
    if "mode" in args:
        if MODE not in d.capabilities:
            raise Refusal(f"The {d.name} has no modes.")
        mode = _enum(args["mode"], d.capabilities[MODE].values, "mode", d)
        commands += _encode(d, MODE, mode)
        checks.append(lambda s: s.get(MODE) == mode)
        parts.append(f"{mode.replace('_', ' ')} mode")
    return Action("set_climate", d, tuple(commands), lambda s: any(c(s) for c in checks),
                  f"set the {d.name} to {' and '.join(parts)}")


def _lock(d: Device, args: Mapping[str, Any], _r: Registry) -> Action:
    state = _enum(args.get("state"), ("locked", "unlocked"), "state", d)
    moving = "locking" if state == "locked" else "unlocking"
    return Action("set_lock", d, _encode(d, LOCK, state), lambda s: s.get(LOCK) in (state, moving),
                  f"{'lock' if state == 'locked' else 'unlock'} the {d.name}")


def _alarm(d: Device, args: Mapping[str, Any], _r: Registry) -> Action:
    state = _enum(args.get("state"), d.capabilities[ALARM].values, "state", d)
    word = "disarm" if state == "disarmed" else f"arm ({state.split('_', 1)[1]})"
    return Action("set_alarm", d, _encode(d, ALARM, state), lambda s: s.get(ALARM) in (state, "arming", "pending"),
                  f"{word} the {d.name}")


_BUILDERS: dict[str, Callable[[Device, Mapping[str, Any], Registry], Action]] = {
    "set_power": _power, "set_brightness": _brightness, "set_color": _color, "set_cover": _cover,
    "set_climate": _climate, "set_lock": _lock, "set_alarm": _alarm,
}
