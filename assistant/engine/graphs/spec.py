"""The model directory's sidecar configs, read into frozen dataclasses.

``config.json`` gives the architecture facts the runtime needs (hidden size, layer types,
KV sharing, multimodal token ids); ``generation_config.json`` the stop ids and Gemma's
sampling defaults; ``processor_config.json`` the audio front end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.engine.graphs.model_dir import ModelDirError, read_json


@dataclass(frozen=True)
class TextSpec:
    hidden_size: int
    num_hidden_layers: int
    num_kv_shared_layers: int
    layer_types: tuple[str, ...]
    head_dims: tuple[int, ...]  # per layer: per_layer_config override, else global_head_dim on full layers
    vocab_size: int
    hidden_size_per_layer_input: int
    sliding_window: int
    pad_token_id: int

    @property
    def kv_layers(self) -> int:
        """Layers that own a KV cache (the first ``num_hidden_layers - num_kv_shared_layers``)."""
        return self.num_hidden_layers - self.num_kv_shared_layers

    def kv_head_dim(self, layer: int) -> int:
        return self.head_dims[layer]


@dataclass(frozen=True)
class ModelSpec:
    """config.json: the text model plus the multimodal token ids."""

    text: TextSpec
    has_audio: bool
    audio_token_id: int
    boa_token_id: int
    eoa_token_id: int
    image_token_id: int
    video_token_id: int

    @property
    def placeholder_ids(self) -> tuple[int, ...]:
        """Ids replaced by pad before the embedding lookups (never BOA/EOA)."""
        return tuple(i for i in (self.audio_token_id, self.image_token_id, self.video_token_id) if i >= 0)


@dataclass(frozen=True)
class GenerationSpec:
    """generation_config.json."""

    eos_token_ids: tuple[int, ...]
    bos_token_id: int
    pad_token_id: int
    temperature: float
    top_k: int
    top_p: float
    suppress_tokens: tuple[int, ...]


@dataclass(frozen=True)
class ProcessorSpec:
    """processor_config.json: audio front end settings and the token cap."""

    audio_seq_length: int
    audio_ms_per_token: int
    feature_extractor: dict[str, Any]


def _get(data: dict[str, Any], key: str, source: Path, kind: type | tuple[type, ...] = int) -> Any:
    if key not in data:
        raise ModelDirError(f"{source}: missing key {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ModelDirError(f"{source}: {key!r} has an unexpected value {value!r}")
    return value


def _ids(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    return tuple(int(v) for v in (value if isinstance(value, list) else [value]))


def load_model_spec(model_dir: Path) -> ModelSpec:
    path = model_dir / "config.json"
    data = read_json(model_dir, "config.json")
    text = data.get("text_config", data)
    if not isinstance(text, dict):
        raise ModelDirError(f"{path}: 'text_config' is not an object")
    layers = _get(text, "num_hidden_layers", path)
    layer_types = tuple(_get(text, "layer_types", path, list))
    if len(layer_types) != layers:
        raise ModelDirError(f"{path}: layer_types has {len(layer_types)} entries for {layers} layers")
    text_spec = TextSpec(
        hidden_size=_get(text, "hidden_size", path),
        num_hidden_layers=layers,
        num_kv_shared_layers=int(text.get("num_kv_shared_layers") or 0),
        layer_types=layer_types,
        head_dims=_head_dims(text, layer_types, path),
        vocab_size=_get(text, "vocab_size", path),
        hidden_size_per_layer_input=_get(text, "hidden_size_per_layer_input", path),
        sliding_window=int(text.get("sliding_window") or 0),
        pad_token_id=int(text.get("pad_token_id") or 0),
    )
    return ModelSpec(
        text=text_spec,
        has_audio=data.get("audio_config") is not None,
        audio_token_id=int(data.get("audio_token_id", -1)),
        boa_token_id=int(data.get("boa_token_id", -1)),
        eoa_token_id=int(data.get("eoa_token_index", data.get("eoa_token_id", -1))),
        image_token_id=int(data.get("image_token_id", -1)),
        video_token_id=int(data.get("video_token_id", -1)),
    )


def _head_dims(text: dict[str, Any], layer_types: tuple[str, ...], path: Path) -> tuple[int, ...]:
    """Per-layer head dims as transformers resolves them (5.x ``per_layer_config`` or 4.x ``global_head_dim``)."""
    head_dim = _get(text, "head_dim", path)
    overrides = text.get("per_layer_config")
    if isinstance(overrides, dict):
        # transformers zero-pads the keys ("04") once there are 10 or more layers.
        by_index = {int(k): v for k, v in overrides.items() if str(k).isdigit()}
        dims = []
        for i in range(len(layer_types)):
            entry = by_index.get(i, {})
            dims.append(int(entry.get("head_dim", head_dim)) if isinstance(entry, dict) else head_dim)
        return tuple(dims)
    global_dim = int(text.get("global_head_dim") or 512)  # transformers' default when absent
    return tuple(global_dim if t == "full_attention" else head_dim for t in layer_types)


def load_generation_spec(model_dir: Path) -> GenerationSpec:
    path = model_dir / "generation_config.json"
    data = read_json(model_dir, "generation_config.json")
    eos = _ids(data.get("eos_token_id"))
    if not eos:
        raise ModelDirError(f"{path}: no eos_token_id")
    return GenerationSpec(
        eos_token_ids=eos,
        bos_token_id=int(data.get("bos_token_id", 2)),
        pad_token_id=int(data.get("pad_token_id", 0)),
        temperature=float(data.get("temperature", 1.0)),
        top_k=int(data.get("top_k", 64)),
        top_p=float(data.get("top_p", 0.95)),
        suppress_tokens=_ids(data.get("suppress_tokens")),
    )


def load_processor_spec(model_dir: Path) -> ProcessorSpec:
    data = read_json(model_dir, "processor_config.json")
    fe = data.get("feature_extractor", {})
    if not isinstance(fe, dict):
        raise ModelDirError(f"{model_dir / 'processor_config.json'}: 'feature_extractor' is not an object")
    return ProcessorSpec(
        audio_seq_length=int(data.get("audio_seq_length", 750)),
        audio_ms_per_token=int(data.get("audio_ms_per_token", 40)),
        feature_extractor=dict(fe),
    )
