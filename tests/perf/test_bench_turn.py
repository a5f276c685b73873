"""``assistant bench turn`` end to end on the tiny audio model: a real Mosquitto, espeak-ng commands, the
service's turn code. Checks the structure of the JSON and that the turns reached the broker, not timings."""

from __future__ import annotations

import json
import shutil

import pytest

from assistant.benchmarks.turnhome import COMMANDS, KINDS, devices, home_messages
from tests.conftest import run_cli

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("mosquitto") is None or shutil.which("espeak-ng") is None,
                                 reason="needs mosquitto and espeak-ng")]
MOMENTS = ("first_token", "tool_call", "action", "first_audio")


def test_generated_home_names_every_device_the_commands_use() -> None:
    names = {d.name.lower() for d in devices(20)}
    assert len(devices(200)) == 200 and {d.kind for d in devices(20)} == set(KINDS)
    assert len(home_messages(60)) > 60  # discovery plus first states
    for kind, text in COMMANDS:
        if kind != "question":
            assert any(name in text for name in names), text
    assert len(COMMANDS) >= 20 and {k for k, _ in COMMANDS} == {"switch", "dim", "cover", "climate", "question"}


def test_bench_turn_json_has_every_moment_per_home_and_a_breakdown(perf_tiny_audio_q4, tmp_path, clean_home) -> None:
    result = run_cli("bench", "turn", "--model", str(perf_tiny_audio_q4), "--homes", "20", "--commands", "4",
                     "--fast", "--variants", "base,score", "--q4-block", "128", "--json", env={"HOME": str(clean_home)},
                     timeout=600)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model_settings"]["q4_block"] == 128 and data["model_settings"]["backend"] == "onnxruntime"
    for moment in MOMENTS:
        for key in (f"speech_end_to_{moment}_p50_ms", f"speech_end_to_{moment}_p95_ms"):
            assert key in data and key + "_20" in data and key + "_20_score" in data, key
    for key in ("speech_end_to_first_token_p50_ms_20", "speech_end_to_tool_call_p50_ms_20"):
        assert isinstance(data[key], float) and data[key] > 0, key
    assert data["home_20"]["devices"] == 20 and data["home_20"]["system_tokens"] > 0
    turns = data["turns"]
    assert len(turns) == 8 and {t["variant"] for t in turns} == {"base", "score"}
    assert all(t["outcome"] in ("ok", "stopped") for t in turns)
    made = [t for t in turns if t["call"]]
    assert made and all(t["call"].startswith("<|tool_call>call:") for t in made)
    stages = data["breakdown_20"]
    assert {"prefill", "choose", "wait_live", "encode_rest"} <= set(stages)
    assert stages["prefill"]["tokens_p50"] > 0 and stages["prefill"]["passes_p50"] == 1
    for turn in turns:
        assert turn["passes"][0][0] == "prefill"
        assert {p[0] for p in turn["passes"]} <= {"prefill", "choose", "step", "forced", "score"}


def test_bench_turn_refuses_a_home_smaller_than_the_commands_need(perf_tiny_audio_q4, clean_home) -> None:
    result = run_cli("bench", "turn", "--model", str(perf_tiny_audio_q4), "--homes", "5",
                     env={"HOME": str(clean_home)})
    assert result.returncode == 2 and result.stderr.startswith("assistant: error:")
    assert "20" in result.stderr and "Traceback" not in result.stderr
