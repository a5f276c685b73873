"""The wall clock the timers use (injectable), the user's time zone, and when an alarm rings next.

``SystemClock`` is ``time.time``. For tests of a real process, ``$ASSISTANT_TEST_CLOCK_SHIFT_FILE``
names a file holding a number of seconds added to the system clock (re-read at every look, so a
test moves a running service's time forward by rewriting it); nothing else reads that variable.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assistant.errors import ConfigError

log = logging.getLogger("assistant.clock")

SHIFT_ENV = "ASSISTANT_TEST_CLOCK_SHIFT_FILE"


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ShiftedClock:
    """For tests of a real process only: the system clock plus the seconds written in ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> float:
        try:
            shift = float(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            shift = 0.0
        return time.time() + shift


def default_clock() -> Clock:
    """The system clock, or a shifted one when ``$ASSISTANT_TEST_CLOCK_SHIFT_FILE`` is set (tests)."""
    shift = os.environ.get(SHIFT_ENV)
    if shift:
        log.warning("using a shifted test clock from %s", shift)
        return ShiftedClock(Path(shift))
    return SystemClock()


def user_zone(name: str) -> tzinfo:
    """``timers.time_zone``, or the system's zone ('' ); a bad name raises one line."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("config", "timers.time_zone", f"= {name!r}: not a known time zone (e.g. 'Europe/Berlin')") from None
    local = datetime.now().astimezone().tzinfo
    return local if local is not None else ZoneInfo("UTC")


def system_zone_name() -> str:
    """The system's zone name from ``/etc/localtime`` or ``$TZ`` ("" when unknown)."""
    if os.environ.get("TZ"):
        return os.environ["TZ"].lstrip(":")
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        try:
            return Path("/etc/timezone").read_text().strip()
        except OSError:
            return ""
    return target.split("zoneinfo/", 1)[-1] if "zoneinfo/" in target else ""


def local_time(epoch: float, zone: tzinfo) -> datetime:
    return datetime.fromtimestamp(epoch, zone)


def next_alarm(hour: int, minute: int, repeat: str, after: float, zone: tzinfo) -> float:
    """The first epoch second strictly after ``after`` at ``hour:minute`` local time on a day ``repeat`` allows."""
    start = local_time(after, zone)
    for days in range(8):
        day = (start + timedelta(days=days)).date()
        if repeat == "weekdays" and day.weekday() >= 5:
            continue
        if repeat == "weekends" and day.weekday() < 5:
            continue
        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp()
        if candidate > after:
            return candidate
    raise ValueError(f"no day for repeat {repeat!r}")
