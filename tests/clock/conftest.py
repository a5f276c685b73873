"""Fixtures for the clock: a settable wall clock and a book in a temporary state directory."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from assistant.clock.book import ClockBook
from assistant.clock.store import ClockStore

from ..audio.conftest import pulse  # noqa: F401 - fixture
from ..engine.conftest import tiny_audio_dir, tiny_model_dir  # noqa: F401 - fixtures
from ..grammar.conftest import grammar_model_dir  # noqa: F401 - fixture

ZONE = ZoneInfo("Europe/Berlin")
START = datetime(2026, 12, 4, 19, 20, tzinfo=ZONE).timestamp()  # a Friday, 19:20 in Berlin


class SetClock:
    """A wall clock the test moves by hand (no sleeping)."""

    def __init__(self, t: float = START) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> SetClock:
    return SetClock()


@pytest.fixture
def book(tmp_path, clock) -> ClockBook:
    return ClockBook(ClockStore(tmp_path), clock, ZONE, max_items=5, synced=lambda: True)
