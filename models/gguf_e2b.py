"""Write a GGUF of a Gemma 4 model directory's text decoder for llama.cpp (the benchmark peer).

    python models/gguf_e2b.py MODEL_DIR OUT.gguf [--seed N]

``MODEL_DIR`` is a model directory with ``config.json`` and ``tokenizer.json`` (the shape-faithful E2B of
``models/shape_faithful_e2b.py``, or a tiny one). The file is written directly with the ``gguf`` package at
llama.cpp's ``gemma4`` architecture: its hyperparameter keys, tensor names and shapes (those of llama.cpp's
own converter for ``Gemma4ForConditionalGeneration``), with the types llama.cpp's ``Q4_0`` recipe gives:
every linear layer ``Q4_0``, the token embedding (tied head) and the per-layer embedding table ``Q6_K``,
norms and the proportional-RoPE frequency factors ``F32``. Rows too narrow for a block type fall back to
``Q4_0`` or ``F32`` (tiny models).

The weights are **fresh random codes of the right shapes and types**, not the ONNX initialisers: the
shape-faithful model is random too, and decode and prefill speed depend on shapes and types only. Each
block gets random quant codes and a scale that keeps activations near unit size. Tensors are streamed to
disk one at a time (the largest, the 262144 x 8960 per-layer table, in row chunks), so memory stays small.
KV-shared layers get no K/V projections (llama.cpp never reads them there).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `models` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gguf
import numpy as np

from models.gguf_layout import ARCH, Q, Tensor, add_metadata, stream_file, tensors

CHUNK_ROWS = 8192


def _half(x: float) -> np.ndarray:
    return np.array([x], dtype=np.float16).view(np.uint8)


def _blocks(rng: np.random.Generator, rows: int, cols: int, qtype: Q) -> np.ndarray:
    """``rows`` x ``cols`` random weights of type ``qtype`` as raw bytes (std about 1/sqrt(cols))."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(rows, cols // block, size), dtype=np.uint8)
    std = 1.0 / np.sqrt(cols)
    if qtype == Q.Q4_0:  # fp16 d, then 16 bytes of nibbles: value d * (q - 8), std(q - 8) ~ 4.6
        raw[..., 0:2] = _half(std / 4.6)
    elif qtype == Q.Q6_K:  # 128 ql, 64 qh, 16 int8 scales, fp16 d: value d * scale * (q - 32), std ~ 18.5
        raw[..., 192:208] = 16
        raw[..., 208:210] = _half(std / (16 * 18.5))
    else:
        raise ValueError(qtype)
    return raw.reshape(rows, -1)


def _chunks(t: Tensor, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """The bytes of ``t`` in chunks of ``CHUNK_ROWS`` rows: its filler, or fresh random codes."""
    rows = int(np.prod(t.shape[:-1])) if len(t.shape) > 1 else 1
    cols = t.shape[-1]
    for start in range(0, rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, rows - start)
        if t.fill is not None:
            yield t.fill(start, n)
        elif t.qtype == Q.F32:
            yield (rng.standard_normal((n, cols), dtype=np.float32) / np.sqrt(cols)).astype(np.float32)
        else:
            yield _blocks(rng, n, cols, t.qtype)


def write(model_dir: Path, out: Path, seed: int = 0, say: Callable[[str], None] = print) -> int:
    """Write ``out``; return its size in bytes."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    text = config.get("text_config", config)
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(out, ARCH)
    add_metadata(w, text, model_dir, f"{model_dir.name} (random weights, {ARCH})", gguf.LlamaFileType.MOSTLY_Q4_0)
    todo = tensors(text)
    stream_file(w, todo, lambda t: _chunks(t, rng), say)
    return out.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a random-weight Gemma 4 GGUF (llama.cpp gemma4, Q4_0).")
    parser.add_argument("model_dir", type=Path, help="model directory with config.json and tokenizer.json")
    parser.add_argument("out", type=Path, help="GGUF file to write (replaced if it exists)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.monotonic()

    def say(msg: str) -> None:
        print(f"[{time.monotonic() - start:7.1f} s] {msg}", flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    size = write(args.model_dir, args.out, args.seed, say)
    say(f"wrote {args.out} ({size / 1e9:.2f} GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
