"""The published model directory: which files, which precisions, and whether they are whole.

Layout (onnx-community/gemma-4-E2B-it-ONNX)::

    config.json generation_config.json tokenizer.json tokenizer_config.json
    chat_template.jinja processor_config.json [preprocessor_config.json] [manifest.json]
    onnx/{audio_encoder,embed_tokens,decoder_model_merged}{,_fp16,_q4,_q4f16,_quantized}.onnx
    onnx/<graph>.onnx_data[, _data_1, _data_2, ...]

Every problem is reported as an ``AssistantError`` of one line naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.config.schema import PRECISIONS
from assistant.engine.graphs.onnxfile import OnnxFormatError, OnnxInfo, read_onnx_info
from assistant.errors import AssistantError

GRAPHS = ("audio_encoder", "embed_tokens", "decoder_model_merged")
SUFFIX = {"fp32": "", "fp16": "_fp16", "q4": "_q4", "q4f16": "_q4f16", "quantized": "_quantized"}
REQUIRED_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "processor_config.json",
)
OPTIONAL_FILES = ("preprocessor_config.json",)
MANIFEST = "manifest.json"

assert tuple(SUFFIX) == PRECISIONS


class ModelDirError(AssistantError):
    """A model directory problem; the message names the file."""


def graph_file(graph: str, precision: str) -> str:
    """Path of a graph inside the model dir, e.g. ``onnx/decoder_model_merged_q4.onnx``."""
    return f"onnx/{graph}{SUFFIX[precision]}.onnx"


def shard_files(model_dir: Path, onnx_rel: str) -> list[str]:
    """The external-data files present next to a graph: ``.onnx_data``, ``.onnx_data_1``, ..."""
    folder = (model_dir / onnx_rel).parent
    stem = Path(onnx_rel).name + "_data"
    found = [p for p in folder.glob(stem + "*") if p.name == stem or p.name[len(stem) :].lstrip("_").isdigit()]
    return sorted(f"{Path(onnx_rel).parent}/{p.name}" for p in found)


def installed_precisions(model_dir: Path, graph: str) -> list[str]:
    """Precisions of ``graph`` whose .onnx file exists in ``model_dir``."""
    return [p for p in PRECISIONS if (model_dir / graph_file(graph, p)).is_file()]


def read_json(model_dir: Path, name: str) -> dict[str, Any]:
    """A sidecar JSON file, or a one-line error naming it."""
    path = model_dir / name
    if not path.is_file():
        raise ModelDirError(f"{path}: missing (the model directory is incomplete)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelDirError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise ModelDirError(f"{path}: expected a JSON object")
    return data


def check_dir(model_dir: Path) -> None:
    """The directory exists and holds every sidecar file."""
    if not model_dir.is_dir():
        raise ModelDirError(
            f"{model_dir}: no model directory here (run 'assistant models pull e2b' or set model.dir in the config)"
        )
    for name in REQUIRED_FILES:
        if not (model_dir / name).is_file():
            raise ModelDirError(f"{model_dir / name}: missing (the model directory is incomplete)")


def check_graph_files(model_dir: Path, graph: str, precision: str) -> OnnxInfo:
    """The .onnx file parses and every external-data span it names exists in full."""
    rel = graph_file(graph, precision)
    path = model_dir / rel
    if not path.is_file():
        have = installed_precisions(model_dir, graph)
        hint = f"installed: {', '.join(have)}" if have else "no precision of it is installed"
        raise ModelDirError(f"{path}: missing ({graph} in {precision}; {hint})")
    try:
        info = read_onnx_info(path)
    except (OSError, OnnxFormatError) as err:
        raise ModelDirError(f"{path}: truncated or not an ONNX file ({err})") from err
    needed: dict[str, int] = {}
    for ref in info.external:
        end = ref.offset + max(ref.length, 0)
        needed[ref.location] = max(needed.get(ref.location, 0), end)
    for location, end in sorted(needed.items()):
        shard = path.parent / location
        if not shard.is_file():
            raise ModelDirError(f"{shard}: missing external-data shard of {rel}")
        size = shard.stat().st_size
        if size < end:
            raise ModelDirError(f"{shard}: truncated ({size} bytes, {rel} needs at least {end})")
    return info


def iter_model_files(model_dir: Path) -> Iterator[str]:
    """Every file of the model dir that a manifest covers, relative, sorted."""
    for path in sorted(model_dir.rglob("*")):
        rel = path.relative_to(model_dir).as_posix()
        if path.is_file() and rel != MANIFEST and not rel.startswith("."):
            yield rel


@dataclass(frozen=True)
class Selection:
    """The precision chosen for each graph."""

    decoder: str = "q4"
    embed: str = "q4"
    audio: str = "q4"

    def items(self) -> list[tuple[str, str]]:
        return [("audio_encoder", self.audio), ("embed_tokens", self.embed), ("decoder_model_merged", self.decoder)]
