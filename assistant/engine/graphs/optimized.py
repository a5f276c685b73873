"""Which graphs the load-time optimisation pass rewrites, and with which options (``ModelConfig`` keys).

Quantized graphs only: a full-precision graph (``fp32``, ``fp16``) is what someone chooses for exact
outputs, so it is loaded as published. The decoder gets int8 compute, the configured LM head
quantization and 4-bit block (``q4_block``) and last-position logits; the audio encoder gets int8 compute only; ``embed_tokens``
(gathers, no matmul) is never rewritten.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from assistant.config.schema import ModelConfig
from assistant.engine.graphs.optimize import OptimizeOptions, optimize_graph

FULL_PRECISION = frozenset({"fp32", "fp16"})


def pass_options(name: str, precision: str, cfg: ModelConfig) -> OptimizeOptions | None:
    """The pass's options for graph ``name`` at ``precision``, or None when it is loaded as published."""
    if not cfg.optimize_graphs or precision in FULL_PRECISION:
        return None
    if name == "decoder_model_merged":
        return OptimizeOptions(head_bits=cfg.lm_head_bits, q4_block=cfg.q4_block)
    if name == "audio_encoder":
        return OptimizeOptions(head_bits=0, last_logits=False)
    return None


def optimised_path(src: Path, name: str, precision: str, cfg: ModelConfig, cache: Path,
                   progress: Callable[[str], None] | None = None) -> Path:
    """The graph to load for ``src``: its optimised copy in ``cache`` (built on first use) or ``src`` itself."""
    opts = pass_options(name, precision, cfg)
    return src if opts is None else optimize_graph(src, cache, opts, progress)
