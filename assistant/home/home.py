"""``open_home(config.mqtt) -> Home``: registry, connection, bus and announcer wired together."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from assistant.config.schema import MqttConfig
from assistant.errors import AssistantError
from assistant.home.announcer import Announcer
from assistant.home.arbiter import MqttArbiter
from assistant.home.brokerdrops import DROPPED_TOPIC, DropWatch
from assistant.home.bus import MqttBus
from assistant.home.connection import Connection
from assistant.home.overrides import load_overrides
from assistant.home.presence import Presence, is_assistant_discovery
from assistant.home.registry import Registry, Topics
from assistant.home.topicguard import parse_filters
from assistant.protocols import ToolCall

log = logging.getLogger("assistant.home")
SUBSCRIBE_DELAY_S = 0.1


class Home:
    """The smart home as one object; it implements :class:`assistant.protocols.Bus`."""

    def __init__(self, cfg: MqttConfig, client_id: str | None = None) -> None:
        self.cfg = cfg
        self.announcer = Announcer(cfg)
        topics = Topics(cfg.discovery_prefix, cfg.z2m_base_topic, cfg.tasmota_discovery_prefix, self.announcer.root)
        self.registry = Registry(topics, load_overrides(cfg.overrides_file), ignore_topics=self.announcer.handles,
                                 allow_topics=parse_filters(cfg.allow_topics))
        self.presence = Presence(cfg, announce_self=cfg.arbitrate)
        self.arbiter = MqttArbiter(cfg, self.presence) if cfg.arbitrate else None
        will = (self.announcer.availability_topic, "offline") if cfg.announce or cfg.arbitrate else None
        self.drops = DropWatch()
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
        self._subs_lock = threading.Lock()
        self._subs_timer: threading.Timer | None = None
        self.connection.on_connect(self._mark_connected)

    def _mark_connected(self) -> None:
        self._connected_at = time.monotonic()

    def _message(self, topic: str, payload: bytes) -> None:
        if self.cfg.announce and self.announcer.handles(topic):
            self.announcer.handle(topic, payload)
        elif self.drops.handles(topic):
            self.drops.handle(payload)
        elif self.arbiter is not None and self.arbiter.handles(topic):
            self.arbiter.handle(topic, payload)
        elif self.presence.handles(topic):
            self.presence.handle(topic, payload)
        elif is_assistant_discovery(self.cfg.discovery_prefix, topic, payload):
            return
        elif self.registry.handle(topic, payload):
            self._subscribe_soon()

    def _subscribe_soon(self) -> None:
        """Subscribe to new devices' state topics in batches: a replay of N configs is not N SUBSCRIBE packets."""
        with self._subs_lock:
            if self._subs_timer is None:
                self._subs_timer = threading.Timer(SUBSCRIBE_DELAY_S, self._subscribe_new)
                self._subs_timer.daemon = True
                self._subs_timer.start()

    def _subscribe_new(self) -> None:
        with self._subs_lock:
            self._subs_timer = None
        try:
            self.connection.subscribe(self.registry.new_subscriptions())
        except Exception:  # the next discovery message schedules another try
            log.exception("could not subscribe to new devices' state topics")

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
        with self._subs_lock:
            if self._subs_timer is not None:
                self._subs_timer.cancel()
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
    extra = (home.announcer.subscriptions() if cfg.announce else set()) | {DROPPED_TOPIC}
    extra |= home.presence.subscriptions() | (home.arbiter.subscriptions() if home.arbiter else set())
    home.connection.subscribe(home.registry.subscriptions() | extra)
    home.connection.start()
    try:
        home.connection.wait_connected(cfg.connect_timeout_s)
    except AssistantError as err:
        if require_broker or home.connection.refused:
            home.connection.close()
            raise
        log.warning("%s; will keep trying", err)
    return home
