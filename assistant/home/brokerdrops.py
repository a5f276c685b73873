"""Noticing when the broker drops messages: Mosquitto counts them in ``$SYS/broker/publish/messages/dropped``.

A broker drops a client's QoS 1 messages once its in-flight window and queue are full (Mosquitto's
``max_inflight_messages`` and ``max_queued_messages``, 20 and 1,000 by default). The assistant asks for a
large receive window, so its own discovery replay fits, but a broker that ignores that, or a smaller queue,
still loses devices without a word. The counter is broker-wide and published every ``sys_interval``
(10 s by default); a rise after we connected is warned about, at most once per ``interval_s``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("assistant.home")
DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"


class DropWatch:
    def __init__(self, logger: logging.Logger = log, interval_s: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval_s
        self._clock = clock
        self._last: int | None = None
        self._warned_at = float("-inf")
        self._unreported = 0
        self.dropped = 0  # messages dropped since we first heard the counter

    @staticmethod
    def handles(topic: str) -> bool:
        return topic == DROPPED_TOPIC

    def handle(self, payload: bytes | str) -> None:
        text = payload.decode("ascii", "replace") if isinstance(payload, bytes) else payload
        try:
            value = int(text.strip()[:20])
        except ValueError:
            return
        last, self._last = self._last, value
        if last is None or value <= last:  # the first reading, or a restarted broker
            return
        self.dropped += value - last
        self._unreported += value - last
        now = self._clock()
        if now - self._warned_at < self._interval:
            return
        self._warned_at = now
        self._logger.warning(
            "the MQTT broker reports %d dropped message(s) since the last check: devices or states may be missing "
            "(raise max_queued_messages in mosquitto.conf, or check for slow clients)", self._unreported)
        self._unreported = 0
