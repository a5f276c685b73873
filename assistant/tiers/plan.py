"""``assistant tiers plan``: place a large Gemma 4 on one GPU, with the arithmetic shown.

Everything fits: all layers on the GPU. Otherwise, for the MoE 26B A4B, expert weights of
the first N layers stay in system RAM (llama-server ``--n-cpu-moe N``, or the same with
``-ot``): attention and shared weights stay on the GPU and only 3.8B parameters are read per
token, so it stays fast. The dense 31B can only offload whole layers (``-ngl``), which is slow.
Units are GiB (what ``nvidia-smi`` shows divided by 1024; a "24 GB" card has 24 GiB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from assistant.errors import UsageError
from assistant.tiers.models import MODELS, QUANTS, LargeModel

OVERHEAD_GIB = 1.5
VLLM_UTILIZATION = 0.92
VLLM_OVERHEAD_GIB = 2.0


@dataclass
class Plan:
    """The placement and the commands; ``lines`` is what the CLI prints."""

    model: LargeModel
    vram: float
    context: int
    quant: str
    fits: bool = True
    n_cpu_moe: int = 0
    n_gpu_layers: int = 0
    gpu_gib: float = 0.0
    cpu_gib: float = 0.0
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def make_plan(model_key: str, vram: float, context: int = 8192, quant: str = "auto",
              overhead: float = OVERHEAD_GIB) -> Plan:
    """Plan for ``model_key`` on a GPU with ``vram`` GiB."""
    if model_key not in MODELS:
        raise UsageError(f"unknown model {model_key!r} (choose: {', '.join(MODELS)})")
    if not 1 <= vram <= 4096:
        raise UsageError(f"--vram {vram:g}: expected 1 to 4096 GiB")
    if not 512 <= context <= 262144:
        raise UsageError(f"--ctx {context}: expected 512 to 262144 tokens")
    model = MODELS[model_key]
    chosen = _choose_quant(model, vram, context, overhead) if quant == "auto" else quant
    if chosen not in QUANTS:
        raise UsageError(f"--quant {quant}: expected auto or one of {', '.join(QUANTS)}")
    plan = Plan(model, vram, context, chosen)
    _arithmetic(plan, overhead)
    plan.lines += ["", "llama-server:", "  " + llama_server_command(plan)]
    if plan.n_cpu_moe:
        plan.lines += ["  same placement with -ot instead of --n-cpu-moe:", "    -ot " + _ot_pattern(plan.n_cpu_moe)]
    plan.lines += ["", "Ollama:", *("  " + line for line in ollama_lines(plan))]
    plan.lines += ["", "vLLM:", *("  " + line for line in vllm_lines(plan))]
    plan.lines += ["", "Then in config.toml:", *("  " + line for line in tier_config(plan))]
    return plan


def total_gib(model: LargeModel, quant: str, context: int, overhead: float) -> float:
    sliding, full = model.kv_gib(context)
    return model.file_gib(quant) + sliding + full + overhead


def _choose_quant(model: LargeModel, vram: float, context: int, overhead: float) -> str:
    """Q8_0 when it fits whole on the GPU, else Q4_K_M (offloading what does not fit)."""
    return "Q8_0" if total_gib(model, "Q8_0", context, overhead) <= vram else "Q4_K_M"


def _arithmetic(plan: Plan, overhead: float) -> None:
    m, q, ctx = plan.model, plan.quant, plan.context
    weights = m.file_gib(q)
    sliding, full = m.kv_gib(ctx)
    kv = sliding + full
    total = weights + kv + overhead
    swa_tokens = min(ctx, m.window + 512)
    lines = plan.lines
    lines += [
        f"Plan: {m.title}",
        f"  on one GPU with {plan.vram:g} GiB, context {ctx} tokens, {q} weights",
        f"Weights   {q} file {m.files_gb[q]:.2f} GB = {weights:.2f} GiB",
    ]
    if m.is_moe:
        expert = weights * m.expert_params_b / m.params_b
        per_layer = expert / m.layers
        lines.append(f"          = {weights - expert:.2f} GiB attention/embeddings/shared + {expert:.2f} GiB experts "
                     f"({m.layers} layers x {per_layer:.3f} GiB, at the file's average bits per weight)")
    lines += [
        f"KV cache  {m.sliding_layers} sliding layers x {m.sliding_kv_bytes // 1024} KiB/token x {swa_tokens} tokens "
        f"+ {m.full_layers} global layers x {m.full_kv_bytes // 1024} KiB/token x {ctx} tokens "
        f"= {sliding:.2f} + {full:.2f} = {kv:.2f} GiB (fp16)",
        f"Overhead  {overhead:.2f} GiB (CUDA context, compute buffers, desktop)",
        f"Total     {weights:.2f} + {kv:.2f} + {overhead:.2f} = {total:.2f} GiB",
    ]
    if total <= plan.vram:
        plan.gpu_gib, plan.n_gpu_layers = total, m.layers
        lines.append(f"Fits: {total:.2f} <= {plan.vram:g} GiB, everything on the GPU ({plan.vram - total:.2f} GiB spare).")
        return
    deficit = total - plan.vram
    if m.is_moe:
        _place_experts(plan, weights, kv, overhead, deficit)
    else:
        _place_layers(plan, weights, kv, overhead, deficit)


def _place_experts(plan: Plan, weights: float, kv: float, overhead: float, deficit: float) -> None:
    m = plan.model
    expert = weights * m.expert_params_b / m.params_b
    per_layer = expert / m.layers
    n = math.ceil(deficit / per_layer)
    lines = plan.lines
    lines.append(f"Too big by {deficit:.2f} GiB: keep the experts of the first N layers in system RAM, "
                 f"N = ceil({deficit:.2f} / {per_layer:.3f}) = {n}")
    if n > m.layers:
        floor = weights - expert + kv + overhead
        plan.fits = False
        lines.append(f"Does not fit: even with all {m.layers} layers' experts on the CPU the GPU needs {floor:.2f} GiB "
                     f"> {plan.vram:g}; use a smaller --ctx, or run on the CPU only (-ngl 0).")
        plan.n_cpu_moe, plan.cpu_gib, plan.gpu_gib, plan.n_gpu_layers = m.layers, expert, floor, m.layers
        return
    plan.n_cpu_moe, plan.n_gpu_layers = n, m.layers
    plan.cpu_gib = n * per_layer
    plan.gpu_gib = weights + kv + overhead - plan.cpu_gib
    lines.append(f"GPU {plan.gpu_gib:.2f} GiB, system RAM {plan.cpu_gib:.2f} GiB for {n} layers' experts "
                 f"({n}/{m.layers} of the expert weights; each token still reads only 8 of 128 experts per layer).")


def _place_layers(plan: Plan, weights: float, kv: float, overhead: float, deficit: float) -> None:
    m = plan.model
    per_layer = (weights + kv) / m.layers
    on_gpu = math.floor((plan.vram - overhead) / per_layer) if plan.vram > overhead else 0
    on_gpu = max(0, min(on_gpu, m.layers))
    plan.n_gpu_layers = on_gpu
    plan.gpu_gib = on_gpu * per_layer + overhead
    plan.cpu_gib = (m.layers - on_gpu) * per_layer
    plan.fits = on_gpu > 0
    plan.lines += [
        f"Too big by {deficit:.2f} GiB. A dense model can only move whole layers: per layer (weights + KV) "
        f"{per_layer:.3f} GiB, GPU layers = floor(({plan.vram:g} - {overhead:.2f}) / {per_layer:.3f}) = {on_gpu} of {m.layers}",
        f"GPU {plan.gpu_gib:.2f} GiB, system RAM {plan.cpu_gib:.2f} GiB. Every token reads the CPU layers from system RAM: "
        "expect a few tokens/s. 26B A4B is the better model for this card.",
    ]


def _gguf(plan: Plan) -> str:
    return plan.model.gguf_name.format(quant=plan.quant)


def llama_server_command(plan: Plan) -> str:
    m = plan.model
    parts = ["llama-server", "-m", _gguf(plan), "--alias", f"gemma-4-{m.key}", "--host", "0.0.0.0", "--port", "8080",
             "--jinja", "-c", str(plan.context), "-fa", "on", "--reasoning-format", "deepseek"]
    if m.is_moe or plan.n_gpu_layers >= m.layers:
        parts += ["-ngl", "99"]
    else:
        parts += ["-ngl", str(plan.n_gpu_layers)]
    if plan.n_cpu_moe:
        parts += ["--n-cpu-moe", str(plan.n_cpu_moe)]
    parts += ["--api-key-file", "/etc/llama/api_key"]
    return " ".join(parts)


def _ot_pattern(n: int) -> str:
    layers = "|".join(str(i) for i in range(n))
    return f'"blk\\.({layers})\\.ffn_.*_exps\\.=CPU"'


def ollama_lines(plan: Plan) -> list[str]:
    m = plan.model
    lines = [f"ollama pull {m.ollama_tag}", f"OLLAMA_CONTEXT_LENGTH={plan.context} OLLAMA_FLASH_ATTENTION=1 ollama serve"]
    if plan.n_cpu_moe:
        lines.append(f"Ollama cannot keep only the experts on the CPU; it splits whole layers by itself (about "
                     f"{_whole_layers_fit(plan)} of {m.layers} on the GPU here), which is slower than llama-server --n-cpu-moe.")
    elif plan.n_gpu_layers < m.layers:
        lines.append(f"Ollama splits the layers by itself (about {plan.n_gpu_layers} of {m.layers} on the GPU here), "
                     "like -ngl above.")
    if plan.quant != "Q4_K_M":
        lines.append(f"(Ollama's default {m.ollama_tag} tag is a 4-bit quantization; pick a q8_0 tag for {plan.quant}.)")
    return lines


def _whole_layers_fit(plan: Plan) -> int:
    m = plan.model
    sliding, full = m.kv_gib(plan.context)
    per_layer = (m.file_gib(plan.quant) + sliding + full) / m.layers
    return max(0, min(m.layers, math.floor((plan.vram - OVERHEAD_GIB) / per_layer)))


def vllm_lines(plan: Plan) -> list[str]:
    """vLLM serves the original weights: BF16, or FP8 quantized on load (Ada/Hopper GPUs)."""
    m = plan.model
    sliding, full = m.kv_gib(plan.context)
    budget = plan.vram * VLLM_UTILIZATION - VLLM_OVERHEAD_GIB - (sliding + full)
    bf16 = m.file_gib("BF16")
    fp8 = bf16 / 2
    cmd = (f"vllm serve {m.hf_id} --served-model-name gemma-4-{m.key} --max-model-len {plan.context} "
           f"--gpu-memory-utilization {VLLM_UTILIZATION} --enable-auto-tool-choice --tool-call-parser gemma4 "
           "--reasoning-parser gemma4")
    lines = [f"budget for weights = {plan.vram:g} x {VLLM_UTILIZATION} - {VLLM_OVERHEAD_GIB:g} (activations) "
             f"- {sliding + full:.2f} (KV) = {budget:.2f} GiB; BF16 weights {bf16:.2f} GiB, FP8 {fp8:.2f} GiB"]
    if bf16 <= budget:
        lines.append(cmd)
    elif fp8 <= budget:
        lines.append(cmd + " --quantization fp8")
    else:
        offload = math.ceil(fp8 - budget) if budget > 0 else math.ceil(fp8)
        lines.append(cmd + f" --quantization fp8 --cpu-offload-gb {offload}")
        lines.append(f"(--cpu-offload-gb streams {offload} GB of weights over PCIe every step: slow; llama-server "
                     "with the GGUF is the better choice on this card.)")
    lines.append("Set the key with VLLM_API_KEY=... in vLLM's environment.")
    return lines


def tier_config(plan: Plan) -> list[str]:
    return [
        "[[tiers.remote]]",
        f'name = "{plan.model.key}"',
        'url = "http://DESKTOP:8080/v1"',
        f'model = "gemma-4-{plan.model.key}"',
        'server = "llama-server"',
        'api_key_file = "tier_api_key"',
        f"thinking = {'true' if plan.model.key == '31b' else 'false'}",
    ]
