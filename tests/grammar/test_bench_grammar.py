"""``assistant bench grammar``: free-token counts from the tokenizer alone, measured passes with the model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.benchmarks.grammar import SAMPLE_HOME, TYPICAL_COMMANDS, command_costs
from assistant.engine.grammar.grammar import call_text, compile_schema
from tests.conftest import run_cli


def test_every_typical_command_is_in_the_sample_home_grammar() -> None:
    grammar = compile_schema(SAMPLE_HOME)
    assert len(TYPICAL_COMMANDS) == 10
    assert all(grammar.accepts(call_text(name, args)) for _, name, args in TYPICAL_COMMANDS)


def test_costs_from_the_tokenizer_alone(tokenizer) -> None:
    costs = command_costs(tokenizer)
    assert len(costs) == 10 and max(c.free for c in costs) <= 8 and min(c.forced for c in costs) > 10


def test_bench_reports_max_free_tokens_from_the_tokenizer_files(tokenizer_dir: Path, clean_home) -> None:
    proc = run_cli("bench", "grammar", "--model", str(tokenizer_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["max_free_tokens_per_command"] <= 8 and data["targets_met"]["max_free_tokens_per_command"] is True
    assert len(data["notes"]) == 10 and "'turn on the kitchen light'" in data["notes"][0]
    table = run_cli("bench", "grammar", "--model", str(tokenizer_dir))
    assert table.returncode == 0 and "max free tokens per command" in table.stdout


@pytest.mark.slow
def test_bench_measures_passes_with_the_model(grammar_model_dir: Path, clean_home) -> None:
    proc = run_cli("bench", "grammar", "--model", str(grammar_model_dir), "--measure", "--precision", "fp32", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["decode_pass_ms"] > 0 and data["batched_token_ms"] > 0
    assert data["max_passes_with_scoring"] <= data["max_decoder_passes_per_command"]


def test_bench_errors_are_one_line(tmp_path: Path, tokenizer_dir: Path, clean_home) -> None:
    proc = run_cli("bench", "grammar", "--model", str(tmp_path / "none"))
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "tokenizer.json: missing" in proc.stderr
    partial = tmp_path / "tokenizer-only"
    shutil.copytree(tokenizer_dir, partial)
    proc = run_cli("bench", "grammar", "--model", str(partial), "--measure")
    assert proc.returncode == 1 and proc.stderr.startswith("assistant: error: ") and proc.stderr.count("\n") == 1
