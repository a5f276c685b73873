"""Is the system clock synchronised? And the doctor's clock and time-zone checks.

Order: systemd-timesyncd's flag file ``/run/systemd/timesync/synchronized``, else the kernel's
view through ``adjtimex(2)`` (``TIME_ERROR`` = not synchronised; chrony and ntpd keep it
current). An alarm set on a wrong clock rings at the wrong time, so alarms are refused then.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from assistant.config import Config
from assistant.errors import AssistantError

TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
TIME_ERROR = 5
SyncCheck = Callable[[], bool | None]
Finding = tuple[str, str, str]  # (ok | warn | fail, detail, fix): a doctor result


def kernel_synchronized() -> bool | None:
    """``adjtimex`` with no changes: False when the kernel says the clock is unsynchronised, None if unknown."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        buf = ctypes.create_string_buffer(1024)  # struct timex (about 208 bytes), modes = 0: read only
        rc = libc.adjtimex(buf)
    except (OSError, AttributeError):
        return None
    if rc < 0:
        return None
    return rc != TIME_ERROR


def clock_synchronized(flag: Path = TIMESYNC_FLAG, kernel: SyncCheck = kernel_synchronized) -> bool | None:
    """True when synchronised, False when not, None when it cannot be told."""
    if flag.exists():
        return True
    return kernel()


def clock_check(config: Config, synced: SyncCheck = clock_synchronized) -> Finding:
    now = datetime.now().astimezone()
    detail = f"{now:%Y-%m-%d %H:%M}"
    state = synced()
    if state is None:
        return _warn(f"{detail}; cannot tell whether the clock is synchronised",
                           "enable time synchronisation: sudo timedatectl set-ntp true")
    if not state:
        fix = "enable time synchronisation (sudo timedatectl set-ntp true) and check the network"
        if config.timers.require_clock_sync:
            return _warn(f"{detail}; the clock is not synchronised: alarms are refused", fix)
        return _warn(f"{detail}; the clock is not synchronised", fix)
    return _ok(f"{detail}, synchronised")


def zone_check(config: Config) -> Finding:
    from assistant.clock.wallclock import system_zone_name, user_zone

    try:
        zone = user_zone(config.timers.time_zone)
    except AssistantError as err:
        return _fail(str(err), "set timers.time_zone to a name like 'Europe/Berlin', or '' for the system's")
    name = config.timers.time_zone or system_zone_name()
    offset = datetime.now(zone).strftime("%z")
    if not name:
        return _warn(f"system zone unknown (UTC{offset})",
                           "set the system zone (sudo timedatectl set-timezone Europe/Berlin) or timers.time_zone")
    source = "timers.time_zone" if config.timers.time_zone else "system"
    return _ok(f"{name} (UTC{offset}, {source})")


def _ok(detail: str) -> Finding:
    return ("ok", detail, "")


def _warn(detail: str, fix: str) -> Finding:
    return ("warn", detail, fix)


def _fail(detail: str, fix: str) -> Finding:
    return ("fail", detail, fix)
