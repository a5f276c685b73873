"""The one paho-mqtt 2.x client: MQTT v5, stable client id, TLS and login, reconnect with backoff.

Commands are QoS 1, never retained, carry a message expiry, and are only sent while connected.
Delivery is tracked through ``on_publish`` (never ``wait_for_publish``, which raises for messages
queued offline). Anything paho still holds when a connection comes back is dropped in
``on_connect`` before paho would resend it: a command is delivered now or never.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from assistant.config.schema import MqttConfig
from assistant.errors import AssistantError
from assistant.logs import RateLimitedLog

log = logging.getLogger("assistant.home")
RECEIVE_MAXIMUM = 65535  # the protocol's largest value
SUBSCRIBE_BATCH = 100


@dataclass(frozen=True)
class PublishOutcome:
    ok: bool
    reason: str = ""  # "not connected" | "no acknowledgement" | "refused: ..." when not ok
    puback_s: float | None = None


class Connection:
    """Owns the paho client and its network thread; every callback stays short and never blocks."""

    def __init__(self, cfg: MqttConfig, on_message: Callable[[str, bytes], None],
                 will: tuple[str, str] | None = None, client_id: str | None = None) -> None:
        self.cfg = cfg
        self.client_id = client_id or cfg.client_id
        self._on_message = on_message
        self._hooks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._acks: dict[int, threading.Event] = {}
        self._early: OrderedDict[int, bool] = OrderedDict()
        self._wanted: set[str] = set()
        self._subscribed: set[str] = set()
        self._connected = threading.Event()
        self._answered = threading.Event()
        self.refused = ""
        self.connects = 0
        self._closing = False
        self._down_log = RateLimitedLog(log, 30.0)
        self.client = self._make_client(will)

    def _make_client(self, will: tuple[str, str] | None) -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        if self.cfg.username:
            c.username_pw_set(self.cfg.username, self.cfg.password or None)
        if self.cfg.tls:
            try:
                c.tls_set(ca_certs=self.cfg.ca_file or None, certfile=self.cfg.cert_file or None,
                          keyfile=self.cfg.key_file or None)
            except (OSError, ssl.SSLError) as err:
                raise AssistantError(f"cannot load the MQTT TLS files ({err})") from None
        if will:
            c.will_set(will[0], will[1], qos=1, retain=True)
        c.reconnect_delay_set(1, 30)
        c.on_socket_open = _no_delay
        c.on_connect, c.on_disconnect = self._connected_cb, self._disconnected_cb
        c.on_publish, c.on_message = self._published_cb, self._message_cb
        return c

    @property
    def where(self) -> str:
        return f"{self.cfg.host}:{self.cfg.port}"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def on_connect(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` on the network thread after every (re)connect and resubscription."""
        self._hooks.append(hook)

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        # Receive Maximum: how many QoS 1 messages the broker may have unacknowledged with us. At the
        # broker's default (max_inflight_messages 20, then max_queued_messages 1000) a retained replay of
        # more than ~1,020 discovery configs is cut short; Mosquitto honours the client's larger value.
        props = Properties(PacketTypes.CONNECT)
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=30, clean_start=True, properties=props)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> None:
        """Block until the first CONNACK; raise a one-line AssistantError saying why it failed."""
        self._answered.wait(timeout)
        if self.connected:
            return
        if self.refused:
            login = any(w in self.refused.lower() for w in ("auth", "password"))
            hint = " (check mqtt.username and the password file)" if login else ""
            raise AssistantError(f"MQTT broker {self.where} refused the connection: {self.refused}{hint}")
        raise AssistantError(f"cannot reach the MQTT broker at {self.where} ({self._diagnose()})")

    def _diagnose(self) -> str:
        try:
            with socket.create_connection((self.cfg.host, self.cfg.port), timeout=2) as sock:
                if self.cfg.tls:
                    context = ssl.create_default_context(cafile=self.cfg.ca_file or None)
                    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
                    with context.wrap_socket(sock, server_hostname=self.cfg.host) as tls:
                        tls.settimeout(1.0)
                        with contextlib.suppress(TimeoutError):
                            tls.recv(1)  # TLS 1.3 reports a refused client certificate only now
        except ssl.SSLError as err:
            if "CERTIFICATE_REQUIRED" in str(err.reason):
                return "TLS failed: the broker requires a client certificate (mqtt.cert_file, mqtt.key_file)"
            return f"TLS failed: {err.reason or err}"
        except OSError as err:
            return err.strerror or str(err)
        return "no answer to the MQTT handshake; is it an MQTT port" + (" with TLS?" if self.cfg.tls else " without TLS?")

    def close(self) -> None:
        self._closing = True
        self.client.disconnect()
        self.client.loop_stop()
        self._connected.clear()

    # ---- subscriptions and publishing --------------------------------------------------------

    def subscribe(self, filters: set[str]) -> None:
        """Keep these filters subscribed, now and after every reconnect."""
        with self._lock:
            new = filters - self._wanted
            self._wanted |= filters
        if new and self.connected:
            self._subscribe(new)

    def _subscribe(self, filters: set[str]) -> None:
        ordered = sorted(filters)
        for i in range(0, len(ordered), SUBSCRIBE_BATCH):  # one SUBSCRIBE packet per batch, not per topic
            self.client.subscribe([(topic, 1) for topic in ordered[i : i + SUBSCRIBE_BATCH]])
        with self._lock:
            self._subscribed |= filters

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        """Fire-and-forget QoS 1 (status messages); skipped while offline, republished on connect."""
        if self.connected:
            self.client.publish(topic, payload, qos=1, retain=retain)

    def publish_command(self, topic: str, payload: str, timeout: float) -> PublishOutcome:
        """Send one command and wait for PUBACK; never queued for later delivery."""
        if not self.connected:
            return PublishOutcome(False, "not connected")
        props = Properties(PacketTypes.PUBLISH)
        props.MessageExpiryInterval = max(1, int(self.cfg.command_expiry_s))
        start = time.monotonic()
        info = self.client.publish(topic, payload, qos=1, retain=False, properties=props)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self.client.drop_out_messages()  # paho would keep a QoS 1 message queued for later
            return PublishOutcome(False, "not connected" if info.rc == mqtt.MQTT_ERR_NO_CONN else mqtt.error_string(info.rc))
        event = threading.Event()
        with self._lock:
            if self._early.pop(info.mid, None):
                event.set()
            else:
                self._acks[info.mid] = event
        acked = event.wait(timeout)
        with self._lock:
            self._acks.pop(info.mid, None)
        if not acked:
            return PublishOutcome(False, "no acknowledgement")
        return PublishOutcome(True, puback_s=time.monotonic() - start)

    # ---- paho callbacks (network thread) -----------------------------------------------------

    def _connected_cb(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self.refused = str(reason)
            self._down_log.warning("MQTT broker %s refused the connection: %s", self.where, reason)
            self._answered.set()
            return
        dropped = client.drop_out_messages()  # never deliver a command from before the outage
        if dropped:
            log.info("dropped %d message(s) queued while the broker was unreachable", len(dropped))
        self.refused = ""
        self.connects += 1
        log.info("connected to MQTT broker %s", self.where)
        with self._lock:
            self._subscribed = set()
            wanted = set(self._wanted)
        self._subscribe(wanted)
        self._connected.set()
        self._answered.set()
        for hook in self._hooks:
            try:
                hook()
            except Exception:
                log.exception("error in MQTT connect hook")

    def _disconnected_cb(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        was = self.connected
        self._connected.clear()
        if was and not self._closing:
            self._down_log.warning("lost the MQTT broker %s (%s); reconnecting", self.where, reason)

    def _published_cb(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._lock:
            event = self._acks.get(mid)
            if event is not None:
                if not getattr(reason, "is_failure", False):
                    event.set()
                return
            self._early[mid] = not getattr(reason, "is_failure", False)
            while len(self._early) > 1000:
                self._early.popitem(last=False)

    def _message_cb(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            self._on_message(msg.topic, bytes(msg.payload))
        except Exception:
            log.exception("error handling MQTT message on %s", msg.topic)


def _no_delay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """Commands are tiny and latency matters: switch Nagle's algorithm off (paho leaves it on)."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
