"""Sizes of the two large Gemma 4 models, for planning where their weights go.

Architecture from the published ``config.json`` files: 26B A4B has 30 layers, each with
128 experts (top 8) of ``moe_intermediate_size`` 704 on hidden size 2816, so experts hold
128 x 2816 x (2 x 704 + 704) = 761.3M parameters per layer, 22.84B of 25.2B in all;
31B is dense with 60 layers on hidden size 5376. Both use 5 sliding-window layers
(window 1024) to 1 global layer. GGUF file sizes: Q4_K_M as published (16.80 GB and
18.7 GB); Q8_0 and BF16 from bits per weight (8.5 and 16).
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3
UBATCH = 512


@dataclass(frozen=True)
class LargeModel:
    key: str
    title: str
    params_b: float
    expert_params_b: float
    layers: int
    sliding_layers: int
    window: int
    sliding_kv_bytes: int
    full_kv_bytes: int
    files_gb: dict[str, float]
    gguf_name: str
    hf_id: str
    ollama_tag: str

    @property
    def is_moe(self) -> bool:
        return self.expert_params_b > 0

    @property
    def full_layers(self) -> int:
        return self.layers - self.sliding_layers

    def file_gib(self, quant: str) -> float:
        return self.files_gb[quant] * 1e9 / GIB

    def kv_gib(self, context: int) -> tuple[float, float]:
        """KV cache at fp16 for ``context`` tokens: (sliding layers, full layers), GiB."""
        sliding = self.sliding_layers * self.sliding_kv_bytes * min(context, self.window + UBATCH)
        full = self.full_layers * self.full_kv_bytes * context
        return sliding / GIB, full / GIB


# Per-token KV bytes per layer at fp16 = 2 (K and V) x kv_heads x head_dim x 2 bytes.
MODELS = {
    "26b-a4b": LargeModel(
        key="26b-a4b", title="Gemma 4 26B A4B (MoE: 25.2B parameters, 3.8B active, 128 experts, top 8)",
        params_b=25.23, expert_params_b=30 * 128 * 2816 * 2112 / 1e9, layers=30, sliding_layers=25, window=1024,
        sliding_kv_bytes=2 * 8 * 256 * 2, full_kv_bytes=2 * 2 * 512 * 2,
        files_gb={"Q4_K_M": 16.80, "Q8_0": 25.23 * 8.5 / 8, "BF16": 25.23 * 2},
        gguf_name="gemma-4-26B-A4B-it-{quant}.gguf", hf_id="google/gemma-4-26B-A4B-it", ollama_tag="gemma4:26b",
    ),
    "31b": LargeModel(
        key="31b", title="Gemma 4 31B (dense: 30.7B parameters)",
        params_b=30.7, expert_params_b=0.0, layers=60, sliding_layers=50, window=1024,
        sliding_kv_bytes=2 * 16 * 256 * 2, full_kv_bytes=2 * 4 * 512 * 2,
        files_gb={"Q4_K_M": 18.7, "Q8_0": 30.4, "BF16": 30.7 * 2},
        gguf_name="gemma-4-31B-it-{quant}.gguf", hf_id="google/gemma-4-31B-it", ollama_tag="gemma4:31b",
    ),
}
QUANTS = ("Q4_K_M", "Q8_0", "BF16")
