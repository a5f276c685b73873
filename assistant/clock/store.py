"""Timers and alarms on disk: ``<state_dir>/timers.json``, written atomically under a file lock.

The file is the one truth shared by the service and ``assistant timers``: every change takes the
lock (``<state_dir>/timers.lock``, ``flock``), reads the file, changes it and replaces it
(write a temporary file, fsync, rename), so a crash never leaves half a file and two writers
never lose each other's change. Readers that only look need no lock (a rename is atomic).
Times are Unix epoch seconds, so they survive a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("assistant.clock")

FILE_NAME = "timers.json"
LOCK_NAME = "timers.lock"
REPEATS = ("once", "daily", "weekdays", "weekends")


@dataclass
class Timer:
    """A countdown: ``end`` (epoch seconds) when it rings; ``name`` may be ""."""

    id: int
    name: str
    end: float
    duration: float
    language: str = ""  # the language of the turn that set it (its ring is spoken in it); "" = the default


@dataclass
class Alarm:
    """A time of day (in the configured zone), once or repeating; ``next`` is its next ring (epoch seconds)."""

    id: int
    hour: int
    minute: int
    repeat: str
    next: float
    language: str = ""  # as for a timer


@dataclass
class ClockState:
    timers: list[Timer] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "next_id": self.next_id, "timers": [asdict(t) for t in self.timers],
                "alarms": [asdict(a) for a in self.alarms]}

    @classmethod
    def from_json(cls, data: Any) -> ClockState:
        state = cls()
        if not isinstance(data, dict):
            return state
        for raw in data.get("timers", []):
            with contextlib.suppress(TypeError, ValueError, KeyError):
                state.timers.append(Timer(int(raw["id"]), str(raw["name"]), float(raw["end"]), float(raw["duration"]),
                                          str(raw.get("language", ""))))
        for raw in data.get("alarms", []):
            with contextlib.suppress(TypeError, ValueError, KeyError):
                if raw["repeat"] in REPEATS:
                    state.alarms.append(Alarm(int(raw["id"]), int(raw["hour"]), int(raw["minute"]), str(raw["repeat"]),
                                              float(raw["next"]), str(raw.get("language", ""))))
        ids = [t.id for t in state.timers] + [a.id for a in state.alarms]
        state.next_id = max([int(data.get("next_id", 1)), *(i + 1 for i in ids)])
        return state


class ClockStore:
    """The state file in ``directory``; ``changed()`` tells whether someone else replaced it since we last looked."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / FILE_NAME
        self._seen: tuple[int, int] | None = None

    def read(self) -> ClockState:
        """The current state (empty when there is no file; a corrupt file is logged and read as empty)."""
        seen = self._signature()  # before reading: a replacement after this is seen by ``changed()``
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            self._seen = None
            return ClockState()
        self._seen = seen
        try:
            return ClockState.from_json(json.loads(text))
        except ValueError as err:
            log.warning("%s is not valid JSON (%s); starting without timers", self.path, err)
            return ClockState()

    @contextlib.contextmanager
    def change(self) -> Iterator[ClockState]:
        """Lock, read, let the caller change the state, write it back atomically (not on an exception)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / LOCK_NAME, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = self.read()
                yield state
                self._write(state)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def changed(self) -> bool:
        return self._signature() != self._seen

    def _signature(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_ino)

    def _write(self, state: ClockState) -> None:
        tmp = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
        with open(tmp, "w") as fh:
            json.dump(state.to_json(), fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self._seen = self._signature()
