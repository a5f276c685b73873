"""Everything the timers, alarms and the clock say, in one table (English), and how times are spoken.

``PHRASES`` maps a phrase id to a format string; ``say(id, **fields)`` fills it. The table is the
one place to translate: a language module can offer its own table with the same ids and fields.
Times and durations are spoken in words the way people say them ("twenty past seven",
"8 minutes and 30 seconds").
"""

from __future__ import annotations

from datetime import datetime

PHRASES: dict[str, str] = {
    # timers
    "timer_set": "{name_cap}timer set for {duration}.",
    "timer_set_unnamed": "Timer set for {duration}.",
    "timer_left": "{name_cap}timer: {left} left.",
    "timer_none": "There are no timers.",
    "timer_not_found": "There is no {name} timer.",
    "timer_list": "{count} timers: {items}.",
    "timer_item": "{name} with {left} left",
    "timer_cancelled": "{name_cap}timer cancelled.",
    "timer_all_cancelled": "All timers cancelled.",
    "timer_changed": "{name_cap}timer now has {left} left.",
    "timer_too_many": "Sorry, I can only keep {limit} timers and alarms at once.",
    "timer_zero": "Sorry, how long should the timer run?",
    "timer_which": "Which timer? There are {count}: {names}.",
    "timer_done": "Your {name}timer is done.",
    "timer_done_late": "Your {name}timer ended {ago} ago.",
    # alarms
    "alarm_set": "Alarm set for {time}{repeat}.",
    "alarm_none": "There are no alarms.",
    "alarm_list": "Alarms: {items}.",
    "alarm_cancelled": "Alarm for {time} cancelled.",
    "alarm_all_cancelled": "All alarms cancelled.",
    "alarm_not_found": "There is no alarm for {time}.",
    "alarm_unsynced": "Sorry, I can't set an alarm: my clock is not synchronised, so it may be wrong.",
    "alarm_ring": "It's {time}. Time to wake up.",
    "alarm_ring_late": "Your alarm for {time} went off {ago} ago.",
    # the clock
    "time_now": "It's {time}.",
    "date_today": "Today is {date}.",
    # repeat names
    "repeat_once": "",
    "repeat_daily": " every day",
    "repeat_weekdays": " on weekdays",
    "repeat_weekends": " at weekends",
}

HOURS = ("twelve", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven")
MINUTE_WORDS = {5: "five", 10: "ten", 15: "quarter", 20: "twenty", 25: "twenty-five", 30: "half"}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def say(phrase_id: str, **fields: object) -> str:
    """The phrase ``phrase_id`` with ``fields`` filled in; ``name`` also gives ``name_cap`` ("Pasta ")."""
    name = str(fields.get("name", "") or "")
    fields.setdefault("name_cap", f"{name.capitalize()} " if name else "")
    if "name" in fields and name and phrase_id in ("timer_done", "timer_done_late"):
        fields["name"] = f"{name} "
    return PHRASES[phrase_id].format(**fields)


def spoken_time(hour: int, minute: int, period: bool = True) -> str:
    """"twenty past seven in the evening", "seven o'clock", "noon", "7:23 in the morning"."""
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else "noon"
    if minute % 5 == 0:
        if minute == 0:
            text = f"{HOURS[hour % 12]} o'clock"
        elif minute <= 30:
            text = f"{MINUTE_WORDS[minute]} past {HOURS[hour % 12]}"
        else:
            text = f"{MINUTE_WORDS[60 - minute]} to {HOURS[(hour + 1) % 12]}"
            hour = (hour + 1) % 24 if minute > 30 else hour
    else:
        text = f"{hour % 12 or 12}:{minute:02d}"
    if not period:
        return text
    return f"{text} {_period(hour)}"


def _period(hour: int) -> str:
    if hour < 12:
        return "in the morning" if hour >= 3 else "at night"
    if hour < 18:
        return "in the afternoon"
    return "in the evening" if hour < 22 else "at night"


def spoken_date(when: datetime) -> str:
    """"Friday, the 4th of December"."""
    day = when.day
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{WEEKDAYS[when.weekday()]}, the {day}{suffix} of {MONTHS[when.month - 1]}"


def spoken_duration(seconds: float) -> str:
    """"1 hour and 5 minutes", "8 minutes and 30 seconds", "45 seconds" (rounded to whole seconds)."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second"))
             if n]
    if hours and secs:  # "1 hour, 2 minutes and 3 seconds" is more than anyone wants to hear
        parts = parts[:2] if minutes else parts[:1]
    if not parts:
        return "0 seconds"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def spoken_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
