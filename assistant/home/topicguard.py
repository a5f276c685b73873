"""Command topics a discovered device may not use: the control namespaces of the hubs and the broker.

A retained discovery message can name any command topic. One naming ``zigbee2mqtt/bridge/request/device/remove``
would turn "turn on the evil plug" into a request to the zigbee2mqtt bridge. Refused: zigbee2mqtt's
``<base>/bridge/``, Home Assistant's and Tasmota's discovery prefixes, the assistant's own announce topics,
everything under ``$`` (``$SYS``) and anything with a wildcard. ``mqtt.allow_topics`` lists MQTT topic filters
(comma-separated, ``+`` and ``#`` allowed) that are allowed even so, for the unusual home that needs one.
"""

from __future__ import annotations

from collections.abc import Iterable

from paho.mqtt.client import topic_matches_sub

WILDCARD_CHARS = ("+", "#", "\0")


def parse_filters(text: str) -> tuple[str, ...]:
    """``"a/b, c/#"`` -> ``("a/b", "c/#")``; empty entries dropped."""
    return tuple(f.strip() for f in text.replace("\n", ",").split(",") if f.strip())


class TopicGuard:
    """Says why a command topic is refused (the namespace, in a few words), or "" when it may be used."""

    def __init__(self, namespaces: Iterable[tuple[str, str]], allow: Iterable[str] = ()) -> None:
        self.namespaces = tuple((prefix.rstrip("/") + "/", why) for prefix, why in namespaces if prefix.strip("/"))
        self.allow = tuple(allow)

    @classmethod
    def for_hubs(cls, discovery_prefix: str, z2m_base: str, tasmota_prefix: str, own_root: str = "",
                 allow: Iterable[str] = ()) -> TopicGuard:
        spaces = [(f"{z2m_base.rstrip('/')}/bridge", "zigbee2mqtt's bridge"),
                  (discovery_prefix, "Home Assistant's discovery prefix"),
                  (tasmota_prefix, "Tasmota's discovery prefix")]
        if own_root:
            spaces.append((own_root, "the assistant's own topics"))
        return cls(spaces, allow)

    def refused(self, topic: str) -> str:
        if any(c in topic for c in WILDCARD_CHARS):
            return "a wildcard"
        if not topic:
            return "an empty topic"
        if any(topic_matches_sub(f, topic) for f in self.allow):
            return ""
        if topic.startswith("$"):
            return "the broker's $ namespace"
        for prefix, why in self.namespaces:
            if topic.startswith(prefix) or topic == prefix[:-1]:
                return why
        return ""
