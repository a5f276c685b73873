"""The assistant announces itself to Home Assistant by MQTT discovery (device-based form).

Entities: a status sensor (idle, listening, thinking, speaking), a mute switch, the last utterance,
the last action and a latency sensor. Availability is retained with a last will of ``offline``;
configs and states are republished on every connect and whenever Home Assistant announces
``online`` on ``<prefix>/status``. The assistant starts unmuted after a restart.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from paho.mqtt.client import topic_matches_sub

from assistant import __version__
from assistant.config.schema import MqttConfig
from assistant.home.presence import assistant_name
from assistant.home.registry import slug

log = logging.getLogger("assistant.home")
STATUSES = ("idle", "listening", "thinking", "speaking")
MAX_TEXT = 255  # HA sensor states are limited to 255 characters


class Link(Protocol):
    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: str, retain: bool = False) -> None: ...

    def subscribe(self, filters: set[str]) -> None: ...


class Extension(Protocol):
    """More entities of the assistant's device (``assistant.home.voice_entities``): their discovery
    components, the topics they listen on, their retained states (topic -> value) and their commands."""

    def components(self) -> dict[str, dict[str, Any]]: ...

    def subscriptions(self) -> set[str]: ...

    def states(self) -> dict[str, str]: ...

    def handle(self, topic: str, payload: bytes) -> bool: ...


class Announcer:
    def __init__(self, cfg: MqttConfig, link: Link | None = None) -> None:
        self.node = slug(cfg.client_id) or "assistant"
        self.root = f"{cfg.announce_topic.strip('/')}/{self.node}"
        self.prefix = cfg.discovery_prefix
        self.area = cfg.area.strip()
        self.config_topic = f"{self.prefix}/device/{self.node}/config"
        self.availability_topic = f"{self.root}/availability"
        self.link = link
        self._lock = threading.Lock()
        self._values: dict[str, str] = {"status": "idle", "mute": "OFF", "last_utterance": "", "last_action": ""}
        self._mute_listeners: list[Callable[[bool], None]] = []
        self.extensions: list[Extension] = []

    def extend(self, extension: Extension) -> None:
        """Add entities (after connecting too: they are subscribed and announced at once)."""
        self.extensions.append(extension)
        if self.link:
            self.link.subscribe(extension.subscriptions())  # kept for every reconnect
            if self.link.connected:
                self.announce()

    # ---- what the service calls --------------------------------------------------------------

    @property
    def muted(self) -> bool:
        return self._values["mute"] == "ON"

    def on_mute(self, listener: Callable[[bool], None]) -> None:
        """Call ``listener(muted)`` whenever the mute switch changes (from HA or :meth:`set_muted`)."""
        self._mute_listeners.append(listener)

    def set_muted(self, muted: bool) -> None:
        self._set("mute", "ON" if muted else "OFF")

    def set_status(self, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        self._set("status", status)

    def set_last_utterance(self, text: str) -> None:
        self._set("last_utterance", text[:MAX_TEXT])

    def set_last_action(self, text: str) -> None:
        self._set("last_action", text[:MAX_TEXT])

    def publish_latency(self, record: dict[str, Any]) -> None:
        """One turn's timings (``{"total_ms": ..., ...}``) as the latency sensor and its attributes."""
        if self.link:
            self.link.publish(f"{self.root}/latency", json.dumps(record, default=str, separators=(",", ":")))

    # ---- MQTT side ---------------------------------------------------------------------------

    def subscriptions(self) -> set[str]:
        extra = {t for e in self.extensions for t in e.subscriptions()}
        return {f"{self.root}/mute/set", f"{self.prefix}/status", *extra}

    def handles(self, topic: str) -> bool:
        subs = self.subscriptions()
        return topic in subs or topic == self.config_topic \
            or any(topic_matches_sub(f, topic) for f in subs if "+" in f or "#" in f)

    def handle(self, topic: str, payload: bytes) -> None:
        text = payload.decode("utf-8", "replace").strip()
        if topic == f"{self.prefix}/status" and text == "online":
            log.info("Home Assistant is back online; announcing again")
            self.announce()
        elif topic == f"{self.root}/mute/set" and text.upper() in ("ON", "OFF"):
            self._set("mute", text.upper())
        else:
            any(e.handle(topic, payload) for e in self.extensions)

    def announce(self) -> None:
        """Publish availability, the discovery config and every current state (on connect)."""
        if not self.link:
            return
        self.link.publish(self.availability_topic, "online", retain=True)
        self.link.publish(self.config_topic, json.dumps(self.discovery_config(), separators=(",", ":")), retain=True)
        with self._lock:
            values = dict(self._values)
        for key, value in values.items():
            self.link.publish(f"{self.root}/{key}", value, retain=True)
        for extension in self.extensions:
            for topic, value in extension.states().items():
                self.link.publish(topic, value, retain=True)

    def goodbye(self) -> None:
        if self.link:
            self.link.publish(self.availability_topic, "offline", retain=True)

    def discovery_config(self) -> dict[str, Any]:
        r, n = self.root, self.node

        def sensor(key: str, name: str, **extra: Any) -> dict[str, Any]:
            return {"p": "sensor", "name": name, "unique_id": f"{n}_{key}", "state_topic": f"{r}/{key}", **extra}

        config: dict[str, Any] = {
            "dev": {"ids": [n], "name": assistant_name(self.area), "mf": "assistant", "mdl": "Gemma 4 E2B voice assistant",
                    "sw": __version__, **({"sa": self.area} if self.area else {})},
            "o": {"name": "assistant", "sw": __version__, "url": "https://github.com/"},
            "availability_topic": self.availability_topic,
            "cmps": {
                "status": sensor("status", "Status", device_class="enum", options=list(STATUSES), icon="mdi:account-voice"),
                "mute": {"p": "switch", "name": "Mute", "unique_id": f"{n}_mute", "command_topic": f"{r}/mute/set",
                         "state_topic": f"{r}/mute", "icon": "mdi:microphone-off"},
                "last_utterance": sensor("last_utterance", "Last utterance", icon="mdi:comment-quote"),
                "last_action": sensor("last_action", "Last action", icon="mdi:gesture-tap"),
                "latency": sensor("latency", "Latency", unit_of_measurement="ms", value_template="{{ value_json.total_ms }}",
                                  json_attributes_topic=f"{r}/latency", state_class="measurement"),
            },
        }
        for extension in self.extensions:
            config["cmps"].update(extension.components())
        return config

    def _set(self, key: str, value: str) -> None:
        with self._lock:
            changed = self._values[key] != value
            self._values[key] = value
        if self.link and changed:
            self.link.publish(f"{self.root}/{key}", value, retain=True)
        if key == "mute" and changed:
            for listener in self._mute_listeners:
                listener(value == "ON")
