"""The normalised device model every discovery source produces, and nothing else.

A :class:`Device` is one controllable or readable thing (a light, a plug relay, a thermostat).
Its :class:`Capability` objects are the only way a command is ever built: each one turns a
validated value into :class:`Command` objects whose topics came from discovery, never from
the model. State topics map raw payloads to normalised attributes (``power`` "on"/"off",
``brightness`` 0-100, ``position`` 0-100, ``setpoint``, ``mode``, ``lock``, ``alarm``, readings).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant.home.limits import MAX_DEPTH, json_depth

# Capability names, one per kind of absolute command the tools can express.
POWER, BRIGHTNESS, COLOR, POSITION, SETPOINT, MODE, LOCK, ALARM = (
    "power", "brightness", "color", "position", "setpoint", "mode", "lock", "alarm",
)
KINDS = ("light", "switch", "fan", "cover", "climate", "lock", "alarm", "sensor")
WILDCARDS = ("+", "#", "\0")


MALFORMED = (TypeError, ValueError, KeyError, AttributeError, IndexError)  # what a bad discovery payload raises


class Unsupported(ValueError):
    """An entity the assistant will list but not control; the message says why, in a few words."""


@dataclass(frozen=True)
class Command:
    """One MQTT publish: always QoS 1, never retained."""

    topic: str
    payload: str


Encoder = Callable[[Any], list[Command]]
StateParser = Callable[[str], dict[str, Any]]
AvailabilityParser = Callable[[str], "bool | None"]


@dataclass(frozen=True)
class Capability:
    """A settable feature. ``values`` is a closed set (enums); numbers use minimum..maximum."""

    name: str
    encode: Encoder = field(compare=False, repr=False)
    topics: tuple[str, ...] = ()  # every topic ``encode`` may publish to, all from discovery
    values: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None


@dataclass(frozen=True)
class StateTopic:
    topic: str
    parse: StateParser = field(compare=False, repr=False)


@dataclass(frozen=True)
class AvailabilityTopic:
    topic: str
    parse: AvailabilityParser = field(compare=False, repr=False)


@dataclass
class Device:
    """One entity as the assistant sees it, whatever protocol announced it."""

    key: str  # stable id, e.g. "zigbee2mqtt:0x00158d0001a2b3c4", "homeassistant:<unique_id>", "tasmota:A0B1C2:1"
    name: str
    kind: str
    source: str
    area: str = ""
    aliases: tuple[str, ...] = ()
    capabilities: dict[str, Capability] = field(default_factory=dict)
    state_topics: tuple[StateTopic, ...] = ()
    availability: tuple[AvailabilityTopic, ...] = ()
    availability_mode: str = "latest"  # all | any | latest
    sensitive: bool = False
    hidden: bool = False
    unsupported: str = ""  # why no actions are offered, for the listing
    units: dict[str, str] = field(default_factory=dict)  # reading -> unit
    links: tuple[str, ...] = ()  # identifiers shared with other sources (dedup)
    id: str = ""  # the short enumerated id the model uses, assigned by the registry

    def command_topics(self) -> set[str]:
        """Every topic this device may publish to: the union of its capabilities' declared topics."""
        return {t for cap in self.capabilities.values() for t in cap.topics}

    def actions(self) -> list[str]:
        """Human-readable capability list for ``assistant devices mqtt``."""
        out = []
        for cap in self.capabilities.values():
            if cap.values:
                out.append(f"{cap.name}({'/'.join(cap.values)})")
            elif cap.minimum is not None:
                out.append(f"{cap.name}({_num(cap.minimum)}-{_num(cap.maximum)})")
            else:
                out.append(cap.name)
        if self.state_topics:
            out.append("read")
        return out


def valid_topic(topic: Any) -> bool:
    """A concrete publish topic: a non-empty string without wildcards or NUL."""
    return isinstance(topic, str) and bool(topic) and not any(w in topic for w in WILDCARDS) and len(topic) < 65535


def json_command(topic: str, build: Callable[[Any], dict[str, Any]]) -> Encoder:
    """An encoder publishing ``json.dumps(build(value))`` to one topic."""
    return lambda value: [Command(topic, json.dumps(build(value), separators=(",", ":")))]


def plain_command(topic: str, render: Callable[[Any], str]) -> Encoder:
    return lambda value: [Command(topic, render(value))]


def parse_json(payload: str) -> Any:
    """The JSON value, or None when it does not parse or nests deeper than ``limits.MAX_DEPTH``."""
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError, MemoryError):
        return None
    if payload.count("[") + payload.count("{") <= MAX_DEPTH:  # cannot nest deeper: skip the walk
        return data
    return None if json_depth(data) > MAX_DEPTH else data


def online_parser(online: str = "online", offline: str = "offline") -> AvailabilityParser:
    """Plain-string availability (``online``/``offline``) or the z2m JSON form ``{"state": ...}``."""

    def parse(payload: str) -> bool | None:
        text = payload.strip()
        data = parse_json(text) if text.startswith("{") else None
        if isinstance(data, dict):
            text = str(data.get("state", ""))
        if text == online:
            return True
        if text == offline:
            return False
        return None

    return parse


def _num(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else str(x)
