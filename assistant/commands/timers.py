"""``assistant timers``: list, add and cancel timers and alarms in the state directory.

It changes ``<state_dir>/timers.json`` under the same lock as the service, which notices the
change within a second (and republishes its MQTT entities); so it works with the service
running or stopped.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from assistant.config import Config, load_config
from assistant.errors import AssistantError


class UsageError(AssistantError):
    exit_code = 2


class NotFound(AssistantError):
    exit_code = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("timers", help="list, add or cancel timers and alarms")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=_list)
    sub = parser.add_subparsers(dest="timers_command", metavar="ACTION")
    listing = sub.add_parser("list", help="the running timers and the alarms (the default)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of text")
    listing.set_defaults(func=_list)
    add = sub.add_parser("add", help="start a timer, e.g. 'assistant timers add 8m --name pasta'")
    add.add_argument("duration", help="like 90s, 8m, 1h30m")
    add.add_argument("--name", default="", help="the timer's name")
    add.set_defaults(func=_add)
    cancel = sub.add_parser("cancel", help="cancel a timer by name, an alarm by HH:MM, or 'all' timers")
    cancel.add_argument("which", help="a timer's name, an alarm's time (07:30), or all")
    cancel.set_defaults(func=_cancel)


def parse_duration(text: str) -> int:
    """Seconds in ``1h30m``, ``8m``, ``90s``, ``8`` (minutes)."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text) * 60
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not text or match is None:
        raise UsageError(f"duration {text!r}: write it like 90s, 8m or 1h30m")
    h, m, s = (int(g or 0) for g in match.groups())
    return 3600 * h + 60 * m + s


def open_book(config: Config) -> Any:
    from assistant.clock.service import open_book as open_clock_book  # numpy and the MQTT stage: only when used

    return open_clock_book(config)


def _list(args: argparse.Namespace) -> int:
    from assistant.clock.phrases import spoken_duration
    from assistant.clock.wallclock import local_time

    book = open_book(load_config(args.config))
    now = book.clock.now()
    timers, alarms = book.timers(), book.alarms()
    if args.json:
        print(json.dumps({"timers": [{"name": t.name, "end": t.end, "remaining_s": round(t.end - now)} for t in timers],
                          "alarms": [{"time": f"{a.hour:02d}:{a.minute:02d}", "repeat": a.repeat, "next": a.next}
                                     for a in alarms]}))
        return 0
    if not timers and not alarms:
        print("No timers or alarms.")
    for t in timers:
        print(f"timer  {t.name or '(no name)':<12} {spoken_duration(max(0, t.end - now))} left")
    for a in alarms:
        when = local_time(a.next, book.zone)
        print(f"alarm  {a.hour:02d}:{a.minute:02d} {a.repeat:<8} next {when:%a %Y-%m-%d %H:%M}")
    return 0


def _add(args: argparse.Namespace) -> int:
    seconds = parse_duration(args.duration)
    if seconds <= 0:
        raise UsageError("the duration must be more than 0 seconds")
    book = open_book(load_config(args.config))
    print(book.set_timer(seconds, args.name.strip().lower()))
    return 0


def _cancel(args: argparse.Namespace) -> int:
    book = open_book(load_config(args.config))
    which = args.which.strip().lower()
    alarm = re.fullmatch(r"(\d{1,2}):(\d{2})", which)
    if alarm:
        hour, minute = int(alarm[1]), int(alarm[2])
        if not any(a.hour == hour and a.minute == minute for a in book.alarms()):
            raise NotFound(f"there is no alarm at {hour:02d}:{minute:02d}")
        print(book.cancel_alarm(hour, minute))
        return 0
    if which != "all" and not any(t.name == which for t in book.timers()):
        raise NotFound(f"there is no timer called {which!r} (see 'assistant timers')")
    print(book.cancel(which))
    return 0
