"""The clock's checks for ``assistant doctor``: clock synchronisation and the time zone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assistant.clock.sync import clock_check, zone_check


def doctor_checks() -> list[tuple[str, Callable[[Any], tuple[str, str, str]]]]:
    return [("clock", clock_check), ("time zone", zone_check)]
