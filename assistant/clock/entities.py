"""Timers and alarms on MQTT: the assistant's own topics, and Home Assistant entities by discovery.

Topics (under the announcer's root, ``assistant/<client_id>``):

- ``.../timers`` (retained JSON): ``count``, ``next_name``, ``next_end`` (ISO time), ``remaining_s``,
  ``alarms``, ``next_alarm`` (ISO time), ``timers`` (the list). Republished on every change and
  every few seconds while a timer runs.
- ``.../timer_event`` (not retained): ``{"event_type": "timer_finished" | "alarm", "name", "late_s"}``
  when one rings, for automations.

Home Assistant components (added to the announcer's device): sensors "Timers" (count), "Next
timer" (remaining seconds, with the timer's name and end as attributes), "Next timer ends"
and "Next alarm" (timestamps; ``None``, shown as unknown, when there is none), and an ``event``
entity "Timer" that fires when one rings.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol

from assistant.clock.book import ClockBook, Ring
from assistant.clock.everywhere import RemoteRings
from assistant.clock.store import ClockState


class Link(Protocol):
    """The MQTT connection (``assistant.home.connection.Connection``): publish only queues."""

    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: str, retain: bool = False) -> None: ...

EVENT_TYPES = ("timer_finished", "alarm")


def _iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds") if epoch is not None else None


class ClockEntities:
    """Publishes the book's state and rings; ``components()`` joins the announcer's discovery config."""

    def __init__(self, book: ClockBook, link: Link | None, root: str, node: str, ring_everywhere: bool = False) -> None:
        self.book, self.link, self.root, self.node = book, link, root, node
        self.state_topic = f"{root}/timers"
        self.event_topic = f"{root}/timer_event"
        self.remote = RemoteRings(root.rsplit("/", 1)[0], self.event_topic,
                                   lambda: book.reply_language() or book.default_language) if ring_everywhere else None

    def payload(self, state: ClockState | None = None) -> dict[str, Any]:
        state = state or self.book.state
        now = self.book.clock.now()
        timers = sorted(state.timers, key=lambda t: t.end)
        alarms = sorted(state.alarms, key=lambda a: a.next)
        first = timers[0] if timers else None
        return {
            "count": len(timers),
            "next_name": first.name if first else "",
            "next_end": _iso(first.end) if first else None,
            "remaining_s": max(0, round(first.end - now)) if first else 0,
            "alarms": len(alarms),
            "next_alarm": _iso(alarms[0].next) if alarms else None,
            "timers": [{"name": t.name, "end": _iso(t.end), "remaining_s": max(0, round(t.end - now))} for t in timers],
        }

    def publish(self, state: ClockState | None = None) -> None:
        if self.link is not None and self.link.connected:
            self.link.publish(self.state_topic, self._state_json(state), retain=True)

    def _state_json(self, state: ClockState | None = None) -> str:
        return json.dumps(self.payload(state), separators=(",", ":"))

    # ---- the announcer's Extension: announced with the assistant's device, state retained ----------

    def subscriptions(self) -> set[str]:
        # changes come from tools and `assistant timers`, not from MQTT commands; other assistants' rings
        return {self.remote.filter} if self.remote is not None else set()

    def states(self) -> dict[str, str]:
        return {self.state_topic: self._state_json()}

    def handle(self, topic: str, payload: bytes) -> bool:
        return self.remote is not None and self.remote.handle(topic, payload)

    def ring(self, rings: list[Ring]) -> None:
        if self.link is None or not self.link.connected:
            return
        for ring in [r for r in rings if not r.remote]:
            event = {"event_type": "timer_finished" if ring.kind == "timer" else "alarm", "name": ring.name,
                     "late_s": round(ring.late_s)}
            self.link.publish(self.event_topic, json.dumps(event, separators=(",", ":")))
        self.publish()

    def components(self) -> dict[str, Any]:
        n, t = self.node, self.state_topic

        def sensor(key: str, name: str, template: str, **extra: Any) -> dict[str, Any]:
            return {"p": "sensor", "name": name, "unique_id": f"{n}_{key}", "state_topic": t,
                    "value_template": template, "icon": "mdi:timer-outline", **extra}

        return {
            "timers": sensor("timers", "Timers", "{{ value_json.count }}", state_class="measurement"),
            "next_timer": sensor("next_timer", "Next timer", "{{ value_json.remaining_s }}", unit_of_measurement="s",
                                 device_class="duration", json_attributes_topic=t,
                                 json_attributes_template="{{ {'name': value_json.next_name, "
                                                          "'end': value_json.next_end} | tojson }}"),
            "next_timer_end": sensor("next_timer_end", "Next timer ends",
                                     "{{ value_json.next_end }}",
                                     device_class="timestamp"),
            "next_alarm": sensor("next_alarm", "Next alarm",
                                 "{{ value_json.next_alarm }}",
                                 device_class="timestamp", icon="mdi:alarm"),
            "timer_event": {"p": "event", "name": "Timer", "unique_id": f"{n}_timer_event", "state_topic": self.event_topic,
                            "event_types": list(EVENT_TYPES), "icon": "mdi:timer-alert"},
        }
