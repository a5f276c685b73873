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

from assistant.clock.phrases import say, spoken_date, spoken_duration, spoken_list, spoken_time
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

    @property
    def repeat(self) -> bool:
        return self.late_s < LATE_S


class ClockBook:
    def __init__(self, store: ClockStore, clock: Clock | None = None, zone: tzinfo | None = None, max_items: int = 10,
                 synced: SyncCheck = clock_synchronized, require_sync: bool = True) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.zone = zone or user_zone("")
        self.max_items = max_items
        self.synced = synced
        self.require_sync = require_sync
        self.state = store.read()
        self.listeners: list[Callable[[ClockState], None]] = []

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
        if seconds <= 0:
            return say("timer_zero")
        seconds = min(seconds, MAX_TIMER_S)
        with self._change() as state:
            if len(state.timers) + len(state.alarms) >= self.max_items:
                return say("timer_too_many", limit=self.max_items)
            state.timers.append(Timer(state.new_id(), name, self.clock.now() + seconds, seconds))
        log.info("timer %r set for %d s", name, seconds)
        if name:
            return say("timer_set", name=name, duration=spoken_duration(seconds))
        return say("timer_set_unnamed", duration=spoken_duration(seconds))

    def left(self, name: str = "") -> str:
        now = self.clock.now()
        timers = self.timers()
        if name:
            found = [t for t in timers if t.name == name]
            if not found:
                return say("timer_not_found", name=name)
            timers = found[:1]
        if not timers:
            return say("timer_none")
        if len(timers) == 1:
            return say("timer_left", name=timers[0].name, left=spoken_duration(timers[0].end - now))
        items = [say("timer_item", name=t.name or "one", left=spoken_duration(t.end - now)) for t in timers]
        return say("timer_list", count=len(timers), items=spoken_list(items))

    def status(self) -> str:
        """What is left on every timer, then the alarms (when there are any)."""
        timers = self.left()
        if not self.state.alarms:
            return timers
        alarms = self.list_alarms()
        return alarms if not self.state.timers else f"{timers} {alarms}"

    def adjust(self, delta_s: float, name: str = "") -> str:
        with self._change() as state:
            timer, refusal = self._one(state, name)
            if timer is None:
                return refusal
            timer.end = max(self.clock.now() + 1.0, timer.end + delta_s)
            timer.duration += delta_s
            left = timer.end - self.clock.now()
        return say("timer_changed", name=timer.name, left=spoken_duration(left))

    def cancel(self, name: str = "") -> str:
        """Cancel the timer called ``name``, the only one, or every one (``name == "all"``)."""
        with self._change() as state:
            if name == "all":
                if not state.timers:
                    return say("timer_none")
                state.timers.clear()
                return say("timer_all_cancelled")
            timer, refusal = self._one(state, name)
            if timer is None:
                return refusal
            state.timers.remove(timer)
        return say("timer_cancelled", name=timer.name)

    def _one(self, state: ClockState, name: str) -> tuple[Timer | None, str]:
        timers = sorted(state.timers, key=lambda t: t.end)
        if name:
            found = [t for t in timers if t.name == name]
            return (found[0], "") if found else (None, say("timer_not_found", name=name))
        if not timers:
            return None, say("timer_none")
        if len(timers) > 1:
            names = spoken_list([t.name or "one without a name" for t in timers])
            return None, say("timer_which", count=len(timers), names=names)
        return timers[0], ""

    # ---- alarms ----------------------------------------------------------------------------------

    def add_alarm(self, hour: int, minute: int = 0, repeat: str = "once") -> str:
        if self.require_sync and self.synced() is False:
            return say("alarm_unsynced")
        with self._change() as state:
            if len(state.timers) + len(state.alarms) >= self.max_items:
                return say("timer_too_many", limit=self.max_items)
            when = next_alarm(hour, minute, repeat, self.clock.now(), self.zone)
            state.alarms.append(Alarm(state.new_id(), hour, minute, repeat, when))
        log.info("alarm set for %02d:%02d (%s)", hour, minute, repeat)
        return say("alarm_set", time=spoken_time(hour, minute), repeat=say(f"repeat_{repeat}"))

    def list_alarms(self) -> str:
        alarms = self.alarms()
        if not alarms:
            return say("alarm_none")
        items = [spoken_time(a.hour, a.minute) + say(f"repeat_{a.repeat}") for a in alarms]
        return say("alarm_list", items=spoken_list(items))

    def cancel_alarm(self, hour: int | None = None, minute: int | None = None) -> str:
        """Cancel the alarms at ``hour`` (and ``minute``), or every alarm when no hour is given."""
        with self._change() as state:
            if hour is None:
                if not state.alarms:
                    return say("alarm_none")
                state.alarms.clear()
                return say("alarm_all_cancelled")
            found = [a for a in state.alarms if a.hour == hour and (minute is None or a.minute == minute)]
            spoken = spoken_time(hour, minute or 0)
            if not found:
                return say("alarm_not_found", time=spoken)
            for alarm in found:
                state.alarms.remove(alarm)
        return say("alarm_cancelled", time=spoken)

    # ---- the clock -------------------------------------------------------------------------------

    def time_or_date(self, what: str) -> str:
        now = local_time(self.clock.now(), self.zone)
        if what == "date":
            return say("date_today", date=spoken_date(now))
        return say("time_now", time=spoken_time(now.hour, now.minute))

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
        late = now - timer.end
        if late >= LATE_S:
            text = say("timer_done_late", name=timer.name, ago=spoken_duration(round(late / 60) * 60))
        else:
            text = say("timer_done", name=timer.name)
        return Ring("timer", timer.name, timer.end, late, text)

    def _alarm_ring(self, alarm: Alarm, now: float) -> Ring:
        late = now - alarm.next
        spoken = spoken_time(alarm.hour, alarm.minute)
        if late >= LATE_S:
            text = say("alarm_ring_late", time=spoken, ago=spoken_duration(round(late / 60) * 60))
        else:
            text = say("alarm_ring", time=spoken_time(alarm.hour, alarm.minute, period=False))
        return Ring("alarm", f"{alarm.hour:02d}:{alarm.minute:02d}", alarm.next, late, text)

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
