"""The clock wired into the service: ``with_clock(config, bus, home)`` -> ``ClockBus``; ``make_ringer(...)``.

The bus gains the clock's tools; the ringer is ticked by the loop; with MQTT on, the timers'
entities join the announcer's device and every change and ring is published.
"""

from __future__ import annotations

from typing import Any

from assistant.clock.book import ClockBook
from assistant.clock.entities import ClockEntities
from assistant.clock.ringer import Player, Ringer
from assistant.clock.store import ClockStore
from assistant.clock.tools import ClockBus, ClockTools
from assistant.clock.wallclock import Clock, default_clock, user_zone
from assistant.config import Config, state_dir
from assistant.protocols import Bus, Tts


def open_book(config: Config, clock: Clock | None = None) -> ClockBook:
    """The timers and alarms in the state directory, with the configured zone and clock."""
    t = config.timers
    return ClockBook(ClockStore(state_dir(config)), clock or default_clock(), user_zone(t.time_zone), t.max_timers,
                     require_sync=t.require_clock_sync, language=config.language.default)


def timer_names(config: Config) -> list[str]:
    return [n.strip().lower() for n in config.timers.names.split(",") if n.strip()]


def with_clock(config: Config, bus: Bus, home: Any = None, book: ClockBook | None = None) -> ClockBus:
    """``bus`` plus the clock's tools; with ``home`` (MQTT on), the timers' entities join the assistant's device."""
    book = book or open_book(config)
    clock_bus = ClockBus(bus, ClockTools(book, timer_names(config)))
    if home is not None and config.mqtt.announce:
        announcer = home.announcer
        clock_bus.entities = entities = ClockEntities(book, announcer.link, announcer.root, announcer.node,
                                                         config.timers.ring_everywhere)
        announcer.extend(entities)
        book.listeners.append(entities.publish)
        if announcer.link is not None and announcer.link.connected:
            announcer.announce()  # the discovery config went out at connect, without the timers
    return clock_bus


def make_ringer(config: Config, bus: ClockBus, tts: Tts, player: Player) -> Ringer:
    """The ringer for ``bus``'s book, publishing rings and the remaining time when MQTT is on. With a
    multilingual ``tts`` the book answers in the reply's language (``LanguageTts.reply_language``)."""
    reply_language = getattr(tts, "reply_language", None)
    if callable(reply_language):
        bus.clock.book.reply_language = reply_language
    entities = bus.entities
    ringer = Ringer(bus.clock.book, tts, player, config.timers.ring_max_s, config.timers.ring_pause_s,
                  on_ring=entities.ring if entities is not None else lambda rings: None,
                  on_tick=entities.publish if entities is not None else lambda: None)
    if entities is not None and entities.remote is not None:
        entities.remote.sink = ringer.ring_remote  # other assistants' timers ring here too
    return ringer
