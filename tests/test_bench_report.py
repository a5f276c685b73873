"""The benchmark report: readable table and a single JSON object."""

from __future__ import annotations

import io
import json
import math

from assistant.benchmarks.report import Report, percentile


def test_percentile_interpolates():
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([0.0, 10.0], 95) == 9.5
    assert math.isnan(percentile([], 50))


def test_report_table_and_json():
    report = Report("bench demo")
    report.add("decode_tok_s", 7.5, "tok/s", target=">= 7", ok=True)
    report.add("peak_rss_mb", float("nan"), "MB", ok=False)
    report.notes.append("measured twice")
    table = io.StringIO()
    report.emit(False, table)
    assert "decode tok s  7.5 tok/s  (target >= 7)  ok" in table.getvalue()
    assert "MISSED" in table.getvalue()
    out = io.StringIO()
    report.emit(True, out)
    data = json.loads(out.getvalue())
    assert data["decode_tok_s"] == 7.5
    assert data["peak_rss_mb"] is None
    assert data["targets_met"] == {"decode_tok_s": True, "peak_rss_mb": False}
    assert out.getvalue().count("\n") == 1
