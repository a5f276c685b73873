"""Build a tiny random Gemma 4 in the published onnx-community ONNX layout.

    python models/tiny_gemma4.py OUT_DIR --config {audio,text,window} [--precisions fp32,fp16,q4,quantized,q4f16] [--seed N]

or, from Python, ``build(out_dir, config_name, precisions, seed) -> Path``. The result is a directory
an engine can load as if it were ``onnx-community/gemma-4-E2B-it-ONNX``:

    config.json  generation_config.json  tokenizer.json  tokenizer_config.json  chat_template.jinja
    processor_config.json  preprocessor_config.json
    onnx/{audio_encoder,embed_tokens,decoder_model_merged}{,_fp16,_q4,_q4f16,_quantized}.onnx (+ .onnx_data)

(``audio_encoder*`` only for the ``audio`` configuration). The same (config, seed) always gives the
same bytes; ``reference_model(config_name, seed)`` gives the matching torch model for parity checks.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if __package__ in (None, ""):  # run as a script: make `models` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.names import CONFIG_NAMES, GRAPHS, PRECISIONS, SUFFIX

if TYPE_CHECKING:
    from transformers import Gemma4ForConditionalGeneration

__all__ = ["CONFIG_NAMES", "GRAPHS", "PRECISIONS", "SUFFIX", "build", "main", "reference_model"]


def reference_model(config_name: str, seed: int = 0) -> Gemma4ForConditionalGeneration:
    """The torch model whose weights the ONNX files of ``build(..., config_name, ..., seed)`` hold."""
    from models.tiny_configs import build_model

    return build_model(config_name, seed)


def _parse_precisions(text: str | Iterable[str]) -> list[str]:
    items = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    bad = [p for p in items if p not in PRECISIONS]
    if bad or not items:
        raise ValueError(f"unknown precision(s) {', '.join(bad) or '(none)'}; choose from {', '.join(PRECISIONS)}")
    return [p for p in PRECISIONS if p in items]


def _check_replaceable(out: Path) -> None:
    """Refuse to delete anything that is not an empty directory or a model directory."""
    if out.exists():
        if not out.is_dir():
            raise ValueError(f"{out} exists and is not a directory")
        if any(out.iterdir()) and not (out / "config.json").is_file():
            raise ValueError(f"refusing to replace {out}: it is not empty and holds no config.json")


def build(out_dir: Path | str, config_name: str, precisions: Iterable[str] | str = PRECISIONS, seed: int = 0,
          progress: Callable[[str], None] | None = None) -> Path:
    """Build the model directory ``out_dir`` and return its path.

    An existing ``out_dir`` is replaced if it is empty or a model directory (has ``config.json``);
    anything else raises ``ValueError`` rather than deleting it.
    """
    out = Path(out_dir)
    wanted = _parse_precisions(precisions)
    if config_name not in CONFIG_NAMES:
        raise ValueError(f"unknown config {config_name!r}; choose one of {', '.join(CONFIG_NAMES)}")
    _check_replaceable(out)
    say = progress or (lambda _msg: None)
    say(f"building the {config_name} model (seed {seed})")
    from models.export_onnx import export_audio_encoder, export_decoder, export_embed_tokens
    from models.metadata_files import write_metadata
    from models.precisions import graph_path, make_variant
    from models.tiny_configs import build_model
    from models.tokenizer_files import write_tokenizer

    if out.exists():
        shutil.rmtree(out)
    onnx_dir = out / "onnx"
    onnx_dir.mkdir(parents=True)
    model = build_model(config_name, seed)
    write_metadata(out, model.config)
    write_tokenizer(out, model.config.text_config.max_position_embeddings)
    exporters = {"embed_tokens": export_embed_tokens, "decoder_model_merged": export_decoder}
    if model.config.audio_config is not None:
        exporters["audio_encoder"] = export_audio_encoder
    for graph, export in exporters.items():
        fp32 = graph_path(onnx_dir, graph, "fp32")
        say(f"exporting {graph}")
        export(model, fp32)
        for precision in wanted:
            if precision != "fp32":
                say(f"  {graph} -> {precision}")
                make_variant(fp32, precision)
        if "fp32" not in wanted:
            fp32.unlink()
            fp32.with_name(fp32.name + "_data").unlink()
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Build a tiny random Gemma 4 in the published ONNX layout.")
    parser.add_argument("out_dir", type=Path, help="directory to create (an existing model directory is replaced)")
    parser.add_argument("--config", required=True, choices=CONFIG_NAMES, help="tiny configuration")
    parser.add_argument("--precisions", default=",".join(PRECISIONS), help="comma-separated list (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    args = parser.parse_args(argv)
    try:
        precisions = _parse_precisions(args.precisions)
    except ValueError as exc:
        parser.error(str(exc))
    start = time.monotonic()
    try:
        path = build(args.out_dir, args.config, precisions, args.seed, progress=lambda m: print(m, flush=True))
    except (OSError, ValueError) as exc:
        parser.exit(1, f"{parser.prog}: error: {exc}\n")
    print(f"built {args.config} (seed {args.seed}, {', '.join(precisions)}) in {path} in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
