"""The live device registry: discovery messages in, one deduplicated list of devices out.

Pure (no network): the MQTT client feeds it every message with :meth:`Registry.handle` and
subscribes to :meth:`Registry.subscriptions`. It keeps the last state and availability of each
device, lets a caller wait for a state echo, and assigns the short ids the model uses.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from assistant.home import ha_discovery, tasmota, z2m
from assistant.home.limits import MAX_DEVICES, MAX_TOPIC, TopicWarnings, bounded_device, clip, payload_limit
from assistant.home.model import Device
from assistant.home.overrides import Override
from assistant.home.topicguard import TopicGuard

log = logging.getLogger("assistant.home")
MAX_CACHED_TOPICS = 100000
MAX_CACHED_BYTES = 64 * 1024 * 1024  # last payloads kept for topics no device claims yet
REBUILD_SHARE = 0.05  # while discovery streams in, rebuilding takes at most about this share of the time
NAME_CHARS = re.compile(r"[\w '.:-]+")


@dataclass(frozen=True)
class Topics:
    """Where discovery lives on this broker (from ``MqttConfig``)."""

    discovery_prefix: str = "homeassistant"
    z2m_base: str = "zigbee2mqtt"
    tasmota_prefix: str = "tasmota/discovery"
    own_root: str = ""  # the assistant's own announce topics (a device may not command them)


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=65536)
def slug(text: str) -> str:
    return _NOT_SLUG.sub("_", text.lower()).strip("_")


def squash(text: str) -> str:
    """Case- and space-insensitive form: ``Living Room`` == ``livingroom``."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


class Registry:
    """Thread-safe: the network thread writes, the assistant reads and waits."""

    def __init__(self, topics: Topics | None = None, overrides: dict[str, Override] | None = None,
                 ignore_topics: Callable[[str], bool] | None = None, allow_topics: tuple[str, ...] = (),
                 warnings: TopicWarnings | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.topics = topics or Topics()
        t = self.topics
        self.guard = TopicGuard.for_hubs(t.discovery_prefix, t.z2m_base, t.tasmota_prefix, t.own_root, allow_topics)
        self.warnings = warnings or TopicWarnings(log)
        self._overrides = overrides or {}
        self._ignore = ignore_topics or (lambda t: False)
        self._cond = threading.Condition(threading.RLock())
        self._ha: dict[str, list[Device]] = {}
        self._tasmota: dict[str, list[Device]] = {}
        self._z2m_raw: dict[str, str | None] = {"devices": None, "groups": None}
        self._z2m: list[Device] = []
        self._devices: list[Device] = []
        self._by_id: dict[str, Device] = {}
        self._ids: dict[str, tuple[str, str]] = {}  # stable id -> (name slug, short id): ids stick once read
        self._ids_read = False
        self._origin: dict[str, str] = {}  # stable id -> the topic whose device holds it
        self._routes: dict[str, list[tuple[str, Any]]] = {}
        self._avail_routes: dict[str, list[Any]] = {}
        self._payloads: dict[str, str] = {}
        self._payload_bytes = 0
        self._avail: dict[str, tuple[bool, int]] = {}
        self._seq = 0
        self._state: dict[str, dict[str, Any]] = {}
        self._updated: dict[str, float] = {}
        self._dirty = False
        self._rebuilt_at = float("-inf")
        self._rebuild_s = 0.0
        self._clock = clock  # paces rebuilds while discovery streams in
        self.rebuilds = 0
        self._new_filters: set[str] = set()
        self.last_change = time.monotonic()

    # ---- input -------------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes | str) -> bool:
        """Apply one message; True when the device list changed. Never raises on what the broker sends.

        A discovery message only marks the list stale: it is rebuilt when read, or while messages keep
        coming at most about ``REBUILD_SHARE`` of the time, so a replay of N configs costs O(N), not O(N^2).
        """
        t = self.topics
        if len(topic) > MAX_TOPIC:
            self.warnings.warn(topic, "ignored a message on a topic of %d characters (at most %d)", len(topic), MAX_TOPIC)
            return False
        limit = payload_limit(topic, (f"{t.z2m_base}/bridge/devices", f"{t.z2m_base}/bridge/groups"))
        if len(payload) > limit:
            self.warnings.warn(topic, "ignored a message of %d bytes (at most %d)", len(payload), limit)
            return False
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        with self._cond:
            changed = self._discovery(topic, text)
            if changed:
                self._dirty = True
                self.last_change = time.monotonic()
                self._cond.notify_all()
                if self._clock() - self._rebuilt_at > self._rebuild_s / REBUILD_SHARE:
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
            return self._keep(self._ha, topic, ha_discovery.parse_config(t.discovery_prefix, topic, text))
        if tasmota.is_config_topic(t.tasmota_prefix, topic):
            return self._keep(self._tasmota, topic, tasmota.parse_config(topic, text))
        for which in ("devices", "groups"):
            if topic == f"{t.z2m_base}/bridge/{which}":
                self._z2m_raw[which] = text
                built = z2m.build(t.z2m_base, self._z2m_raw["devices"], self._z2m_raw["groups"])
                if len(built) > MAX_DEVICES:
                    self.warnings.warn(topic, "kept %d of %d devices (at most %d)", MAX_DEVICES, len(built), MAX_DEVICES)
                self._z2m = self._checked(f"{t.z2m_base}/bridge/devices", built[:MAX_DEVICES])
                return True
        return False

    def _keep(self, table: dict[str, list[Device]], topic: str, devices: list[Device]) -> bool:
        if topic not in table and len(self._ha) + len(self._tasmota) >= MAX_DEVICES:
            self.warnings.warn(topic, "ignored a discovery config: %d discovery topics already (at most %d)",
                               MAX_DEVICES, MAX_DEVICES)
            return False
        table[topic] = self._checked(topic, devices)
        return True

    def _checked(self, topic: str, devices: list[Device]) -> list[Device]:
        """Devices within the limits, with any command topic in a control namespace refused (one warning each)."""
        out = []
        for found in devices:
            device = bounded_device(found, topic, self.warnings)
            if device is None:
                continue
            for command_topic in sorted(device.command_topics()):
                why = self.guard.refused(command_topic)
                if why:
                    self.warnings.warn(topic, "refused to control '%s': its command topic %s is in %s "
                                       "(mqtt.allow_topics can allow it)", device.name, clip(command_topic, MAX_TOPIC), why)
                    device.capabilities = {}
                    device.unsupported = clip(f"command topic in {why}", 120)
                    break
            out.append(device)
            self._new_filters.update(self._filters(device))
        return out

    def _filters(self, device: Device) -> set[str]:
        base = self.topics.z2m_base + "/"
        topics = [s.topic for s in device.state_topics] + [a.topic for a in device.availability]
        return {t for t in topics if not t.startswith(base)}

    def _remember(self, topic: str, text: str) -> None:
        old = self._payloads.get(topic)
        if old is None and (len(self._payloads) >= MAX_CACHED_TOPICS or self._payload_bytes + len(text) > MAX_CACHED_BYTES):
            return
        self._payload_bytes += len(text) - (len(old) if old is not None else 0)
        self._payloads[topic] = text

    def _apply(self, topic: str, text: str) -> None:
        for parse in self._avail_routes.get(topic, ()):
            try:
                value = parse(text)
            except Exception as err:  # a bad payload must never stop the network thread
                log.debug("bad availability payload on %s: %s", clip(topic, MAX_TOPIC), err)
                continue
            if value is not None:
                self._seq += 1
                self._avail[topic] = (value, self._seq)
                self._cond.notify_all()
        for key, parse in self._routes.get(topic, ()):
            try:
                update = parse(text)
            except Exception as err:  # a bad payload must never stop the network thread
                log.debug("bad state payload on %s: %s", clip(topic, MAX_TOPIC), err)
                continue
            if update:
                self._state.setdefault(key, {}).update(update)
                self._updated[key] = time.monotonic()
                self._cond.notify_all()

    def _sync(self) -> None:
        """Rebuild the device list if discovery changed it since (caller holds the lock). From the first read on,
        ids are sticky: a device announced later never takes the id of one already offered."""
        if self._dirty:
            self._rebuild()
        self._ids_read = True

    def _rebuild(self) -> None:
        started = self._clock()
        self.rebuilds += 1
        z2m_links = {link: d for d in self._z2m for link in d.links}
        t = self.topics
        found: list[tuple[str, Device]] = [(f"{t.z2m_base}/bridge/devices", d) for d in self._z2m]
        found += [(topic, d) for topic in sorted(self._tasmota) for d in self._tasmota[topic]]
        for topic in sorted(self._ha):
            for d in self._ha[topic]:
                twin = next((z2m_links[link] for link in d.links if link in z2m_links), None)
                if twin is None:
                    found.append((topic, d))
                elif d.area and not twin.area:
                    twin.area = d.area  # HA discovery is the better source of names and areas
        merged: dict[str, Device] = {}
        origin: dict[str, str] = {}
        for topic, d in found:
            if d.key in merged:
                kept = origin[d.key]
                if self._ids_read and topic == self._origin.get(d.key) != kept:  # the one in use stays in use
                    merged[d.key], origin[d.key], topic, kept = d, topic, kept, topic
                self.warnings.warn(topic, "duplicate stable id %s (also announced on %s): kept the %s",
                                   clip(d.key, 200), clip(kept, MAX_TOPIC), "one in use" if self._ids_read else "first")
                continue
            merged[d.key], origin[d.key] = d, topic
        self._origin = origin
        self._devices = _assign_ids([self._override(d) for d in merged.values()], self._ids if self._ids_read else {})
        self._ids = {d.key: (slug(d.name) or d.kind, d.id) for d in self._devices}
        self._by_id = {d.id: d for d in self._devices}
        old_routes, old_avail = self._routes, self._avail_routes
        self._routes, self._avail_routes = {}, {}
        for d in self._devices:
            for s in d.state_topics:
                self._routes.setdefault(s.topic, []).append((d.key, s.parse))
            for a in d.availability:
                self._avail_routes.setdefault(a.topic, []).append(a.parse)
        for topic in set(self._routes) | set(self._avail_routes):
            fresh = self._routes.get(topic) != old_routes.get(topic) or self._avail_routes.get(topic) != old_avail.get(topic)
            if fresh and topic in self._payloads:
                self._apply(topic, self._payloads[topic])
        self._dirty = False
        self._rebuilt_at = self._clock()
        self._rebuild_s = self._rebuilt_at - started
        self._cond.notify_all()

    def _override(self, device: Device) -> Device:
        if not self._overrides:
            return device
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
            self._sync()
            return [d for d in self._devices if include_hidden or not d.hidden]

    def get(self, name: Any) -> Device | None:
        """The visible device with this id, or whose name, alias or stable id matches exactly (ignoring case/spaces)."""
        if not isinstance(name, str) or not name or len(name) > 200:
            return None
        with self._cond:
            self._sync()
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
            self._sync()
            return dict(self._state.get(device.key, {}))

    def available(self, device: Device) -> bool | None:
        """True/False from its availability topics; None when nothing was heard (treated as available)."""
        with self._cond:
            self._sync()
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
                self._sync()
                if self._updated.get(device.key, 0.0) > since and check(self._state.get(device.key, {})):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)

    def command_topics(self) -> set[str]:
        with self._cond:
            self._sync()
            return {t for d in self._devices if not d.hidden for t in d.command_topics()}

    def subscriptions(self) -> set[str]:
        """Topic filters that cover discovery, state and availability of every known device."""
        t = self.topics
        subs = {f"{t.discovery_prefix}/+/+/config", f"{t.discovery_prefix}/+/+/+/config",
                f"{t.z2m_base}/#", f"{t.tasmota_prefix}/+/config"}
        with self._cond:
            self._sync()
            extra = set(self._routes) | set(self._avail_routes)
            self._new_filters.clear()
        return subs | {topic for topic in extra if not topic.startswith(t.z2m_base + "/")}

    def announced(self) -> int:
        """Devices parsed from discovery so far, before merging twins and duplicates (cheap: no rebuild)."""
        with self._cond:
            return len(self._z2m) + sum(map(len, self._ha.values())) + sum(map(len, self._tasmota.values()))

    def new_subscriptions(self) -> set[str]:
        """State and availability topics of devices parsed since the last call (no rebuild: O(new devices))."""
        with self._cond:
            out, self._new_filters = self._new_filters, set()
        return out


def _assign_ids(devices: list[Device], previous: dict[str, tuple[str, str]] | None = None) -> list[Device]:
    """Short, stable, unique ids from names; clashes get the area, then a number.

    ``previous`` (stable id -> (name slug, id)) makes ids sticky: a device keeps the id it had while its name is
    the same, so a device announced later (a retained message of any shape) never takes an id already in use.
    """
    previous = previous or {}
    devices = sorted(devices, key=lambda d: d.key)
    by_slug: dict[str, list[Device]] = {}
    for d in devices:
        by_slug.setdefault(slug(d.name) or d.kind, []).append(d)
    taken: set[str] = set()
    fresh: list[tuple[str, int, Device]] = []
    for base, group in by_slug.items():
        for d in group:
            old = previous.get(d.key)
            if old is not None and old[0] == base and old[1] not in taken:
                d.id = old[1]
                taken.add(d.id)
            else:
                fresh.append((base, len(group), d))
    counters: dict[str, int] = {}
    for base, size, d in fresh:
        candidate = base
        if size > 1 and d.area and slug(d.area) not in base:
            candidate = f"{slug(d.area)}_{base}"
        unique, n = candidate, counters.get(candidate, 2)
        while unique in taken:
            unique, n = f"{candidate}_{n}", n + 1
        counters[candidate] = n
        d.id = unique
        taken.add(unique)
    return sorted(devices, key=lambda d: d.id)
