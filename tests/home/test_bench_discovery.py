"""``assistant bench discovery``: a table by default, one JSON object with --json, every device ingested."""

from __future__ import annotations

import json

from tests.conftest import run_cli

from .conftest import needs_mosquitto

pytestmark = needs_mosquitto


def test_bench_discovery_json_and_table(clean_home) -> None:
    result = run_cli("bench", "discovery", "--devices", "40", "--json", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["ingested"] == 40 and data["targets_met"]["ingested"] is True
    assert {"ingest_s", "ingest_cpu_s", "us_per_device_10", "us_per_device_20", "us_per_device_40",
            "per_device_growth", "machine"} <= set(data)
    table = run_cli("bench", "discovery", "--devices", "8", timeout=120)
    assert table.returncode == 0 and "ingest 8 devices" in table.stdout and "devices in the registry" in table.stdout


def test_bench_discovery_refuses_a_tiny_home_in_one_line(clean_home) -> None:
    result = run_cli("bench", "discovery", "--devices", "2", timeout=60)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and "at least 4" in result.stderr
