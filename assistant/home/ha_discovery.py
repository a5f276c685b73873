"""Home Assistant MQTT discovery: single-component and device-based configs to :class:`Device` objects.

Topics: ``<prefix>/<component>/[<node_id>/]<object_id>/config`` and ``<prefix>/device/<id>/config``.
Abbreviations and ``~`` are expanded first; an empty payload deletes what the topic announced.
"""

from __future__ import annotations

import logging
from typing import Any

from assistant.home.ha_abbreviations import expand, expand_base_topic
from assistant.home.ha_platforms import BUILDERS
from assistant.home.model import MALFORMED, AvailabilityTopic, Device, Unsupported, parse_json, valid_topic
from assistant.home.templates import value_renderer

log = logging.getLogger("assistant.home")
SOURCE = "homeassistant"
GARAGE_CLASSES = ("garage", "gate", "door")


def is_config_topic(prefix: str, topic: str) -> bool:
    parts = topic.split("/")
    return topic.startswith(prefix + "/") and parts[-1] == "config" and len(parts) - len(prefix.split("/")) in (3, 4)


def parse_config(prefix: str, topic: str, payload: str) -> list[Device]:
    """Devices announced on one discovery topic; [] for a delete or anything we cannot use."""
    if not payload.strip():
        return []
    data = parse_json(payload)
    if not isinstance(data, dict):
        log.warning("ignoring discovery message on %s: not a JSON object", topic)
        return []
    parts = topic[len(prefix) + 1:].split("/")
    component, path = parts[0], "/".join(parts[1:-1])
    data = expand(data)
    if component == "device":
        return _device_based(topic, path, data)
    return [d for d in [_entity(component, data, f"{component}/{path}", topic)] if d]


def _device_based(topic: str, path: str, data: dict[str, Any]) -> list[Device]:
    components = data.get("components")
    if not isinstance(components, dict):
        log.warning("ignoring device discovery on %s: no components", topic)
        return []
    shared = {k: v for k, v in data.items() if k not in ("components",)}
    devices = []
    for cid, comp in components.items():
        if not isinstance(comp, dict) or set(comp) <= {"platform"}:
            continue  # a component reduced to its platform key is being removed
        merged = {**shared, **comp}
        device = _entity(str(comp.get("platform", "")), merged, f"device/{path}/{cid}", topic)
        if device:
            devices.append(device)
    return devices


def _entity(component: str, cfg: dict[str, Any], fallback_id: str, topic: str) -> Device | None:
    builder = BUILDERS.get(component)
    if builder is None:
        log.debug("ignoring %s entity on %s: platform not used by the assistant", component, topic)
        return None
    kind, build = builder
    cfg = expand_base_topic(cfg)
    dev: dict[str, Any] = cfg["device"] if isinstance(cfg.get("device"), dict) else {}
    key = f"{SOURCE}:{cfg.get('unique_id') or fallback_id}"
    device = Device(
        key=key, name=_name(cfg, dev, fallback_id), kind=kind, source=SOURCE,
        area=str(dev.get("suggested_area") or ""), links=_links(dev),
        sensitive=kind in ("lock", "alarm") or (kind == "cover" and cfg.get("device_class") in GARAGE_CLASSES),
    )
    try:
        for k, v in cfg.items():
            if k.startswith(("payload_", "state_")) and not k.endswith(("_topic", "_template")) \
                    and not isinstance(v, (str, int, float, type(None))):
                raise Unsupported(f"{k} is not a plain value")
        caps, states, units = build(cfg)
        device.availability, device.availability_mode = _availability(cfg)
    except Unsupported as err:
        device.unsupported = str(err)
        log.warning("%s '%s' (%s) is unsupported: %s", component, device.name, topic, err)
        return device
    except MALFORMED as err:
        device.unsupported = "malformed discovery config"
        log.warning("%s '%s' (%s) has a malformed config: %s", component, device.name, topic, err)
        return device
    device.capabilities, device.state_topics, device.units = caps, tuple(states), units
    return device


def _name(cfg: dict[str, Any], dev: dict[str, Any], fallback_id: str) -> str:
    dev_name = str(dev.get("name") or "").strip()
    if "name" in cfg and cfg["name"] is None:
        return dev_name or _humanize(fallback_id)
    name = str(cfg.get("name") or "").strip()
    if not name:
        return dev_name or _humanize(fallback_id)
    if dev_name and not name.lower().startswith(dev_name.lower()):
        return f"{dev_name} {name}"
    return name


def _humanize(path: str) -> str:
    return path.rstrip("/").split("/")[-1].replace("_", " ").strip() or path


def _links(dev: dict[str, Any]) -> tuple[str, ...]:
    ids = dev.get("identifiers")
    if isinstance(ids, str):
        return (ids,)
    if isinstance(ids, list):
        return tuple(str(i) for i in ids if isinstance(i, (str, int)))
    return ()


def _availability(cfg: dict[str, Any]) -> tuple[tuple[AvailabilityTopic, ...], str]:
    entries: list[dict[str, Any]] = []
    if isinstance(cfg.get("availability"), list):
        entries = [a for a in cfg["availability"] if isinstance(a, dict) and a.get("topic")]
    elif cfg.get("availability_topic"):
        entries = [{
            "topic": cfg["availability_topic"], "value_template": cfg.get("availability_template"),
            "payload_available": cfg.get("payload_available"), "payload_not_available": cfg.get("payload_not_available"),
        }]
    topics = []
    for entry in entries:
        if not valid_topic(entry["topic"]):
            raise Unsupported("availability topic is not a concrete topic")
        topics.append(AvailabilityTopic(str(entry["topic"]), _availability_parser(entry)))
    mode = str(cfg.get("availability_mode", "latest"))
    return tuple(topics), mode if mode in ("all", "any", "latest") else "latest"


def _availability_parser(entry: dict[str, Any]) -> Any:
    extract = value_renderer(entry.get("value_template"))
    online = str(entry.get("payload_available") or "online")
    offline = str(entry.get("payload_not_available") or "offline")

    def parse(payload: str) -> bool | None:
        value = extract(payload)
        return True if value == online else False if value == offline else None

    return parse
