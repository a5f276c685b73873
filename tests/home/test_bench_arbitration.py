"""``assistant bench arbitration`` through the CLI on a private Mosquitto: figures reported, one answer per round."""

from __future__ import annotations

import json

from tests.conftest import run_cli

from .conftest import needs_mosquitto

pytestmark = needs_mosquitto


def test_bench_arbitration_reports_the_added_latency_and_one_answer_per_round(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[mqtt]\nhost = "127.0.0.1"\nport = 1\n')  # never used: --spawn-broker
    result = run_cli("-c", str(config), "bench", "arbitration", "--spawn-broker", "--rounds", "2", "--json", timeout=90)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["rounds_with_one_answer"] == "2 of 2" and data["rounds_loudest_answered"] == "2 of 2"
    assert data["window_ms"] == 150 and data["targets_met"] == {"rounds_with_one_answer": True,
                                                                "rounds_loudest_answered": True}
    for key in ("alone_added_ms", "winner_added_ms_median", "winner_added_ms_p90", "loser_decided_ms_median",
                "claim_echo_ms_median"):
        assert isinstance(data[key], float) and data[key] >= 0
    table = run_cli("-c", str(config), "bench", "arbitration", "--spawn-broker", "--rounds", "1", "--assistants", "2",
                    timeout=90)
    assert table.returncode == 0 and "rounds answered exactly once" in table.stdout


def test_bench_arbitration_bad_usage_is_one_line(tmp_path):
    result = run_cli("bench", "arbitration", "--assistants", "1", timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("assistant: error:")
