"""The JSON and Jinja files at the top of a model directory, shaped like onnx-community's Gemma 4 repos.

``config.json`` (the HF config of the built model), ``generation_config.json`` (eos list with
``<turn|>`` and ``<|tool_response>``, Gemma sampling defaults), ``processor_config.json`` and
``preprocessor_config.json`` (processor class only, as published) and ``chat_template.jinja``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import transformers
from transformers import Gemma4AudioFeatureExtractor, Gemma4Config

from models.special_tokens import EOS_TOKENS, TOKEN_IDS

TEMPLATE = Path(__file__).with_name("chat_template.jinja")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def config_dict(config: Gemma4Config) -> dict[str, Any]:
    """``config.json`` content: the HF config plus ``architectures``, in the published (4.x-era) form.

    transformers 5.x serialises full-layer head dims as ``per_layer_config``; the published file has
    ``global_head_dim`` and ``num_global_key_value_heads`` instead, and 5.x rebuilds the same
    ``per_layer_config`` from them on load.
    """
    data = config.to_dict()
    text = data["text_config"]
    overrides = text.pop("per_layer_config", None) or {}
    full = [int(i) for i, t in enumerate(text["layer_types"]) if t == "full_attention"]
    dims = {overrides.get(str(i), overrides.get(i, {})).get("head_dim", text["head_dim"]) for i in full}
    if len(dims) != 1 or any("num_key_value_heads" in o for o in overrides.values()):
        raise ValueError(f"per_layer_config {overrides} has no global_head_dim equivalent")
    text["global_head_dim"] = dims.pop()
    text["num_global_key_value_heads"] = None
    data["architectures"] = ["Gemma4ForConditionalGeneration"]
    data["transformers_version"] = transformers.__version__
    return data


def generation_dict() -> dict[str, Any]:
    """``generation_config.json`` content (published values, tiny-vocabulary ids)."""
    return {
        "bos_token_id": TOKEN_IDS["<bos>"],
        "pad_token_id": TOKEN_IDS["<pad>"],
        "eos_token_id": [TOKEN_IDS[t] for t in EOS_TOKENS],
        "do_sample": True,
        "temperature": 1.0,
        "top_k": 64,
        "top_p": 0.95,
        "transformers_version": transformers.__version__,
    }


def processor_dict() -> dict[str, Any]:
    """``processor_config.json`` content: Gemma4Processor with the default audio feature extractor."""
    extractor = json.loads(Gemma4AudioFeatureExtractor().to_json_string())
    return {
        "processor_class": "Gemma4Processor",
        "audio_seq_length": 750,
        "audio_ms_per_token": 40,
        "image_seq_length": 280,
        "feature_extractor": extractor,
        "image_processor": {
            "image_processor_type": "Gemma4ImageProcessor",
            "max_soft_tokens": 280,
            "patch_size": 16,
            "pooling_kernel_size": 3,
        },
    }


def write_metadata(out_dir: Path, config: Gemma4Config) -> None:
    """Write every top-level non-tokenizer file into ``out_dir``."""
    _write_json(out_dir / "config.json", config_dict(config))
    _write_json(out_dir / "generation_config.json", generation_dict())
    _write_json(out_dir / "processor_config.json", processor_dict())
    _write_json(out_dir / "preprocessor_config.json", {"processor_class": "Gemma4Processor"})
    shutil.copyfile(TEMPLATE, out_dir / "chat_template.jinja")
