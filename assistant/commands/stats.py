"""``assistant stats``: p50 and p95 of every latency stage over the recorded turns."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from assistant.benchmarks.report import percentile
from assistant.config import load_config, state_dir
from assistant.errors import AssistantError
from assistant.service.latency import FILE_NAME, REFERENCE, implausible, read_records, stage_values


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("stats", help="latency per stage over the recorded turns (p50, p95)")
    parser.add_argument("--file", type=Path, help=f"records to read (default: <state_dir>/{FILE_NAME})")
    parser.add_argument("--last", type=int, metavar="N", help="only the newest N turns")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    parser.set_defaults(func=_stats)


def _stats(args: argparse.Namespace) -> int:
    path = args.file or state_dir(load_config(args.config)) / FILE_NAME
    if not path.exists():
        print(f"No latency records yet ({path} does not exist); one is written after every turn.")
        return 0
    try:
        records, bad = read_records(path)
    except OSError as err:
        raise AssistantError(f"{path}: cannot read ({err.strerror})") from None
    if args.last is not None:
        records = records[-args.last:] if args.last > 0 else []
    summary = summarise(records)
    summary["file"], summary["unreadable_lines"] = str(path), bad
    print(json.dumps(summary) if args.json else format_summary(summary))
    return 0


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Turn count, outcomes, and per stage: reference stage, n, p50 and p95 in ms."""
    stages = {}
    for stage, values in stage_values(records).items():
        if values:
            stages[stage] = {"from": REFERENCE[stage], "n": len(values),
                             "p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1)}
    outcomes = Counter(str(r.get("outcome") or "ok") for r in records)
    return {"turns": len(records), "outcomes": dict(outcomes), "stages": stages, "skipped_figures": implausible(records)}


def format_summary(summary: dict[str, Any]) -> str:
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(summary["outcomes"].items()))
    lines = [f"{summary['turns']} turns ({outcomes or 'none'}) from {summary['file']}"]
    if summary["unreadable_lines"]:
        lines.append(f"({summary['unreadable_lines']} unreadable lines skipped)")
    if summary.get("skipped_figures"):
        lines.append(f"({summary['skipped_figures']} negative or invalid timings skipped: turns fed faster than real time)")
    if not summary["stages"]:
        lines.append("No timings recorded yet.")
        return "\n".join(lines)
    lines.append(f"{'stage':<13} {'measured from':<13} {'n':>5} {'p50 ms':>9} {'p95 ms':>9}")
    for stage, s in summary["stages"].items():
        lines.append(f"{stage:<13} {s['from']:<13} {s['n']:>5} {s['p50_ms']:>9.0f} {s['p95_ms']:>9.0f}")
    return "\n".join(lines)
