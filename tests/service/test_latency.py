"""Latency records: stage arithmetic, ring buffer, bounded JSON-lines file, publisher, stats."""

from __future__ import annotations

import json

from assistant.commands.stats import format_summary, summarise
from assistant.service.latency import LatencyLog, LatencyRecord, read_records, summary_line


def record(turn: int, base: float = 100.0, **offsets: float) -> LatencyRecord:
    r = LatencyRecord(turn, wall=1_700_000_000.0)
    for stage, dt in offsets.items():
        r.mark(stage, base + dt)
    return r


def test_stages_are_measured_from_their_reference():
    r = record(1, wake=0.0, speech_start=0.5, speech_end=2.5, prefill=2.9, first_token=3.0, first_audio=3.75)
    r.mark("first_token", 999.0)  # the first mark of a stage wins
    r.mark("no_such_stage", 1.0)  # ignored
    assert r.as_dict()["ms"] == {"speech_start": 500.0, "speech_end": 2000.0, "prefill": 400.0,
                                 "first_token": 500.0, "first_audio": 1250.0}


def test_stage_without_its_reference_is_left_out():
    r = record(2, speech_end=0.0, first_audio=1.0, speech_start=-1.0)  # follow-up turn: no wake
    assert r.as_dict()["ms"] == {"speech_end": 1000.0, "first_audio": 1000.0}


def test_finish_keeps_logs_persists_and_publishes(tmp_path, caplog):
    published = []
    log = LatencyLog(tmp_path / "sub" / "latency.jsonl", keep=2, publisher=published.append)
    caplog.set_level("INFO")
    for i in range(3):
        log.finish(record(i, speech_end=0.0, first_token=0.1 * (i + 1)))
    assert [r["turn"] for r in log.records] == [1, 2]  # ring buffer of 2
    assert [r["turn"] for r in published] == [0, 1, 2]
    lines = (tmp_path / "sub" / "latency.jsonl").read_text().splitlines()
    assert [json.loads(line)["ms"]["first_token"] for line in lines] == [100.0, 200.0, 300.0]
    assert "turn 2 (ok): speech_end→first_token 300 ms" in caplog.text


def test_file_is_bounded(tmp_path):
    path = tmp_path / "latency.jsonl"
    log = LatencyLog(path, file_records=10)
    for i in range(40):
        log.finish(record(i, speech_end=0.0, first_token=0.1))
    lines = path.read_text().splitlines()
    assert 10 <= len(lines) <= 13
    assert json.loads(lines[-1])["turn"] == 39
    reopened = LatencyLog(path, file_records=10)  # counts what is there
    for i in range(40, 45):
        reopened.finish(record(i, speech_end=0.0, first_token=0.1))
    assert len(path.read_text().splitlines()) <= 13


def test_failing_publisher_and_unwritable_file_never_raise(tmp_path, caplog):
    def broken(data):
        raise ConnectionError("broker down")

    blocker = tmp_path / "file"
    blocker.write_text("x")
    log = LatencyLog(blocker / "latency.jsonl", publisher=broken)
    data = log.finish(record(1, speech_end=0.0, first_token=0.2))
    assert data["ms"] == {"first_token": 200.0}
    assert "could not publish" in caplog.text and "could not write latency record" in caplog.text


def test_read_records_skips_bad_lines(tmp_path):
    path = tmp_path / "latency.jsonl"
    path.write_text('{"turn":1,"ms":{"first_token":5}}\nnot json\n\n[1,2]\n{"turn":2,"ms":{"first_token":7}}\n')
    records, bad = read_records(path)
    assert [r["turn"] for r in records] == [1, 2]
    assert bad == 2


def test_summary_percentiles():
    records = [record(i, speech_end=0.0, first_token=i / 1000, tool_call=0.5).as_dict() for i in range(1, 101)]
    records[0]["outcome"] = "cancelled"
    s = summarise(records)
    assert s["turns"] == 100 and s["outcomes"] == {"cancelled": 1, "ok": 99}
    assert s["stages"]["first_token"] == {"from": "speech_end", "n": 100, "p50_ms": 50.5, "p95_ms": 95.0}
    assert s["stages"]["tool_call"]["p95_ms"] == 500.0
    s["file"], s["unreadable_lines"] = "x", 0
    table = format_summary(s)
    assert "first_token   speech_end      100        50        95" in table
    assert summary_line(records[1]).startswith("turn 2 (ok): ")
