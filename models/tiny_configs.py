"""Tiny Gemma 4 configurations of the real architecture, and the weight re-draw that makes them useful.

Four named configurations (see ``CONFIGS``):

- ``audio``: text decoder + audio conformer (6 layers, sliding window 8, 2 KV-shared layers);
- ``text``: the same text decoder without an audio tower;
- ``window``: text only, sliding window 16 and a different layer pattern (8 layers, 3 KV-shared);
- ``llama``: ``text`` with 3 KV-shared layers, so that the last non-shared layers are (sliding, full) as in
  E2B: the only layout llama.cpp's ``gemma4`` KV reuse runs as transformers does (``models/gguf_export.py``).

Every configuration keeps the features that make Gemma 4 E2B special: per-layer embeddings (PLE),
KV sharing with ``store`` and ``reuse`` layers, sliding and full layers with different head dims,
proportional RoPE on full layers, a double-wide MLP on shared layers, soft-capped logits and (audio)
clipped linears with finite, distinct clip values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import Gemma4Config, Gemma4ForConditionalGeneration
from transformers.models.gemma4.modeling_gemma4 import Gemma4RMSNorm

from models.names import CONFIG_NAMES
from models.special_tokens import MULTIMODAL_IDS, TOKEN_IDS, VOCAB_SIZE

SLIDING = "sliding_attention"
FULL = "full_attention"


@dataclass(frozen=True)
class TinySpec:
    """What differs between the tiny configurations."""

    layer_types: tuple[str, ...]
    sliding_window: int
    num_kv_shared_layers: int
    with_audio: bool
    hidden_size: int = 64
    intermediate_size: int = 96
    head_dim: int = 16
    global_head_dim: int = 32
    num_attention_heads: int = 2
    hidden_size_per_layer_input: int = 8
    branch_gain: float = 1.0  # residual-branch norm scale: larger = more context-driven, less copy-the-input
    embed_std: float = 0.1  # token embedding (= tied lm_head) std: sets the logit scale
    audio: dict[str, Any] = field(default_factory=dict)


_AUDIO = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    # The first entry must stay 128: the projection input is (channels[0] // 4) * channels[1]
    # and the 128 mel bins shrink by 4 in the two stride-2 convolutions.
    "subsampling_conv_channels": [128, 8],
    "conv_kernel_size": 5,
    "attention_chunk_size": 12,
    "attention_context_left": 13,
    "attention_context_right": 0,
    "output_proj_dims": 48,
}

CONFIGS: dict[str, TinySpec] = {
    "audio": TinySpec(
        layer_types=(SLIDING, SLIDING, FULL, SLIDING, SLIDING, FULL),
        sliding_window=8,
        num_kv_shared_layers=2,
        with_audio=True,
        audio=_AUDIO,
    ),
    "text": TinySpec(
        layer_types=(SLIDING, SLIDING, FULL, SLIDING, SLIDING, FULL),
        sliding_window=8,
        num_kv_shared_layers=2,
        with_audio=False,
    ),
    "window": TinySpec(
        layer_types=(SLIDING, SLIDING, SLIDING, FULL, SLIDING, SLIDING, SLIDING, FULL),
        sliding_window=16,
        num_kv_shared_layers=3,
        with_audio=False,
        global_head_dim=48,
    ),
    "llama": TinySpec(
        layer_types=(SLIDING, SLIDING, FULL, SLIDING, SLIDING, FULL),
        sliding_window=8,
        num_kv_shared_layers=3,
        with_audio=False,
    ),
}


assert tuple(CONFIGS) == CONFIG_NAMES


def make_config(name: str) -> Gemma4Config:
    """The ``Gemma4Config`` of a named tiny configuration (vision is always absent)."""
    if name not in CONFIGS:
        raise ValueError(f"unknown tiny config {name!r}; choose one of {', '.join(CONFIGS)}")
    spec = CONFIGS[name]
    text = {
        "vocab_size": VOCAB_SIZE,
        "vocab_size_per_layer_input": VOCAB_SIZE,
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": len(spec.layer_types),
        "num_attention_heads": spec.num_attention_heads,
        "num_key_value_heads": 1,
        "head_dim": spec.head_dim,
        "global_head_dim": spec.global_head_dim,
        "layer_types": list(spec.layer_types),
        "sliding_window": spec.sliding_window,
        "num_kv_shared_layers": spec.num_kv_shared_layers,
        "use_double_wide_mlp": True,
        "hidden_size_per_layer_input": spec.hidden_size_per_layer_input,
        "final_logit_softcapping": 30.0,
        "hidden_activation": "gelu_pytorch_tanh",
        "rms_norm_eps": 1e-6,
        "max_position_embeddings": 4096,
        "pad_token_id": TOKEN_IDS["<pad>"],
        "eos_token_id": [TOKEN_IDS["<eos>"], TOKEN_IDS["<turn|>"]],
        "bos_token_id": TOKEN_IDS["<bos>"],
        "tie_word_embeddings": True,
    }
    config = Gemma4Config(
        text_config=text,
        audio_config=dict(spec.audio) if spec.with_audio else None,
        vision_config=None,
        **MULTIMODAL_IDS,
    )
    config.text_config._attn_implementation = "eager"
    if config.audio_config is not None:
        config.audio_config._attn_implementation = "eager"
    config._attn_implementation = "eager"
    return config


# Residual-branch output norms of the text decoder, scaled by TinySpec.branch_gain.
# q_norm / k_norm weights are scaled down: attention has scaling 1.0, and unit-scale norms make the
# softmax so sharp that fp32 rounding alone moves the logits by ~1e-4 (torch fp32 vs fp64).
QK_GAIN = 0.35
_BRANCH_NORMS = ("post_attention_layernorm", "post_feedforward_layernorm", "post_per_layer_input_norm")


def _on_int4_grid(weight: torch.Tensor, block: int = 32) -> torch.Tensor:
    """Snap each block of ``block`` values along the last axis onto a symmetric int4 grid.

    Every block becomes ``scale * q`` with integer ``q`` in [-7, 7] and exactly one ``-8`` (the value
    of largest magnitude). onnxruntime's symmetric block quantizer (MatMulNBits, GatherBlockQuantized)
    picks ``scale = extreme / -8`` and so reproduces these weights exactly: q4 graphs of the tiny models
    compute the same function as fp32 and parity tests need no precision slack for them.
    """
    cols = weight.shape[1]
    out = torch.empty_like(weight)
    for start in range(0, cols, block):
        z = weight[:, start:start + block]
        peak = z.abs().argmax(dim=1, keepdim=True)
        scale = z.abs().amax(dim=1, keepdim=True) / 8
        q = torch.clamp(torch.round(z / scale), -7, 7)
        q.scatter_(1, peak, -8.0)
        out[:, start:start + block] = q * scale
    return out


def _redraw(model: Gemma4ForConditionalGeneration, generator: torch.Generator, spec: TinySpec) -> None:
    """Re-draw every weight so that activations and logits are far from tied.

    The default HF init (N(0, 0.02), unit norms, infinite clip bounds) gives near-uniform logits and
    never exercises the clamps. Here: linear weights N(0, 0.08), token embedding N(0, ``embed_std``), norm
    weights 1 + 0.2 N (q/k norms times ``QK_GAIN``, residual-branch output norms times
    ``branch_gain``), layer
    scalars U(0.5, 1.5), audio ``per_dim_scale`` 0.3 N, and the clip buffers of every
    ``Gemma4ClippableLinear`` finite, distinct and tight enough to bind. Every matrix is snapped
    onto the int4 grid (``_on_int4_grid``) so q4 exports are lossless.
    """

    def normal(shape: torch.Size, std: float, mean: float = 0.0) -> torch.Tensor:
        return torch.randn(shape, generator=generator) * std + mean

    with torch.no_grad():
        done: set[int] = set()
        for module in model.modules():
            if isinstance(module, (Gemma4RMSNorm, torch.nn.LayerNorm)) and getattr(module, "weight", None) is not None:
                module.weight.copy_(normal(module.weight.shape, 0.2, 1.0))
                done.add(id(module.weight))
        for name, module in model.named_modules():
            if name.endswith(_BRANCH_NORMS):
                module.weight.mul_(spec.branch_gain)
            elif name.endswith(("self_attn.q_norm", "self_attn.k_norm")):
                module.weight.mul_(QK_GAIN)
        for name, param in model.named_parameters():
            if id(param) in done:
                continue
            if name.endswith("per_dim_scale"):
                param.copy_(normal(param.shape, 0.3))
            elif name.endswith("embed_tokens.weight"):
                param.copy_(normal(param.shape, spec.embed_std))
            elif name.endswith("embed_tokens_per_layer.weight"):
                param.copy_(normal(param.shape, 0.3))
            else:
                param.copy_(normal(param.shape, 0.08))
            if param.dim() == 2:
                param.copy_(_on_int4_grid(param))
        for name, buf in model.named_buffers():
            if name.endswith("layer_scalar"):
                buf.copy_(torch.rand(buf.shape, generator=generator) + 0.5)
            elif name.endswith(("input_min", "output_min")):
                buf.fill_(-(float(torch.rand((), generator=generator)) + (1.0 if "input" in name else 0.6)))
            elif name.endswith(("input_max", "output_max")):
                buf.fill_(float(torch.rand((), generator=generator)) + (1.0 if "input" in name else 0.6))


def build_model(name: str, seed: int = 0) -> Gemma4ForConditionalGeneration:
    """A tiny random ``Gemma4ForConditionalGeneration`` in eval mode, fully determined by (name, seed)."""
    config = make_config(name)
    torch.manual_seed(seed)
    model = Gemma4ForConditionalGeneration(config)
    generator = torch.Generator().manual_seed(seed)
    _redraw(model, generator, CONFIGS[name])
    model.tie_weights()
    return model.eval()
