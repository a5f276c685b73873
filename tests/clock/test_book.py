"""Timers and alarms on a settable clock: set, ask, change, cancel, several at once, persistence, rings."""

from __future__ import annotations

import json
import multiprocessing
from datetime import datetime
from pathlib import Path

from assistant.clock.book import ClockBook
from assistant.clock.phrases import spoken_date, spoken_duration, spoken_time
from assistant.clock.store import ClockStore

from .conftest import START, ZONE, SetClock


def test_set_ask_change_and_cancel_several_timers(book, clock):
    assert book.set_timer(8 * 60, "pasta") == "Pasta timer set for 8 minutes."
    assert book.set_timer(90) == "Timer set for 1 minute and 30 seconds."
    clock.advance(30)
    assert book.left("pasta") == "Pasta timer: 7 minutes and 30 seconds left."
    assert book.left() == "2 timers: one with 1 minute left and pasta with 7 minutes and 30 seconds left."
    assert book.adjust(120).startswith("Which timer? There are 2")
    assert book.adjust(120, "pasta") == "Pasta timer now has 9 minutes and 30 seconds left."
    assert book.adjust(-30 * 60, "pasta") == "Pasta timer now has 1 second left."  # never below now
    assert book.cancel("eggs") == "There is no eggs timer."
    assert book.cancel("pasta") == "Pasta timer cancelled."
    assert [t.name for t in book.timers()] == [""]
    assert book.cancel("all") == "All timers cancelled."
    assert book.left() == "There are no timers."
    assert book.set_timer(0) == "Sorry, how long should the timer run?"


def test_limit_on_timers(book):
    for i in range(5):
        book.set_timer(60 + i)
    assert book.set_timer(60) == "Sorry, I can only keep 5 timers and alarms at once."


def test_timers_survive_a_new_book_and_are_written_atomically(tmp_path, book, clock):
    book.set_timer(600, "tea")
    data = json.loads((tmp_path / "timers.json").read_text())
    assert [t["name"] for t in data["timers"]] == ["tea"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    again = ClockBook(ClockStore(tmp_path), clock, ZONE, synced=lambda: True)
    assert again.left("tea") == "Tea timer: 10 minutes left."


def test_a_timer_rings_once_it_ends_and_is_taken_off(book, clock):
    book.set_timer(60, "eggs")
    clock.advance(59)
    assert book.due() == []
    clock.advance(1)
    (ring,) = book.due()
    assert ring.text == "Your eggs timer is done." and ring.repeat
    assert book.timers() == [] and book.due() == []


def test_a_timer_that_ended_while_down_says_how_long_ago_and_rings_once(tmp_path, book, clock):
    book.set_timer(60, "pasta")
    clock.advance(4 * 60)  # the service was down
    restarted = ClockBook(ClockStore(tmp_path), clock, ZONE, synced=lambda: True)
    (ring,) = restarted.due()
    assert ring.text == "Your pasta timer ended 3 minutes ago."
    assert not ring.repeat


def test_another_writer_is_seen_by_refresh(tmp_path, book, clock):
    other = ClockBook(ClockStore(tmp_path), clock, ZONE, synced=lambda: True)
    seen = []
    book.listeners.append(lambda state: seen.append(len(state.timers)))
    assert not book.refresh()
    other.set_timer(60, "rice")
    assert book.refresh() and seen == [1]
    assert book.left() == "Rice timer: 1 minute left."


def _add_timers(directory: str, n: int) -> None:
    book = ClockBook(ClockStore(Path(directory)), SetClock(), ZONE, max_items=100)
    for _ in range(n):
        book.set_timer(60)


def test_two_processes_changing_the_file_lose_nothing(tmp_path):
    procs = [multiprocessing.get_context("spawn").Process(target=_add_timers, args=(str(tmp_path), 10)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert len(ClockStore(tmp_path).read().timers) == 20


def test_alarm_at_seven_every_weekday_and_its_ring(book, clock):
    assert book.add_alarm(6, 30, "weekdays") == "Alarm set for half past six in the morning on weekdays."
    (alarm,) = book.alarms()
    assert datetime.fromtimestamp(alarm.next, ZONE) == datetime(2026, 12, 7, 6, 30, tzinfo=ZONE)  # Friday -> Monday
    clock.t = alarm.next
    (ring,) = book.due()
    assert ring.text == "It's half past six. Time to wake up."
    (alarm,) = book.alarms()
    assert datetime.fromtimestamp(alarm.next, ZONE) == datetime(2026, 12, 8, 6, 30, tzinfo=ZONE)
    assert book.list_alarms() == "Alarms: half past six in the morning on weekdays."
    assert book.cancel_alarm(6, 30) == "Alarm for half past six in the morning cancelled."
    assert book.list_alarms() == "There are no alarms."


def test_a_one_off_alarm_is_tomorrow_when_the_time_has_passed_and_goes_after_ringing(book, clock):
    book.add_alarm(7)
    (alarm,) = book.alarms()
    assert datetime.fromtimestamp(alarm.next, ZONE) == datetime(2026, 12, 5, 7, 0, tzinfo=ZONE)
    clock.t = alarm.next + 5
    assert len(book.due()) == 1 and book.alarms() == []


def test_alarms_are_refused_politely_on_an_unsynchronised_clock(tmp_path, clock):
    book = ClockBook(ClockStore(tmp_path), clock, ZONE, synced=lambda: False)
    assert book.add_alarm(7) == "Sorry, I can't set an alarm: my clock is not synchronised, so it may be wrong."
    assert book.alarms() == []
    unchecked = ClockBook(ClockStore(tmp_path), clock, ZONE, synced=lambda: False, require_sync=False)
    assert unchecked.add_alarm(7).startswith("Alarm set")


def test_time_and_date_from_the_clock_in_the_users_zone(book, clock):
    assert book.time_or_date("time") == "It's twenty past seven in the evening."
    assert book.time_or_date("date") == "Today is Friday, the 4th of December."
    clock.t = START + 23 * 60 + 13  # 19:43
    assert book.time_or_date("time") == "It's 7:43 in the evening."


def test_spoken_times_and_durations():
    assert spoken_time(7, 0) == "seven o'clock in the morning"
    assert spoken_time(7, 45) == "quarter to eight in the morning"
    assert spoken_time(12, 0) == "noon" and spoken_time(0, 0) == "midnight"
    assert spoken_time(23, 35, period=False) == "twenty-five to twelve"
    assert spoken_time(14, 15) == "quarter past two in the afternoon"
    assert spoken_duration(3600 + 5 * 60 + 3) == "1 hour and 5 minutes"
    assert spoken_duration(45) == "45 seconds"
    assert spoken_date(datetime(2026, 3, 22)) == "Sunday, the 22nd of March"
    assert spoken_date(datetime(2026, 3, 11)) == "Wednesday, the 11th of March"
