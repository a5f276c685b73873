"""The assistant's voice entities for Home Assistant: a notify entity for announcements, a volume number.

Both are :class:`assistant.home.announcer.Extension` s of the assistant's own MQTT device:

- ``notify`` (``notify.send_message``): its command topic is ``<root>/announce``, this assistant's
  announce topic; a plain text or JSON payload is handed to ``receive(payload, house=False)``. The
  house topic ``<announce_topic>/announce`` reaches every assistant (``receive(payload, house=True)``,
  where a JSON target picks rooms). Each outcome is published on ``<root>/announce/result``.
- ``number`` (0..100 %, slider): ``<root>/volume/set`` sets it, ``<root>/volume`` is its state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from assistant.home.announcer import Announcer

log = logging.getLogger("assistant.home")


class AnnounceEntity:
    """Routes announce payloads to ``receive`` and reports results on ``<root>/announce/result``."""

    def __init__(self, announcer: Announcer, base_topic: str, receive: Callable[[bytes, bool], str]) -> None:
        self.announcer, self.receive = announcer, receive
        self.own_topic = f"{announcer.root}/announce"
        self.house_topic = f"{base_topic.strip('/')}/announce"

    def components(self) -> dict[str, dict[str, Any]]:
        return {"announce": {"p": "notify", "name": "Announce", "unique_id": f"{self.announcer.node}_announce",
                             "command_topic": self.own_topic, "icon": "mdi:bullhorn"}}

    def subscriptions(self) -> set[str]:
        return {self.own_topic, self.house_topic}

    def states(self) -> dict[str, str]:
        return {}

    def handle(self, topic: str, payload: bytes) -> bool:
        if topic not in (self.own_topic, self.house_topic):
            return False
        self.receive(payload, topic == self.house_topic)
        return True

    def report(self, status: str, text: str, reason: str) -> None:
        """Publish one announcement's outcome (queued, refused, spoken) for automations and tests."""
        link = self.announcer.link
        if link:
            body = {"status": status, "text": text[:80], **({"reason": reason} if reason else {})}
            link.publish(f"{self.own_topic}/result", json.dumps(body, ensure_ascii=False))


class VolumeEntity:
    """The volume as a Home Assistant number; ``set_volume(percent)`` applies a command."""

    def __init__(self, announcer: Announcer, get: Callable[[], int], set_volume: Callable[[int], int]) -> None:
        self.announcer, self.get, self.set_volume = announcer, get, set_volume
        self.topic = f"{announcer.root}/volume"

    def components(self) -> dict[str, dict[str, Any]]:
        return {"volume": {"p": "number", "name": "Volume", "unique_id": f"{self.announcer.node}_volume",
                           "command_topic": f"{self.topic}/set", "state_topic": self.topic,
                           "min": 0, "max": 100, "step": 1, "unit_of_measurement": "%", "mode": "slider",
                           "icon": "mdi:volume-high"}}

    def subscriptions(self) -> set[str]:
        return {f"{self.topic}/set"}

    def states(self) -> dict[str, str]:
        return {self.topic: str(self.get())}

    def handle(self, topic: str, payload: bytes) -> bool:
        if topic != f"{self.topic}/set":
            return False
        try:
            value = float(payload.decode("utf-8", "replace").strip())
        except ValueError:
            log.warning("volume command %r is not a number", payload[:20])
            return True
        if value != value or not 0 <= value <= 100:  # NaN or out of range
            log.warning("volume command %r is out of range (0 to 100)", payload[:20])
            return True
        self.set_volume(round(value))
        return True

    def publish(self, percent: int) -> None:
        """Publish the state (a ``Volume`` listener: after a change from any side)."""
        link = self.announcer.link
        if link:
            link.publish(self.topic, str(percent), retain=True)
