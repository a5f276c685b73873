"""``assistant bench engine`` end to end on tiny models: every figure is there, with the right type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow

RATIOS = ("decode_to_ceiling_ratio", "overhead_ms_per_step", "ttft_prefix_ratio", "peak_rss_mb", "ple_resident_mb",
          "eos_to_first_token_ratio_10s_1s", "max_free_tokens_per_command", "busy_core_vs_1_thread_ratio")
FIGURES = ("read_bandwidth_gb_s", "bytes_per_token_mb", "decode_tok_s", "decode_ceiling_tok_s", "prefill_tok_s",
           "ttft_none_s", "ttft_400_s", "ttft_400_cached_s", "audio_encoder_s_per_audio_s", "eos_to_first_token_1s_s",
           "eos_to_first_token_3s_s", "eos_to_first_token_10s_s", "decode_tok_s_1_threads", "decode_tok_s_2_threads",
           "iobinding_decode_tok_s", "bare_step_ms", "plain_step_ms", "ttft_400_first_turn_s",
           "batch_eos_to_first_token_10s_s", "batch_eos_to_first_token_ratio_10s_1s", "busy_core_decode_tok_s",
           "busy_core_quiet_tok_s", "busy_core_decode_ratio", "busy_core_vs_2_threads_ratio")


def _bench(model: Path, cache: Path, home: Path, *extra: str) -> dict:
    result = run_cli("bench", "engine", "--model", str(model), "--steps", "3", "--cache-dir", str(cache), *extra,
                     env={"HOME": str(home)}, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_bench_engine_json_reports_every_figure(perf_tiny_audio_q4, tmp_path, clean_home) -> None:
    data = _bench(perf_tiny_audio_q4, tmp_path / "cache", clean_home, "--json", "--compare")
    for key in (*RATIOS, *FIGURES):
        assert isinstance(data[key], float), key
        assert data[key] >= 0, key
    assert isinstance(data["overhead_ab_ms_per_step"], float)  # a difference of two runs: may dip below 0
    assert 0 < data["overhead_ms_per_step"] < data["plain_step_ms"]  # time outside session.run, inside each step
    for key in ("published_decode_tok_s", "optimised_decode_tok_s", "optimise_decode_speedup", "optimise_prefill_speedup"):
        assert isinstance(data[key], float) and data[key] > 0, key
    assert data["ttft_400_cached_tokens"] > 0  # the warm turn restored the system turn from the prefix cache
    assert 0 < data["ple_store_max_rel_err"] < 0.01  # built into the cache at first run (int8, per-row scales)
    assert len(list((tmp_path / "cache").glob("embed_tokens_q4.*.int8.ple"))) == 1
    counts = data["free_tokens_per_command"]  # under the grammar, with the model's tokenizer
    assert len(counts) == 10 and all(isinstance(c, int) and c >= 0 for c in counts)
    free = data["unconstrained_tokens_per_command"]
    assert len(free) == 10 and sum(free) > sum(counts)
    assert data["max_free_tokens_per_command"] == max(counts)
    assert set(data["targets_met"]) == set(RATIOS)
    assert all(isinstance(v, bool) for v in data["targets_met"].values())
    # the decoder that ran is the optimised graph from the cache, and bytes per token come from its weights
    assert Path(data["decoder_graph"]).parent.parent == tmp_path / "cache"
    assert (Path(data["decoder_graph"]).parent / "optimize.json").is_file()
    assert data["bytes_per_token_mb"] > data["decoder_weight_mb"] > 0
    assert data["decode_ceiling_tok_s"] == pytest.approx(data["read_bandwidth_gb_s"] * 1e3 / data["bytes_per_token_mb"])
    assert data["busy_core_decode_ratio"] == pytest.approx(data["busy_core_decode_tok_s"] / data["busy_core_quiet_tok_s"])
    # re-based: against quiet 1-thread decode (the target) and quiet 2-thread decode (for reference)
    assert data["busy_core_vs_1_thread_ratio"] == pytest.approx(data["busy_core_decode_tok_s"] / data["decode_tok_s_1_threads"])
    assert data["busy_core_vs_2_threads_ratio"] == pytest.approx(data["busy_core_decode_tok_s"] / data["decode_tok_s_2_threads"])


def test_bench_engine_table_and_unoptimised_run(perf_tiny_audio_q4, tmp_path, clean_home) -> None:
    result = run_cli("bench", "engine", "--model", str(perf_tiny_audio_q4), "--steps", "2", "--no-optimize",
                     "--cache-dir", str(tmp_path / "cache"), env={"HOME": str(clean_home)}, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "decode / ceiling" in out
    assert ("ok" in out) or ("MISSED" in out)
    assert "margin" in out
    assert "decoder_model_merged_q4.onnx" in out and str(tmp_path / "cache") not in out
    assert list((tmp_path / "cache").glob("*.ple"))  # no graph cache, but the PLE store was made


def test_bench_engine_missing_model_is_one_line_error(tmp_path, clean_home) -> None:
    result = run_cli("bench", "engine", "--model", str(tmp_path / "nothing"), env={"HOME": str(clean_home)})
    assert result.returncode == 1
    assert result.stderr.startswith("assistant: error:") and "shape_faithful_e2b.py" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
