"""Per-turn latency records: marked during a turn, logged, kept, published and persisted.

A record holds the monotonic moment of each stage. ``as_dict`` turns them into
milliseconds measured from a reference stage (see ``REFERENCE``), so records from
different turns compare. Records are kept in a ring buffer and appended to a JSON-lines
file that is trimmed to ``file_records`` lines; ``assistant stats`` reads that file.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assistant.service.ports import LatencyPublisher

log = logging.getLogger("assistant.latency")

STAGES = (
    "wake",
    "arbitration",  # only when other assistants were online: the wait for their wake claims
    "speech_start",
    "speech_end",
    "features",
    "encoder",
    "prefill",
    "first_token",
    "tool_call",
    "puback",
    "state_echo",
    "first_audio",
)

# Each stage is reported as the time since its reference stage.
REFERENCE = {"arbitration": "wake", "speech_start": "wake", "speech_end": "speech_start"} | {
    s: "speech_end" for s in STAGES[STAGES.index("features"):]
}

FILE_NAME = "latency.jsonl"


class LatencyRecord:
    """The moments of one turn. ``mark`` is thread-safe; the first mark of a stage wins."""

    def __init__(self, turn: int, wall: float | None = None) -> None:
        self.turn = turn
        self.wall = time.time() if wall is None else wall
        self.marks: dict[str, float] = {}
        self.outcome = ""
        self.tier = ""  # which tier answered ("local" or a remote tier's name); "" without a router
        self._lock = threading.Lock()

    def mark(self, stage: str, t: float | None = None) -> None:
        if stage not in STAGES:
            log.debug("ignoring unknown latency stage %r", stage)
            return
        with self._lock:
            self.marks.setdefault(stage, time.monotonic() if t is None else t)

    def as_dict(self) -> dict[str, Any]:
        """``{"turn", "time", "outcome", "ms": {stage: ms since its reference}}``, plus ``tier`` when known."""
        with self._lock:
            marks = dict(self.marks)
        ms: dict[str, float] = {}
        for stage in STAGES:
            ref = REFERENCE.get(stage)
            if stage in marks and ref in marks:
                ms[stage] = round((marks[stage] - marks[ref]) * 1000.0, 1)
        data: dict[str, Any] = {"turn": self.turn, "time": round(self.wall, 3), "outcome": self.outcome, "ms": ms}
        if self.tier:
            data["tier"] = self.tier
        return data


def summary_line(data: dict[str, Any]) -> str:
    """``turn 3 (ok): speech_end→first_token 812 ms, ...`` for the log."""
    parts = [f"{REFERENCE[s]}→{s} {v:.0f} ms" for s, v in data["ms"].items()]
    return f"turn {data['turn']} ({data['outcome'] or 'ok'}): " + (", ".join(parts) or "no timings")


class LatencyLog:
    """Ring buffer of finished records, plus the JSON-lines file and an optional publisher."""

    def __init__(
        self,
        path: Path | None,
        keep: int = 200,
        file_records: int = 1000,
        publisher: LatencyPublisher | None = None,
    ) -> None:
        self.path = path
        self.records: deque[dict[str, Any]] = deque(maxlen=keep)
        self.file_records = file_records
        self.publisher = publisher
        self._lines = _count_lines(path) if path else 0
        self._lock = threading.Lock()

    def finish(self, record: LatencyRecord) -> dict[str, Any]:
        """Log, keep, persist and publish one record; never raises."""
        data = record.as_dict()
        log.info("%s", summary_line(data))
        with self._lock:
            self.records.append(data)
            if self.path is not None:
                self._append(data)
        if self.publisher is not None:
            try:
                self.publisher(data)
            except Exception as err:
                log.warning("could not publish the latency record: %s", err)
        return data

    def _append(self, data: dict[str, Any]) -> None:
        assert self.path is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(data, separators=(",", ":")) + "\n")
            self._lines += 1
            if self._lines > self.file_records * 1.25:
                self._trim()
        except OSError as err:
            log.warning("could not write latency record to %s: %s", self.path, err.strerror)

    def _trim(self) -> None:
        """Keep the newest ``file_records`` lines, replacing the file atomically."""
        assert self.path is not None
        lines = self.path.read_text(encoding="utf-8").splitlines()[-self.file_records:]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(tmp, self.path)
        self._lines = len(lines)


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as fh:
            return sum(1 for _ in fh)
    except OSError:
        return 0


def read_records(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Records from a JSON-lines file, and how many lines were unreadable."""
    records: list[dict[str, Any]] = []
    bad = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(data, dict) and isinstance(data.get("ms"), dict):
                records.append(data)
            else:
                bad += 1
    return records, bad


def stage_values(records: Iterable[dict[str, Any]]) -> dict[str, list[float]]:
    """Milliseconds per stage, in stage order, over all records that have that stage (only plausible figures:
    a negative or non-finite one, as old ``run --wav --fast`` turns wrote, is left out; see :func:`implausible`)."""
    values: dict[str, list[float]] = {s: [] for s in STAGES if s in REFERENCE}
    for record in records:
        for stage, ms in record["ms"].items():
            if stage in values and _plausible(ms):
                values[stage].append(float(ms))
    return values


def implausible(records: Iterable[dict[str, Any]]) -> int:
    """How many figures :func:`stage_values` leaves out."""
    return sum(1 for r in records for s, ms in r["ms"].items() if s in REFERENCE and not _plausible(ms))


def _plausible(ms: object) -> bool:
    return isinstance(ms, (int, float)) and not isinstance(ms, bool) and 0 <= ms < float("inf")
