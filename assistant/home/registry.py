"""The live device registry: discovery messages in, one deduplicated list of devices out.

Pure (no network): the MQTT client feeds it every message with :meth:`Registry.handle` and
subscribes to :meth:`Registry.subscriptions`. It keeps the last state and availability of each
device, lets a caller wait for a state echo, and assigns the short ids the model uses.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from assistant.home import ha_discovery, tasmota, z2m
from assistant.home.model import Device
from assistant.home.overrides import Override

log = logging.getLogger("assistant.home")
MAX_CACHED_TOPICS = 20000
NAME_CHARS = re.compile(r"[\w '.:-]+")


@dataclass(frozen=True)
class Topics:
    """Where discovery lives on this broker (from ``MqttConfig``)."""

    discovery_prefix: str = "homeassistant"
    z2m_base: str = "zigbee2mqtt"
    tasmota_prefix: str = "tasmota/discovery"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def squash(text: str) -> str:
    """Case- and space-insensitive form: ``Living Room`` == ``livingroom``."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


class Registry:
    """Thread-safe: the network thread writes, the assistant reads and waits."""

    def __init__(self, topics: Topics | None = None, overrides: dict[str, Override] | None = None,
                 ignore_topics: Callable[[str], bool] | None = None) -> None:
        self.topics = topics or Topics()
        self._overrides = overrides or {}
        self._ignore = ignore_topics or (lambda t: False)
        self._cond = threading.Condition(threading.RLock())
        self._ha: dict[str, list[Device]] = {}
        self._tasmota: dict[str, list[Device]] = {}
        self._z2m_raw: dict[str, str | None] = {"devices": None, "groups": None}
        self._z2m: list[Device] = []
        self._devices: list[Device] = []
        self._by_id: dict[str, Device] = {}
        self._routes: dict[str, list[tuple[str, Any]]] = {}
        self._avail_routes: set[str] = set()
        self._payloads: dict[str, str] = {}
        self._avail: dict[str, tuple[bool, int]] = {}
        self._seq = 0
        self._state: dict[str, dict[str, Any]] = {}
        self._updated: dict[str, float] = {}
        self.last_change = time.monotonic()

    # ---- input -------------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes | str) -> bool:
        """Apply one message; True when the device list (and so the subscriptions) changed."""
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        with self._cond:
            changed = self._discovery(topic, text)
            if changed:
                self._rebuild()
            else:
                self._remember(topic, text)
                self._apply(topic, text)
            return changed

    def _discovery(self, topic: str, text: str) -> bool:
        t = self.topics
        if self._ignore(topic):
            return False
        if ha_discovery.is_config_topic(t.discovery_prefix, topic):
            self._ha[topic] = ha_discovery.parse_config(t.discovery_prefix, topic, text)
            return True
        if tasmota.is_config_topic(t.tasmota_prefix, topic):
            self._tasmota[topic] = tasmota.parse_config(topic, text)
            return True
        for which in ("devices", "groups"):
            if topic == f"{t.z2m_base}/bridge/{which}":
                self._z2m_raw[which] = text
                self._z2m = z2m.build(t.z2m_base, self._z2m_raw["devices"], self._z2m_raw["groups"])
                return True
        return False

    def _remember(self, topic: str, text: str) -> None:
        if topic in self._payloads or len(self._payloads) < MAX_CACHED_TOPICS:
            self._payloads[topic] = text

    def _apply(self, topic: str, text: str) -> None:
        if topic in self._avail_routes:
            for device in self._devices:
                for a in device.availability:
                    if a.topic == topic and (value := a.parse(text)) is not None:
                        self._seq += 1
                        self._avail[topic] = (value, self._seq)
                        self._cond.notify_all()
        for key, parse in self._routes.get(topic, ()):
            try:
                update = parse(text)
            except Exception as err:  # a bad payload must never stop the network thread
                log.debug("bad state payload on %s: %s", topic, err)
                continue
            if update:
                self._state.setdefault(key, {}).update(update)
                self._updated[key] = time.monotonic()
                self._cond.notify_all()

    def _rebuild(self) -> None:
        z2m_links = {link: d for d in self._z2m for link in d.links}
        merged = list(self._z2m) + [d for ds in self._tasmota.values() for d in ds]
        for devices in self._ha.values():
            for d in devices:
                twin = next((z2m_links[link] for link in d.links if link in z2m_links), None)
                if twin is None:
                    merged.append(d)
                elif d.area and not twin.area:
                    twin.area = d.area  # HA discovery is the better source of names and areas
        self._devices = _assign_ids([self._override(d) for d in merged])
        self._by_id = {d.id: d for d in self._devices}
        self._routes, self._avail_routes = {}, set()
        for d in self._devices:
            for s in d.state_topics:
                self._routes.setdefault(s.topic, []).append((d.key, s.parse))
            self._avail_routes.update(a.topic for a in d.availability)
        for topic in set(self._routes) | self._avail_routes:
            if topic in self._payloads:
                self._apply(topic, self._payloads[topic])
        self.last_change = time.monotonic()
        self._cond.notify_all()

    def _override(self, device: Device) -> Device:
        o = self._overrides.get(device.key) or self._overrides.get(slug(device.name))
        if o is None:
            return device
        return replace(
            device, name=o.name or device.name, aliases=o.aliases or device.aliases,
            area=device.area if o.area is None else o.area,
            hidden=device.hidden if o.hide is None else o.hide,
            sensitive=device.sensitive if o.sensitive is None else o.sensitive,
        )

    # ---- queries -----------------------------------------------------------------------------

    def devices(self, include_hidden: bool = False) -> list[Device]:
        with self._cond:
            return [d for d in self._devices if include_hidden or not d.hidden]

    def get(self, name: Any) -> Device | None:
        """The visible device with this id, or whose name, alias or stable id matches exactly (ignoring case/spaces)."""
        if not isinstance(name, str) or not name or len(name) > 200:
            return None
        with self._cond:
            device = self._by_id.get(name)
            if device is not None and not device.hidden:
                return device
            if not NAME_CHARS.fullmatch(name):
                return None  # topics, wildcards, JSON: never loosely matched
            wanted = squash(name)
            hits = [d for d in self._devices if not d.hidden and wanted in
                    {squash(d.id), squash(d.name), squash(d.key), *(squash(a) for a in d.aliases)}]
            return hits[0] if len(hits) == 1 else None

    def state(self, device: Device) -> dict[str, Any]:
        with self._cond:
            return dict(self._state.get(device.key, {}))

    def available(self, device: Device) -> bool | None:
        """True/False from its availability topics; None when nothing was heard (treated as available)."""
        with self._cond:
            known = [self._avail[a.topic] for a in device.availability if a.topic in self._avail]
        if not known:
            return None
        if device.availability_mode == "all":
            return all(v for v, _ in known)
        if device.availability_mode == "any":
            return any(v for v, _ in known)
        return max(known, key=lambda x: x[1])[0]

    def wait_for_state(self, device: Device, check: Callable[[dict[str, Any]], bool], timeout: float, since: float) -> bool:
        """Block until a state update newer than ``since`` satisfies ``check``; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._updated.get(device.key, 0.0) > since and check(self._state.get(device.key, {})):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)

    def command_topics(self) -> set[str]:
        with self._cond:
            return {t for d in self._devices if not d.hidden for t in d.command_topics()}

    def subscriptions(self) -> set[str]:
        """Topic filters that cover discovery, state and availability of every known device."""
        t = self.topics
        subs = {f"{t.discovery_prefix}/+/+/config", f"{t.discovery_prefix}/+/+/+/config",
                f"{t.z2m_base}/#", f"{t.tasmota_prefix}/+/config"}
        with self._cond:
            extra = set(self._routes) | self._avail_routes
        return subs | {topic for topic in extra if not topic.startswith(t.z2m_base + "/")}


def _assign_ids(devices: list[Device]) -> list[Device]:
    """Short, stable, unique ids from names; clashes get the area, then a number."""
    devices = sorted(devices, key=lambda d: d.key)
    by_slug: dict[str, list[Device]] = {}
    for d in devices:
        by_slug.setdefault(slug(d.name) or d.kind, []).append(d)
    taken: set[str] = set()
    for base, group in by_slug.items():
        for d in group:
            candidate = base
            if len(group) > 1 and d.area and slug(d.area) not in base:
                candidate = f"{slug(d.area)}_{base}"
            n = 2
            unique = candidate
            while unique in taken:
                unique, n = f"{candidate}_{n}", n + 1
            d.id = unique
            taken.add(unique)
    return sorted(devices, key=lambda d: d.id)
