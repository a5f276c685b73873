"""Room by default: "turn on the light" means the light in the room the assistant stands in (``mqtt.area``).

For each kind of device in this room, a room word (``light``, ``switch``, ``fan``, ``blinds``,
``heating``) joins the ``device`` enum of the tools that kind can use, first, so the grammar offers
this room's devices first and the model can say ``device:"light"`` when the user named no room.
The bus resolves the word to this room's devices of that kind before validation (every one of them:
"the light" in a room with two lamps switches both). A device named in the request ("the kitchen
light") keeps its own id, so a named room always wins. Sensitive kinds (locks, alarms) get no word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assistant.home.model import Device
from assistant.home.registry import squash
from assistant.home.tools import eligible
from assistant.protocols import ToolCall

ROOM_WORDS = {"light": "light", "switch": "switch", "fan": "fan", "cover": "blinds", "climate": "heating"}


def in_room(device: Device, area: str) -> bool:
    return bool(area) and squash(device.area) == squash(area)


def room_first(devices: Sequence[Device], area: str) -> list[Device]:
    """``devices`` with this room's first (otherwise in the same order)."""
    return sorted(devices, key=lambda d: not in_room(d, area))


def room_words(devices: Sequence[Device], area: str) -> dict[str, list[Device]]:
    """Room word -> this room's visible devices of that kind (words that are a real device id are left out)."""
    ids = {d.id for d in devices}
    words: dict[str, list[Device]] = {}
    for d in devices:
        word = ROOM_WORDS.get(d.kind)
        if word and word not in ids and in_room(d, area) and not d.sensitive and not d.hidden:
            words.setdefault(word, []).append(d)
    return words


def with_room_words(schema: dict[str, dict[str, Any]], devices: Sequence[Device], area: str) -> dict[str, dict[str, Any]]:
    """``schema`` (``tools.tool_schema`` shape) with the room words first in each tool's device enum."""
    words = room_words(devices, area)
    if not words:
        return schema
    out = {}
    for tool, spec in schema.items():
        enum = spec.get("arguments", {}).get("device", {}).get("enum")
        usable = [w for w, ds in words.items() if enum is not None and any(eligible(tool, d) and d.id in enum for d in ds)]
        if not usable:
            out[tool] = spec
            continue
        arguments = {**spec["arguments"], "device": {**spec["arguments"]["device"], "enum": [*usable, *enum]}}
        per_device = dict(spec.get("per_device", {}))
        for w in usable:
            targets = [d for d in words[w] if eligible(tool, d)]
            if len(targets) == 1 and targets[0].id in per_device:
                per_device[w] = per_device[targets[0].id]
        out[tool] = {**spec, "arguments": arguments, "per_device": per_device}
    return out


def describe_words(devices: Sequence[Device], area: str) -> str:
    """For the ``device`` description: ``light=this room's light`` ..."""
    return "; ".join(f"{w}=the {w} in this room ({area})" for w in room_words(devices, area))


def resolve(call: ToolCall, devices: Sequence[Device], area: str) -> list[ToolCall]:
    """The call as calls on real devices: a room word becomes one call per device of this room it names
    (those the tool can use); any other call is returned as it is. [] when the room has none."""
    args = call.arguments
    word = args.get("device") if isinstance(args, Mapping) else None
    if call.error or not isinstance(word, str):
        return [call]
    targets = room_words(devices, area).get(word)
    if targets is None:
        return [call]
    return [ToolCall(call.name, {**args, "device": d.id}, call.raw) for d in targets if eligible(call.name, d)]
