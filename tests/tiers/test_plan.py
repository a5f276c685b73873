"""``assistant tiers plan``: the placement arithmetic and the commands it prints."""

from __future__ import annotations

import re

import pytest

from assistant.errors import AssistantError
from assistant.tiers.models import MODELS
from assistant.tiers.plan import _ot_pattern, make_plan, total_gib

from ..conftest import run_cli


def test_26b_fits_a_24_gib_card_whole():
    plan = make_plan("26b-a4b", 24)
    assert plan.fits and plan.quant == "Q4_K_M" and plan.n_cpu_moe == 0
    assert "--n-cpu-moe" not in plan.text and "-ngl 99" in plan.text
    assert plan.gpu_gib == pytest.approx(total_gib(MODELS["26b-a4b"], "Q4_K_M", 8192, 1.5))


def test_26b_on_12_gib_keeps_experts_of_the_first_layers_on_the_cpu():
    plan = make_plan("26b-a4b", 12)
    model = MODELS["26b-a4b"]
    per_layer = model.file_gib("Q4_K_M") * model.expert_params_b / model.params_b / model.layers
    need = total_gib(model, "Q4_K_M", 8192, 1.5)
    assert plan.n_cpu_moe == -(-(need - 12) // per_layer)
    assert plan.gpu_gib <= 12 < plan.gpu_gib + per_layer
    assert f"--n-cpu-moe {plan.n_cpu_moe}" in plan.text
    assert f"= {plan.n_cpu_moe}" in plan.text


def test_ot_pattern_selects_exactly_the_first_n_layers_expert_tensors():
    pattern = re.compile(_ot_pattern(12).strip('"').rsplit("=", 1)[0])
    assert pattern.search("blk.0.ffn_gate_up_exps.weight")
    assert pattern.search("blk.11.ffn_down_exps.weight")
    assert not pattern.search("blk.12.ffn_down_exps.weight")
    assert not pattern.search("blk.3.attn_q.weight")
    assert not pattern.search("blk.3.ffn_down.weight")


def test_larger_cards_get_q8():
    assert make_plan("26b-a4b", 32).quant == "Q8_0"
    assert make_plan("31b", 48).quant == "Q8_0"
    assert make_plan("31b", 48, context=32768).fits


def test_dense_31b_offloads_whole_layers_when_too_big():
    plan = make_plan("31b", 12)
    assert 0 < plan.n_gpu_layers < 60
    assert f"-ngl {plan.n_gpu_layers}" in plan.text
    assert "--n-cpu-moe" not in plan.text
    assert "26B A4B is the better model" in plan.text


def test_too_small_card_says_it_does_not_fit():
    plan = make_plan("26b-a4b", 2)
    assert not plan.fits
    assert "Does not fit" in plan.text


def test_equivalents_for_ollama_and_vllm():
    text = make_plan("26b-a4b", 16).text
    assert "ollama pull gemma4:26b" in text
    assert "vllm serve google/gemma-4-26B-A4B-it" in text and "--tool-call-parser gemma4" in text
    assert "[[tiers.remote]]" in text


@pytest.mark.parametrize(("args", "message"), [
    (("26b-a4b", 0.5), "--vram 0.5"),
    (("70b", 24), "unknown model"),
])
def test_bad_input(args, message):
    with pytest.raises(AssistantError, match=re.escape(message)):
        make_plan(*args)


def test_cli_exit_codes():
    ok = run_cli("tiers", "plan", "--vram", "24", "--model", "26b-a4b")
    assert ok.returncode == 0 and ok.stdout.startswith("Plan: Gemma 4 26B A4B")
    too_small = run_cli("tiers", "plan", "--vram", "2", "--model", "26b-a4b")
    assert too_small.returncode == 1
    bad = run_cli("tiers", "plan", "--vram", "24", "--model", "26b-a4b", "--ctx", "10")
    assert bad.returncode == 2 and bad.stderr.strip() == "assistant: error: --ctx 10: expected 512 to 262144 tokens"
