"""Export the three graphs to ONNX (fp32) with the published names, dtypes and symbolic dims.

Uses the legacy TorchScript exporter (``dynamo=False``): it is the one that traces the audio tower
for any number of frames (see gemma4-onnx.md Part 2, traps 4-6). Every file is written as
``<name>.onnx`` plus external data ``<name>.onnx_data`` in the same folder.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import onnx
import torch
from transformers import Gemma4ForConditionalGeneration

from models.export_wrappers import AudioEncoder, Decoder, EmbedTokens, exportable_audio_attention

OPSET = 18


def save_external(model: onnx.ModelProto, path: Path) -> None:
    """Save ``model`` at ``path`` with all tensors in ``<path.name>_data`` next to it (deterministic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = path.with_name(path.name + "_data")
    if data.exists():
        data.unlink()
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data.name, size_threshold=0, convert_attribute=False)


def _trace(module: torch.nn.Module, args: tuple, input_names: list[str], output_names: list[str],
           dynamic_axes: dict[str, dict[int, str]]) -> onnx.ModelProto:
    """Legacy-export ``module`` into an in-memory ModelProto."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), args, buffer, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)
    proto = onnx.load_from_string(buffer.getvalue())
    proto.producer_name = "tiny_gemma4"
    proto.producer_version = ""
    return proto


def export_embed_tokens(model: Gemma4ForConditionalGeneration, path: Path) -> None:
    """``input_ids int64 [B, S] -> inputs_embeds [B, S, H], per_layer_inputs [B, S, L, D]``."""
    ids = torch.tensor([[2, 5, 7, 9]], dtype=torch.int64)
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
            "inputs_embeds": {0: "batch_size", 1: "sequence_length"},
            "per_layer_inputs": {0: "batch_size", 1: "sequence_length"}}
    proto = _trace(EmbedTokens(model.model.language_model), (ids,), ["input_ids"],
                   ["inputs_embeds", "per_layer_inputs"], axes)
    save_external(proto, path)


def export_audio_encoder(model: Gemma4ForConditionalGeneration, path: Path) -> None:
    """``input_features f32 [B, T, 128], input_features_mask bool [B, T] -> audio_features [N, H]``."""
    frames = 157  # not a multiple of anything relevant: shapes stay symbolic, checked on other lengths
    features = torch.randn(1, frames, 128, generator=torch.Generator().manual_seed(1))
    mask = torch.ones(1, frames, dtype=torch.bool)
    mask[:, -3:] = False
    axes = {"input_features": {0: "batch_size", 1: "num_frames"},
            "input_features_mask": {0: "batch_size", 1: "num_frames"},
            "audio_features": {0: "num_audio_tokens"}}
    with exportable_audio_attention():
        proto = _trace(AudioEncoder(model.model.audio_tower, model.model.embed_audio), (features, mask),
                       ["input_features", "input_features_mask"], ["audio_features"], axes)
    save_external(proto, path)


def decoder_io_names(model: Gemma4ForConditionalGeneration) -> tuple[list[str], list[str]]:
    """Input and output names of ``decoder_model_merged`` in graph order."""
    text = model.config.text_config
    cached = text.num_hidden_layers - text.num_kv_shared_layers
    kv = [f"{i}.{kind}" for i in range(cached) for kind in ("key", "value")]
    inputs = ["inputs_embeds", "per_layer_inputs", "attention_mask", "position_ids", "num_logits_to_keep"]
    return inputs + [f"past_key_values.{n}" for n in kv], ["logits"] + [f"present.{n}" for n in kv]


def decoder_dynamic_axes(inputs: list[str], outputs: list[str]) -> dict[str, dict[int, str]]:
    """The decoder's symbolic dimensions, named as in the published export (inputs after the first 5 are KV)."""
    axes: dict[str, dict[int, str]] = {
        "inputs_embeds": {0: "batch_size", 1: "sequence_length"},
        "per_layer_inputs": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "num_logits"},
    }
    axes.update({n: {0: "batch_size", 2: "past_sequence_length"} for n in inputs[5:]})
    axes.update({n: {0: "batch_size", 2: "total_sequence_length"} for n in outputs[1:]})
    return axes


def export_decoder(model: Gemma4ForConditionalGeneration, path: Path) -> None:
    """The decoder with ``num_logits_to_keep`` and ``past_key_values.{i}.key/value`` for own-cache layers."""
    text = model.config.text_config
    batch, seq, past_len = 1, 5, 3
    embeds = torch.randn(batch, seq, text.hidden_size)
    ple = torch.randn(batch, seq, text.num_hidden_layers, text.hidden_size_per_layer_input)
    mask = torch.ones(batch, past_len + seq, dtype=torch.int64)
    positions = torch.arange(past_len, past_len + seq, dtype=torch.int64)[None]
    keep = torch.tensor(0, dtype=torch.int64)
    cached = text.num_hidden_layers - text.num_kv_shared_layers
    past = []
    for i in range(cached):
        head_dim = text.per_layer_config[i].head_dim
        past += [torch.randn(batch, 1, past_len, head_dim), torch.randn(batch, 1, past_len, head_dim)]
    inputs, outputs = decoder_io_names(model)
    axes = decoder_dynamic_axes(inputs, outputs)
    proto = _trace(Decoder(model.model.language_model, model.lm_head), (embeds, ple, mask, positions, keep, *past),
                   inputs, outputs, axes)
    save_external(proto, path)
