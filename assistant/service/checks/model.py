"""Are the model files there? (Loading and verifying them is the engine's check, added at the merge.)"""

from __future__ import annotations

from pathlib import Path

from assistant.config import Config, model_dir
from assistant.service.doctor import Result

TOP_LEVEL = ("config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja")
SUFFIX = {"fp32": "", "fp16": "_fp16", "q4": "_q4", "q4f16": "_q4f16", "quantized": "_quantized"}


def required_files(config: Config) -> list[str]:
    """Paths, relative to the model directory, of what the configured precisions need.

    With ``model.backend = "llama.cpp"`` the text decoder is a GGUF (the engine's ``llama.cpp backend`` check):
    of the graphs only the audio encoder is needed.
    """
    m = config.model
    graphs: tuple[tuple[str, str], ...] = (("audio_encoder", m.audio_precision),)
    if m.backend != "llama.cpp":
        graphs += (("embed_tokens", m.embed_precision), ("decoder_model_merged", m.decoder_precision))
    files = list(TOP_LEVEL)
    for graph, precision in graphs:
        name = f"onnx/{graph}{SUFFIX[precision]}.onnx"
        files += [name, name + "_data"]
    return files


def model_files(config: Config) -> Result:
    where = model_dir(config)
    fix = (f"run 'assistant models pull e2b' (onnx-community/gemma-4-E2B-it-ONNX, {config.model.decoder_precision}) "
           f"to get it into {where}, or copy a model directory and set model.dir")
    if not where.is_dir():
        return Result.fail(f"{where} does not exist", fix)
    missing = [f for f in required_files(config) if not (where / f).is_file()]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        return Result.fail(f"missing in {where}: {shown}", fix)
    files = required_files(config)
    pieces = [p for f in files if f.endswith(".onnx") for p in (where / "onnx").glob(Path(f).name + "_data_*")]
    size = sum((where / f).stat().st_size for f in files) + sum(p.stat().st_size for p in pieces)
    return Result.ok(f"{where} ({size / 1e9:.2f} GB for the configured precisions)")
