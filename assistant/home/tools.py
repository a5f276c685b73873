"""Tool declarations for the model, built from the registry, and the device selection for large homes.

A few compact functions whose ``device`` argument is an enum of short ids, so a common command
is ~10 generated tokens: ``set_power(device, state)``, ``set_brightness(device, percent|change)``,
``set_color(device, color)``, ``set_cover(device, position)``, ``set_climate(device, temperature|mode)``,
``set_lock(device, state)``, ``set_alarm(device, state)``, ``get_state(device)`` and ``confirm(answer)``.

Selection: when the home has more devices than ``limit``, devices are ranked by how well the
utterance hint matches their name, aliases, area and kind words (exact word hits first, then
fuzzy hits for mis-hearings), then by the assistant's own area, then by recent use; the best
``limit`` are offered. With an empty hint and a small home every device is offered.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from assistant.home.colors import COLORS
from assistant.home.model import ALARM, BRIGHTNESS, COLOR, LOCK, MODE, POSITION, POWER, SETPOINT, Device
from assistant.home.registry import squash

CONFIRM = "confirm"
GET_STATE = "get_state"
# tool -> (capabilities that qualify a device, description, argument schemas, required arguments)
TOOLS: dict[str, tuple[tuple[str, ...], str, dict[str, dict[str, Any]], tuple[str, ...]]] = {
    "set_power": ((POWER,), "Switch a device on or off.",
                  {"state": {"type": "string", "enum": ["on", "off"]}}, ("state",)),
    "set_brightness": ((BRIGHTNESS,), "Set a light's brightness in percent, or change it up or down.",
                       {"percent": {"type": "integer", "minimum": 0, "maximum": 100},
                        "change": {"type": "string", "enum": ["up", "down"]}}, ()),
    "set_color": ((COLOR,), "Set a light's colour.", {"color": {"type": "string", "enum": list(COLORS)}}, ("color",)),
    "set_cover": ((POSITION,), "Set a blind, curtain, shutter or garage door: 100 open, 0 closed.",
                  {"position": {"type": "integer", "minimum": 0, "maximum": 100}}, ("position",)),
    "set_climate": ((SETPOINT, MODE), "Set a thermostat's target temperature in degrees and/or its mode.",
                    {"temperature": {"type": "number"}, "mode": {"type": "string", "enum": []}}, ()),
    "set_lock": ((LOCK,), "Lock or unlock a lock.", {"state": {"type": "string", "enum": ["locked", "unlocked"]}}, ("state",)),
    "set_alarm": ((ALARM,), "Arm or disarm an alarm panel.",
                  {"state": {"type": "string", "enum": ["armed_home", "armed_away", "armed_night", "disarmed"]}}, ("state",)),
    GET_STATE: ((), "Tell the current state of a device or sensor.", {}, ()),
}
# Arguments of which a call may carry at most one (a grammar enforces it; the validator refuses both).
EXCLUSIVE: dict[str, tuple[tuple[str, ...], ...]] = {"set_brightness": (("percent", "change"),)}
TOOL_ARGUMENT = {tool: caps for tool, (caps, *_rest) in TOOLS.items()}
KIND_WORDS = {
    "light": "light lights lamp lamps bulb", "switch": "switch plug socket outlet power", "fan": "fan",
    "cover": "blind blinds curtain curtains shade shades shutter shutters cover garage door open close",
    "climate": "heating heater thermostat temperature warm warmer cold colder cool degrees",
    "lock": "lock door unlock", "alarm": "alarm arm disarm security", "sensor": "temperature humidity sensor",
}
TOOL_WORDS = {"set_brightness": "brighter dimmer dim brightness", "set_color": "colour color " + " ".join(COLORS)}


def eligible(tool: str, device: Device) -> bool:
    if tool == GET_STATE:
        return bool(device.state_topics)
    return not device.unsupported and any(c in device.capabilities for c in TOOLS[tool][0])


def tool_schema(devices: Sequence[Device], confirm: bool | None = None) -> dict[str, dict[str, Any]]:
    """Per tool: description, argument schemas with closed sets, required names and per-device narrowing.

    ``per_device[id][arg]`` gives the stricter constraint for that device (its modes, its colour set,
    its temperature range, or positions 0/100 only). A grammar builder can use either level.
    ``confirm``: offer the confirm tool (None = when a sensitive device is offered).
    """
    schema: dict[str, dict[str, Any]] = {}
    for tool, (_caps, description, args, required) in TOOLS.items():
        ids = [d.id for d in devices if eligible(tool, d)]
        if not ids:
            continue
        arguments = {"device": {"type": "string", "enum": ids}, **{k: dict(v) for k, v in args.items()}}
        per_device = {d.id: _narrow(tool, d) for d in devices if d.id in ids}
        if tool == "set_climate":
            modes = sorted({m for d in devices if d.id in ids for m in per_device[d.id].get("mode", {}).get("enum", [])})
            temps = [per_device[i]["temperature"] for i in ids if "temperature" in per_device[i]]
            if modes:
                arguments["mode"]["enum"] = modes
            else:
                del arguments["mode"]
            if temps:
                arguments["temperature"].update(minimum=min(t["minimum"] for t in temps),
                                                maximum=max(t["maximum"] for t in temps))
            else:
                del arguments["temperature"]
        if tool == "set_color":
            arguments["color"]["enum"] = [c for c in COLORS if any(c in per_device[i]["color"]["enum"] for i in ids)]
        schema[tool] = {"description": description, "arguments": arguments, "required": ["device", *required],
                        "per_device": {k: v for k, v in per_device.items() if v}}
        if tool in EXCLUSIVE:
            schema[tool]["exclusive"] = [list(group) for group in EXCLUSIVE[tool]]
    if confirm is None:
        confirm = any(d.sensitive and any(eligible(t, d) for t in TOOLS if t != GET_STATE) for d in devices)
    if confirm:
        schema[CONFIRM] = {"description": "Answer a question I asked to confirm an action.",
                           "arguments": {"answer": {"type": "string", "enum": ["yes", "no"]}},
                           "required": ["answer"], "per_device": {}}
    return schema


def _narrow(tool: str, d: Device) -> dict[str, Any]:
    caps = d.capabilities
    if tool == "set_color":
        return {"color": {"enum": list(caps[COLOR].values)}}
    if tool == "set_cover" and caps[POSITION].step == 100:
        return {"position": {"enum": [0, 100]}}
    if tool == "set_climate":
        out: dict[str, Any] = {}
        if SETPOINT in caps:
            c = caps[SETPOINT]
            out["temperature"] = {"minimum": c.minimum, "maximum": c.maximum, "step": c.step}
        if MODE in caps:
            out["mode"] = {"enum": list(caps[MODE].values)}
        return out
    return {}


def declarations(schema: dict[str, dict[str, Any]], devices: Sequence[Device]) -> list[dict[str, Any]]:
    """OpenAI function-shaped tool list (what Gemma's chat template renders)."""
    aliases = "; ".join(f"{a}={d.id}" for d in devices for a in d.aliases)
    out = []
    for name, tool in schema.items():
        props = {k: {kk: vv for kk, vv in v.items()} for k, v in tool["arguments"].items()}
        if "device" in props and aliases:
            props["device"]["description"] = f"Device id (aliases: {aliases})"
        out.append({"type": "function", "function": {
            "name": name, "description": tool["description"],
            "parameters": {"type": "object", "properties": props, "required": tool["required"]},
        }})
    return out


def _words(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


def relevance(device: Device, hint_words: Iterable[str], home_area: str = "") -> float:
    """Score of a device for an utterance: exact word hits count 1, close (mis-heard) words 0.5."""
    vocab = set(_words(" ".join([device.name, device.area, device.id, *device.aliases, KIND_WORDS.get(device.kind, "")])))
    for tool, words in TOOL_WORDS.items():
        if eligible(tool, device):
            vocab.update(_words(words))
    score = 0.0
    for w in hint_words:
        if w in vocab:
            score += 1
        elif len(w) > 3 and difflib.get_close_matches(w, vocab, n=1, cutoff=0.8):
            score += 0.5
    if home_area and squash(device.area) == squash(home_area):
        score += 0.25
    return score


def select(devices: Sequence[Device], hint: str, limit: int, home_area: str = "", recent: Sequence[str] = ()) -> list[Device]:
    """The devices to offer for this utterance (all of them when there are at most ``limit``)."""
    if len(devices) <= limit:
        return list(devices)
    words = _words(hint)
    rank = {key: i for i, key in enumerate(reversed(recent))}

    def key(d: Device) -> tuple[float, int, str]:
        return (-relevance(d, words, home_area), rank.get(d.key, len(rank)), d.id)

    return sorted(sorted(devices, key=key)[:limit], key=lambda d: d.id)
