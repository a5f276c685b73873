"""Names shared by the builder modules, importable without torch or onnx (fast CLI argument checks)."""

from __future__ import annotations

CONFIG_NAMES = ("audio", "text", "window", "llama")
GRAPHS = ("embed_tokens", "decoder_model_merged", "audio_encoder")
PRECISIONS = ("fp32", "fp16", "q4", "q4f16", "quantized")
SUFFIX = {"fp32": "", "fp16": "_fp16", "q4": "_q4", "q4f16": "_q4f16", "quantized": "_quantized"}
