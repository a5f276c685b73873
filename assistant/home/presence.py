"""Which assistants share this broker: each one's retained presence, and whether it is online.

Every assistant publishes ``<announce_topic>/<node>/presence`` (retained JSON: id, name, area,
version, arbitrate) on connect; its liveness is the retained ``<announce_topic>/<node>/availability``
the announcer already keeps, with a last will of ``offline``. Reading both topics for ``+`` gives
the house: the wake arbiter waits only when another arbitrating assistant is online, and
``assistant devices mqtt`` lists them. Payloads are checked and the table is bounded.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from assistant import __version__
from assistant.config.schema import MqttConfig
from assistant.home.claims import ID_RE
from assistant.home.registry import slug

log = logging.getLogger("assistant.home")
MAX_PRESENCE_BYTES = 512
MAX_ASSISTANTS = 64
MAX_TEXT = 64


class Link(Protocol):
    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: str, retain: bool = False) -> None: ...


@dataclass
class Peer:
    """One assistant seen on the broker (``online`` None: no availability heard yet)."""

    id: str
    name: str = ""
    area: str = ""
    version: str = ""
    arbitrate: bool = False
    online: bool | None = None
    announced: bool = False  # its presence message was seen


def is_assistant_discovery(prefix: str, topic: str, payload: bytes) -> bool:
    """Another assistant's own discovery (``<prefix>/device/<node>/config`` from ``Announcer``): not a device
    to control, so the registry never sees it (its mute switch would be "the switch" of its room)."""
    if not topic.startswith(f"{prefix}/device/") or not topic.endswith("/config") or b'"assistant"' not in payload:
        return False
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return False
    origin = data.get("o") if isinstance(data, dict) else None
    return isinstance(origin, dict) and origin.get("name") == "assistant"


def assistant_name(area: str) -> str:
    """The assistant's device name in Home Assistant: one per room."""
    return f"Voice assistant ({area})" if area else "Voice assistant"


class Presence:
    """The house table (thread-safe: the network thread writes, the loop reads)."""

    def __init__(self, cfg: MqttConfig, link: Link | None = None, announce_self: bool = True) -> None:
        self.node = slug(cfg.client_id) or "assistant"
        self.base = cfg.announce_topic.strip("/")
        self.area = cfg.area.strip()
        self.link = link
        self.announce_self = announce_self
        self.arbitrate = cfg.arbitrate
        self.topic = f"{self.base}/{self.node}/presence"
        self.availability_topic = f"{self.base}/{self.node}/availability"
        self._peers: dict[str, Peer] = {}
        self._lock = threading.Lock()

    def subscriptions(self) -> set[str]:
        return {f"{self.base}/+/presence", f"{self.base}/+/availability"}

    def handles(self, topic: str) -> bool:
        parts = topic.split("/")
        return topic.startswith(self.base + "/") and len(parts) == len(self.base.split("/")) + 2 \
            and parts[-1] in ("presence", "availability")

    def announce(self) -> None:
        """On every connect: this assistant's presence (retained) and that it is online."""
        if not (self.link and self.announce_self):
            return
        info = {"id": self.node, "name": assistant_name(self.area), "area": self.area, "sw": __version__,
                "arbitrate": self.arbitrate}
        self.link.publish(self.topic, json.dumps(info, separators=(",", ":")), retain=True)
        self.link.publish(self.availability_topic, "online", retain=True)

    def handle(self, topic: str, payload: bytes) -> None:
        node, kind = topic.split("/")[-2:]
        if not ID_RE.fullmatch(node) or len(payload) > MAX_PRESENCE_BYTES:
            log.debug("ignoring %s: bad node name or too long", topic)
            return
        text = payload.decode("utf-8", "replace").strip()
        with self._lock:
            peer = self._peers.get(node)
            if peer is None:
                if not text or len(self._peers) >= MAX_ASSISTANTS:
                    return
                peer = self._peers[node] = Peer(node)
            if kind == "availability":
                peer.online = True if text == "online" else False if text == "offline" else peer.online
            elif not text:  # a cleared presence: the assistant was removed
                del self._peers[node]
            else:
                self._update(peer, text)

    def _update(self, peer: Peer, text: str) -> None:
        try:
            data: Any = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict) or data.get("id") != peer.id:
            log.debug("ignoring the presence of %s: not a presence object", peer.id)
            return
        peer.name, peer.area, peer.version = (str(data.get(k, ""))[:MAX_TEXT] for k in ("name", "area", "sw"))
        peer.arbitrate = data.get("arbitrate") is True
        peer.announced = True

    def peers_online(self) -> list[Peer]:
        """Other arbitrating assistants that are online now (the ones that may claim a wake word)."""
        with self._lock:
            return [p for p in self._peers.values() if p.id != self.node and p.announced and p.arbitrate and p.online]

    def is_peer(self, node: str) -> bool:
        with self._lock:
            peer = self._peers.get(node)
            return peer is not None and peer.announced and peer.arbitrate and bool(peer.online)

    def house(self) -> list[Peer]:
        """Every assistant seen on the broker (this one included), by id."""
        with self._lock:
            return [Peer(**vars(p)) for p in sorted(self._peers.values(), key=lambda p: p.id) if p.announced]
