"""``open_home(config.mqtt) -> Home``: registry, connection, bus and announcer wired together."""

from __future__ import annotations

import logging
import time
from typing import Any

from assistant.config.schema import MqttConfig
from assistant.errors import AssistantError
from assistant.home.announcer import Announcer
from assistant.home.arbiter import MqttArbiter
from assistant.home.bus import MqttBus
from assistant.home.connection import Connection
from assistant.home.overrides import load_overrides
from assistant.home.presence import Presence, is_assistant_discovery
from assistant.home.registry import Registry, Topics
from assistant.protocols import ToolCall

log = logging.getLogger("assistant.home")


class Home:
    """The smart home as one object; it implements :class:`assistant.protocols.Bus`."""

    def __init__(self, cfg: MqttConfig, client_id: str | None = None) -> None:
        self.cfg = cfg
        self.announcer = Announcer(cfg)
        topics = Topics(cfg.discovery_prefix, cfg.z2m_base_topic, cfg.tasmota_discovery_prefix)
        self.registry = Registry(topics, load_overrides(cfg.overrides_file), ignore_topics=self.announcer.handles)
        self.presence = Presence(cfg, announce_self=cfg.arbitrate)
        self.arbiter = MqttArbiter(cfg, self.presence) if cfg.arbitrate else None
        will = (self.announcer.availability_topic, "offline") if cfg.announce or cfg.arbitrate else None
        self.connection = Connection(cfg, self._message, will, client_id)
        if cfg.announce:
            self.announcer.link = self.connection
            self.connection.on_connect(self.announcer.announce)
        self.presence.link = self.connection
        self.connection.on_connect(self.presence.announce)
        if self.arbiter is not None:
            self.arbiter.link = self.connection
        self.bus = MqttBus(self.registry, self.connection, cfg,
                           on_action=self.announcer.set_last_action if cfg.announce else None)
        self._connected_at = time.monotonic()
        self.connection.on_connect(self._mark_connected)

    def _mark_connected(self) -> None:
        self._connected_at = time.monotonic()

    def _message(self, topic: str, payload: bytes) -> None:
        if self.cfg.announce and self.announcer.handles(topic):
            self.announcer.handle(topic, payload)
        elif self.arbiter is not None and self.arbiter.handles(topic):
            self.arbiter.handle(topic, payload)
        elif self.presence.handles(topic):
            self.presence.handle(topic, payload)
        elif is_assistant_discovery(self.cfg.discovery_prefix, topic, payload):
            return
        elif self.registry.handle(topic, payload):
            self.connection.subscribe(self.registry.subscriptions())

    # ---- Bus -----------------------------------------------------------------------------------

    def tools(self, utterance_hint: str = "") -> list[dict[str, Any]]:
        return self.bus.tools(utterance_hint)

    def execute(self, call: ToolCall) -> str:
        return self.bus.execute(call)

    def tool_schema(self, utterance_hint: str = "") -> dict[str, dict[str, Any]]:
        return self.bus.tool_schema(utterance_hint)

    # ---- lifecycle -----------------------------------------------------------------------------

    def wait_for_discovery(self, quiet_s: float = 0.5, timeout: float = 5.0) -> None:
        """Return once no discovery message arrived for ``quiet_s`` (retained replay done), or at ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = max(self.registry.last_change, self._connected_at)
            if self.connection.connected and time.monotonic() - last >= quiet_s:
                return
            time.sleep(0.05)

    def close(self) -> None:
        if (self.cfg.announce or self.cfg.arbitrate) and self.connection.connected:
            self.connection.publish(self.announcer.availability_topic, "offline", retain=True)
        self.connection.close()


def open_home(cfg: MqttConfig, *, require_broker: bool = False, client_id: str | None = None) -> Home:
    """Connect and start following discovery. A refused login always raises; an unreachable broker
    raises only with ``require_broker`` (the service keeps retrying in the background instead).
    ``client_id`` overrides ``cfg.client_id`` for the connection only (tools running beside the service)."""
    if not cfg.enabled:
        raise AssistantError("MQTT is switched off (mqtt.enabled = false)")
    home = Home(cfg, client_id)
    home.connection.subscribe(home.registry.subscriptions() | (home.announcer.subscriptions() if cfg.announce else set())
                              | home.presence.subscriptions() | (home.arbiter.subscriptions() if home.arbiter else set()))
    home.connection.start()
    try:
        home.connection.wait_connected(cfg.connect_timeout_s)
    except AssistantError as err:
        if require_broker or home.connection.refused:
            home.connection.close()
            raise
        log.warning("%s; will keep trying", err)
    return home
