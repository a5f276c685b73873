"""Bounds on everything the broker hands the assistant: sizes, names, counts and nesting.

Discovery configs, state messages and the overrides file come from outside; a retained message of any
size or shape must not change what a turn does for the other devices. What is too long is truncated
(names, aliases, areas, notes) or refused (payloads, topics, stable ids, devices beyond the count), each
time with one warning that names the topic, rate-limited by :class:`TopicWarnings`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.home.model import Device

log = logging.getLogger("assistant.home")

MAX_PAYLOAD = 256 * 1024  # one discovery config or state message
MAX_BRIDGE_PAYLOAD = 16 * 1024 * 1024  # zigbee2mqtt's bridge/devices lists a whole network in one message
MAX_TOPIC = 512  # characters in a discovered or received topic
MAX_DEPTH = 32  # JSON nesting of any payload
MAX_NAME = 64  # characters of a name, alias or area
MAX_ALIASES = 8
MAX_KEY = 200  # characters of a stable id ("homeassistant:<unique_id>")
MAX_NOTE = 120  # characters of an "unsupported" reason or a unit
MAX_VALUES = 32  # values of one closed set a device announces (climate modes, ...)
MAX_VALUE = 40  # characters of one such value
MAX_UNITS = 32
MAX_DEVICES = 20000  # devices in the registry; the discovery topics beyond are refused

SAFE_VALUE = re.compile(r"[A-Za-z0-9_ .:+/-]+")  # a closed-set value the grammar and tokenizer take verbatim
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def clip(text: Any, limit: int) -> str:
    """``text`` as a one-line string of at most ``limit`` characters (control characters become spaces)."""
    value = str(text)[: limit * 4]
    return " ".join(_CONTROL.sub(" ", value).split())[:limit].rstrip()


def json_depth(data: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of parsed JSON (a scalar is 0), counted iteratively; stops counting past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((v, depth) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


class TopicWarnings:
    """One warning per topic and kind of problem, and at most ``burst`` per ``interval_s`` overall.

    The first warning after a quiet spell says how many were held back; remembered topics are
    forgotten past ``remember`` so a flood of distinct topics cannot grow memory.
    """

    def __init__(self, logger: logging.Logger = log, burst: int = 5, interval_s: float = 60.0,
                 remember: int = 10000, clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._burst = burst
        self._interval = interval_s
        self._remember = remember
        self._clock = clock
        self._seen: set[tuple[str, str]] = set()
        self._window_start = float("-inf")
        self._in_window = 0
        self._held = 0

    def warn(self, topic: str, message: str, *args: object) -> bool:
        """Log ``message % args`` (prefixed with the topic) unless already said for this topic; True if logged."""
        key = (topic[:MAX_TOPIC], message)
        if key in self._seen:
            return False
        if len(self._seen) >= self._remember:
            self._seen.clear()
        self._seen.add(key)
        now = self._clock()
        if now - self._window_start >= self._interval:
            self._window_start, self._in_window = now, 0
        if self._in_window >= self._burst:
            self._held += 1
            return False
        self._in_window += 1
        held, self._held = self._held, 0
        suffix = f" ({held} similar warning(s) held back)" if held else ""
        self._logger.warning("%s: " + message + suffix, clip(topic, MAX_TOPIC), *args)
        return True


def payload_limit(topic: str, bridge_topics: tuple[str, ...]) -> int:
    return MAX_BRIDGE_PAYLOAD if topic in bridge_topics else MAX_PAYLOAD


def bounded_device(device: Device, topic: str, warnings: TopicWarnings) -> Device | None:
    """``device`` with every announced string within bounds, or None (with a warning) when it cannot be kept."""
    if len(device.key) > MAX_KEY:
        warnings.warn(topic, "refused a device whose stable id has %d characters (at most %d)", len(device.key), MAX_KEY)
        return None
    topics = [s.topic for s in device.state_topics] + [a.topic for a in device.availability] + sorted(device.command_topics())
    if any(len(t) > MAX_TOPIC for t in topics):
        warnings.warn(topic, "refused device '%s': a topic longer than %d characters", clip(device.name, MAX_NAME), MAX_TOPIC)
        return None
    name = clip(device.name, MAX_NAME) or clip(device.key.split(":", 1)[-1], MAX_NAME) or device.kind
    if len(device.name) > MAX_NAME or len(device.aliases) > MAX_ALIASES or len(device.area) > MAX_NAME:
        warnings.warn(topic, "truncated the name, aliases or area of '%s' (at most %d characters, %d aliases)",
                      name, MAX_NAME, MAX_ALIASES)
    capabilities = {}
    for cap_name, cap in device.capabilities.items():
        values = tuple(v for v in cap.values if len(str(v)) <= MAX_VALUE and SAFE_VALUE.fullmatch(str(v)))[:MAX_VALUES]
        if len(values) != len(cap.values):
            warnings.warn(topic, "'%s': kept %d of %d %s values (at most %d of %d plain characters)",
                          name, len(values), len(cap.values), cap_name, MAX_VALUES, MAX_VALUE)
            if cap.values and not values:
                continue
        capabilities[cap_name] = dataclasses.replace(cap, values=values) if values != cap.values else cap
    units = {clip(k, MAX_VALUE): clip(v, MAX_NOTE) for k, v in list(device.units.items())[:MAX_UNITS]}
    bounded: dict[str, Any] = {
        "name": name, "area": clip(device.area, MAX_NAME), "unsupported": clip(device.unsupported, MAX_NOTE),
        "aliases": tuple(a for a in (clip(a, MAX_NAME) for a in device.aliases[:MAX_ALIASES]) if a),
        "capabilities": capabilities, "units": units, "links": tuple(str(link)[:MAX_KEY] for link in device.links[:16]),
    }
    if all(getattr(device, k) == v for k, v in bounded.items()):
        return device  # the common case: nothing to change, no copy
    return dataclasses.replace(device, **bounded)
