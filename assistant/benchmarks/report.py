"""Benchmark results: a readable table by default, one JSON object with ``--json``."""

from __future__ import annotations

import json
import platform
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Row:
    key: str
    value: Any
    unit: str = ""
    label: str = ""
    target: str = ""
    ok: bool | None = None


@dataclass
class Report:
    """Named figures in order, with optional targets; ``emit`` prints and returns the exit code."""

    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self, key: str, value: Any, unit: str = "", label: str = "", target: str = "", ok: bool | None = None
    ) -> None:
        self.rows.append(Row(key, value, unit, label or key.replace("_", " "), target, ok))

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {row.key: _jsonable(row.value) for row in self.rows}
        data["targets_met"] = {row.key: row.ok for row in self.rows if row.ok is not None}
        data["machine"] = machine_description()
        if self.notes:
            data["notes"] = list(self.notes)
        return data

    def table(self) -> str:
        lines = [self.title, "=" * len(self.title), f"machine: {machine_description()}", ""]
        width = max((len(r.label) for r in self.rows), default=10)
        for r in self.rows:
            verdict = "" if r.ok is None else ("  ok" if r.ok else "  MISSED")
            target = f"  (target {r.target})" if r.target else ""
            unit = "" if r.value is None else f" {r.unit}"
            if isinstance(r.value, dict) and r.value:  # one line per entry
                lines.append(r.label)
                lines.extend(f"  {k}: {_fmt_entry(v)}" for k, v in r.value.items())
                continue
            lines.append(f"{r.label:<{width}}  {_fmt(r.value)}{unit}{target}{verdict}".rstrip())
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def emit(self, as_json: bool, out: TextIO | None = None) -> int:
        stream = out or sys.stdout
        if as_json:
            stream.write(json.dumps(self.as_dict(), sort_keys=False) + "\n")
        else:
            stream.write(self.table() + "\n")
        return 0


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(("model name", "Model")):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import os

    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}, Python {platform.python_version()}"


def _fmt(value: Any) -> str:
    if value is None:
        return "not measured yet"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _fmt_entry(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(_fmt_entry(v) if not isinstance(v, list) else "/".join(_fmt(x) for x in v) for v in value)
    return _fmt(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
