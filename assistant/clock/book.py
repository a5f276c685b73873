"""``ClockBook``: timers and alarms, each operation answered with the sentence the assistant speaks.

Every change goes through the store (lock, read, change, atomic write), so ``assistant timers``
and the service never overwrite each other. ``due()`` takes what has ended off the book and
returns it as :class:`Ring` items; one that ended more than ``LATE_S`` ago (the service was
down) rings once with how long ago it ended. ``listeners`` hear every change (MQTT entities).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import tzinfo

from assistant.clock.phrases import say, spoken_ago, spoken_date, spoken_duration, spoken_list, spoken_time, time_sentence
from assistant.clock.store import Alarm, ClockState, ClockStore, Timer
from assistant.clock.sync import SyncCheck, clock_synchronized
from assistant.clock.wallclock import Clock, SystemClock, local_time, next_alarm, user_zone

log = logging.getLogger("assistant.clock")

LATE_S = 60.0  # rang this long after its time (the service was down): say when it ended, ring once
MAX_TIMER_S = 24 * 3600


@dataclass(frozen=True)
class Ring:
    """Something that ended: what to say, and whether to repeat until stopped (not when late)."""

    kind: str  # timer | alarm
    name: str
    due: float
    late_s: float
    text: str
    language: str = "en"  # the language ``text`` is in
    remote: bool = False  # another assistant's timer (``timers.ring_everywhere``): rung here, never published

    @property
    def repeat(self) -> bool:
        return self.late_s < LATE_S


class ClockBook:
    def __init__(self, store: ClockStore, clock: Clock | None = None, zone: tzinfo | None = None, max_items: int = 10,
                 synced: SyncCheck = clock_synchronized, require_sync: bool = True, language: str = "en") -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.zone = zone or user_zone("")
        self.max_items = max_items
        self.synced = synced
        self.require_sync = require_sync
        self.state = store.read()
        self.listeners: list[Callable[[ClockState], None]] = []
        self.default_language = language  # rings of timers set without a language; ``assistant timers``
        self.reply_language: Callable[[], str] = lambda: self.default_language  # the current turn's (the TTS's)

    def _lang(self) -> str:
        return self.reply_language() or self.default_language

    # ---- reading ---------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Re-read the file if another process changed it; True (and listeners told) when it did."""
        if not self.store.changed():
            return False
        self.state = self.store.read()
        self._tell()
        return True

    def timers(self) -> list[Timer]:
        return sorted(self.state.timers, key=lambda t: t.end)

    def alarms(self) -> list[Alarm]:
        return sorted(self.state.alarms, key=lambda a: a.next)

    def names(self) -> list[str]:
        return sorted({t.name for t in self.state.timers if t.name})

    # ---- timers ----------------------------------------------------------------------------------

    def set_timer(self, seconds: float, name: str = "") -> str:
        lang = self._lang()
        if seconds <= 0:
            return say("timer_zero", lang)
        seconds = min(seconds, MAX_TIMER_S)
        with self._change() as state:
            if len(state.timers) + len(state.alarms) >= self.max_items:
                return say("timer_too_many", lang, limit=self.max_items)
            state.timers.append(Timer(state.new_id(), name, self.clock.now() + seconds, seconds, lang))
        log.info("timer %r set for %d s", name, seconds)
        return say("timer_set", lang, name=name, duration=spoken_duration(seconds, lang))

    def left(self, name: str = "") -> str:
        lang = self._lang()
        now = self.clock.now()
        timers = self.timers()
        if name:
            found = [t for t in timers if t.name == name]
            if not found:
                return say("timer_not_found", lang, name=name)
            timers = found[:1]
        if not timers:
            return say("timer_none", lang)
        if len(timers) == 1:
            return say("timer_left", lang, name=timers[0].name, left=spoken_duration(timers[0].end - now, lang))
        items = [say("timer_item", lang, name=t.name or say("timer_unnamed", lang), left=spoken_duration(t.end - now, lang))
                 for t in timers]
        return say("timer_list", lang, count=len(timers), items=spoken_list(items, lang))

    def status(self) -> str:
        """What is left on every timer, then the alarms (when there are any)."""
        timers = self.left()
        if not self.state.alarms:
            return timers
        alarms = self.list_alarms()
        return alarms if not self.state.timers else f"{timers} {alarms}"

    def adjust(self, delta_s: float, name: str = "") -> str:
        lang = self._lang()
        with self._change() as state:
            timer, refusal = self._one(state, name)
            if timer is None:
                return refusal
            timer.end = max(self.clock.now() + 1.0, timer.end + delta_s)
            timer.duration += delta_s
            left = timer.end - self.clock.now()
        return say("timer_changed", lang, name=timer.name, left=spoken_duration(left, lang))

    def cancel(self, name: str = "") -> str:
        """Cancel the timer called ``name``, the only one, or every one (``name == "all"``)."""
        lang = self._lang()
        with self._change() as state:
            if name == "all":
                if not state.timers:
                    return say("timer_none", lang)
                state.timers.clear()
                return say("timer_all_cancelled", lang)
            timer, refusal = self._one(state, name)
            if timer is None:
                return refusal
            state.timers.remove(timer)
        return say("timer_cancelled", lang, name=timer.name)

    def _one(self, state: ClockState, name: str) -> tuple[Timer | None, str]:
        lang = self._lang()
        timers = sorted(state.timers, key=lambda t: t.end)
        if name:
            found = [t for t in timers if t.name == name]
            return (found[0], "") if found else (None, say("timer_not_found", lang, name=name))
        if not timers:
            return None, say("timer_none", lang)
        if len(timers) > 1:
            names = spoken_list([t.name or say("timer_unnamed_which", lang) for t in timers], lang)
            return None, say("timer_which", lang, count=len(timers), names=names)
        return timers[0], ""

    # ---- alarms ----------------------------------------------------------------------------------

    def add_alarm(self, hour: int, minute: int = 0, repeat: str = "once") -> str:
        lang = self._lang()
        if self.require_sync and self.synced() is False:
            return say("alarm_unsynced", lang)
        with self._change() as state:
            if len(state.timers) + len(state.alarms) >= self.max_items:
                return say("timer_too_many", lang, limit=self.max_items)
            when = next_alarm(hour, minute, repeat, self.clock.now(), self.zone)
            state.alarms.append(Alarm(state.new_id(), hour, minute, repeat, when, lang))
        log.info("alarm set for %02d:%02d (%s)", hour, minute, repeat)
        return say("alarm_set", lang, time=spoken_time(hour, minute, language=lang), repeat=say(f"repeat_{repeat}", lang))

    def list_alarms(self) -> str:
        lang = self._lang()
        alarms = self.alarms()
        if not alarms:
            return say("alarm_none", lang)
        items = [spoken_time(a.hour, a.minute, language=lang) + say(f"repeat_{a.repeat}", lang) for a in alarms]
        return say("alarm_list", lang, items=spoken_list(items, lang))

    def cancel_alarm(self, hour: int | None = None, minute: int | None = None) -> str:
        """Cancel the alarms at ``hour`` (and ``minute``), or every alarm when no hour is given."""
        lang = self._lang()
        with self._change() as state:
            if hour is None:
                if not state.alarms:
                    return say("alarm_none", lang)
                state.alarms.clear()
                return say("alarm_all_cancelled", lang)
            found = [a for a in state.alarms if a.hour == hour and (minute is None or a.minute == minute)]
            spoken = spoken_time(hour, minute or 0, language=lang)
            if not found:
                return say("alarm_not_found", lang, time=spoken)
            for alarm in found:
                state.alarms.remove(alarm)
        return say("alarm_cancelled", lang, time=spoken)

    # ---- the clock -------------------------------------------------------------------------------

    def time_or_date(self, what: str) -> str:
        lang = self._lang()
        now = local_time(self.clock.now(), self.zone)
        if what == "date":
            return say("date_today", lang, date=spoken_date(now, lang))
        return time_sentence(now.hour, now.minute, lang)

    # ---- ringing ---------------------------------------------------------------------------------

    def next_due(self) -> float | None:
        ends = [t.end for t in self.state.timers] + [a.next for a in self.state.alarms]
        return min(ends) if ends else None

    def due(self) -> list[Ring]:
        """Take every timer and alarm whose time has come off the book; what to ring for each."""
        now = self.clock.now()
        first = self.next_due()
        if first is None or first > now:
            return []
        rings: list[Ring] = []
        with self._change() as state:
            for timer in [t for t in state.timers if t.end <= now]:
                state.timers.remove(timer)
                rings.append(self._timer_ring(timer, now))
            for alarm in [a for a in state.alarms if a.next <= now]:
                rings.append(self._alarm_ring(alarm, now))
                if alarm.repeat == "once":
                    state.alarms.remove(alarm)
                else:
                    alarm.next = next_alarm(alarm.hour, alarm.minute, alarm.repeat, now, self.zone)
        for ring in rings:
            log.info("ringing: %s", ring.text)
        return rings

    def _timer_ring(self, timer: Timer, now: float) -> Ring:
        late, lang = now - timer.end, timer.language or self.default_language
        if late >= LATE_S:
            text = say("timer_done_late", lang, name=timer.name, ago=spoken_ago(round(late / 60) * 60, lang))
        else:
            text = say("timer_done", lang, name=timer.name)
        return Ring("timer", timer.name, timer.end, late, text, lang)

    def _alarm_ring(self, alarm: Alarm, now: float) -> Ring:
        late, lang = now - alarm.next, alarm.language or self.default_language
        if late >= LATE_S:
            text = say("alarm_ring_late", lang, time=spoken_time(alarm.hour, alarm.minute, language=lang),
                       ago=spoken_ago(round(late / 60) * 60, lang))
        else:
            text = say("alarm_ring", lang, now=time_sentence(alarm.hour, alarm.minute, lang, period=False))
        return Ring("alarm", f"{alarm.hour:02d}:{alarm.minute:02d}", alarm.next, late, text, lang)

    # ---- internals -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _change(self) -> Iterator[ClockState]:
        """The store's locked change; then keep the new state and tell the listeners."""
        with self.store.change() as state:
            yield state
        self.state = state
        self._tell()

    def _tell(self) -> None:
        for listener in self.listeners:
            try:
                listener(self.state)
            except Exception as err:
                log.warning("a timer listener failed: %s", err)
