"""The 4-bit weights of an ONNX model directory (``*_q4.onnx``) as llama.cpp ``Q4_0`` blocks, by GGUF name.

    python models/gguf_onnx.py MODEL_DIR OUT.gguf     # the shape-faithful E2B: a GGUF of its own q4 weights

A ``MatMulNBits`` weight (bits 4, block 32, no zero points: they default to 8) holds per output row ``N``
``K / 32`` blocks of 16 bytes, element ``2j`` in the low nibble of byte ``j`` and ``2j + 1`` in the high
one, value ``scale * (q - 8)``. A ``Q4_0`` block holds a float16 ``d`` and 16 bytes, element ``j`` in the low
nibble of byte ``j`` and ``j + 16`` in the high one, value ``d * (q - 8)``: the same codes, reordered, with
the scale rounded to float16 (exact for q4f16 files). The embedding tables (``GatherBlockQuantized``, signed
int4 along the row, zero point 0) map the same way (the signed nibble XOR 8 is the Q4_0 code). Refused:
zero points other than 8 (asymmetric quantization: ``Q4_0`` has none), other bit widths or block sizes.
Rows whose length is not a multiple of 32 come back dequantized as float32 (exactly the ONNX values).

Which tensor is which: decoder ``MatMulNBits`` nodes are named ``/<module>[_<layer>]/MatMul...`` by the
torch export (``/mlp/gate_proj_3/MatMul_Q4``: layer 3's ``ffn_gate``); tables by their initialiser name.
Data is read through memory maps, ``CHUNK_ROWS`` rows at a time, so the E2B tables never sit in memory whole.

``write`` (the command) makes the GGUF of a model directory with no torch twin, the shape-faithful E2B
(``models/shape_faithful_e2b.py``): its linears and tables from the ONNX codes, its float32 LM head (the
builder's head is not tied) as ``output.weight`` in F32, and its norms and layer scalars as ones (that
builder's values; they are folded into constants in the graph).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `models` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gguf
import numpy as np
import onnx
from onnx import numpy_helper

from models.gguf_layout import ARCH, Q, Tensor, add_metadata, stream_file, tensors

MODULES = {
    "q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
    "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down",
    "per_layer_input_gate": "inp_gate", "per_layer_projection": "proj",
    "per_layer_model_projection": "per_layer_model_proj",
}
TABLES = {"embed_tokens": "token_embd.weight", "embed_tokens_per_layer": "per_layer_token_embd.weight"}
CHUNK_ROWS = 8192
Rows = Callable[[int, int], np.ndarray]  # (start, n) -> n rows of Q4_0 bytes (uint8) or float32 values


class Source:
    """One GGUF tensor's data in the ONNX files: ``rows`` rows, read ``read(start, n)``."""

    def __init__(self, rows: int, read: Rows):
        self.rows, self.read = rows, read

    def all(self) -> np.ndarray:
        return self.read(0, self.rows)


def _attr(node: onnx.NodeProto, name: str, default: int) -> int:
    for a in node.attribute:
        if a.name == name:
            return int(onnx.helper.get_attribute_value(a))
    return default


def _raw(t: onnx.TensorProto, base: Path, dtype: type[np.generic], shape: tuple[int, ...]) -> np.ndarray:
    """An initialiser's bytes as ``dtype`` of ``shape`` (memory-mapped when external)."""
    if t.data_location == onnx.TensorProto.EXTERNAL:
        info = {e.key: e.value for e in t.external_data}
        return np.memmap(base / info["location"], dtype=dtype, mode="r", offset=int(info.get("offset", 0)), shape=shape)
    if t.raw_data:
        return np.frombuffer(t.raw_data, dtype=dtype).reshape(shape)
    return numpy_helper.to_array(t).reshape(shape).astype(dtype)


def _q4_0(codes: np.ndarray, scales: np.ndarray, cols: int) -> np.ndarray:
    """``codes`` (rows, blocks, 32) in 0..15 and ``scales`` (rows, blocks) -> Q4_0 bytes, or float32 if unaligned."""
    rows, blocks, _ = codes.shape
    if cols % 32:
        values = (codes.astype(np.float32) - 8) * scales[..., None]
        return values.reshape(rows, blocks * 32)[:, :cols]
    d = scales.astype(np.float16).view(np.uint8).reshape(rows, blocks, 2)
    qs = (codes[..., :16] | (codes[..., 16:] << 4)).astype(np.uint8)
    return np.concatenate([d, qs], axis=-1).reshape(rows, blocks * 18)


def _scales(t: onnx.TensorProto, base: Path, rows: int, blocks: int) -> np.ndarray:
    dtype = np.float16 if t.data_type == onnx.TensorProto.FLOAT16 else np.float32
    return _raw(t, base, dtype, (rows, blocks))


def _matmul_nbits(node: onnx.NodeProto, init: dict[str, onnx.TensorProto], base: Path) -> Source:
    if _attr(node, "bits", 4) != 4 or _attr(node, "block_size", 32) != 32:
        raise ValueError(f"{node.name}: only 4-bit block-32 MatMulNBits maps onto Q4_0")
    if len(node.input) > 3 and node.input[3]:
        zp = numpy_helper.to_array(init[node.input[3]])
        if not np.all(zp == 0x88):  # two 4-bit zero points per byte
            raise ValueError(f"{node.name}: zero points other than 8 (asymmetric) have no Q4_0 equivalent")
    rows, blocks, size = (int(d) for d in init[node.input[1]].dims)
    packed = _raw(init[node.input[1]], base, np.uint8, (rows, blocks, size))
    scales = _scales(init[node.input[2]], base, rows, blocks)
    cols = _attr(node, "K", blocks * 32)

    def read(start: int, n: int) -> np.ndarray:
        p = np.asarray(packed[start:start + n])
        codes = np.stack([p & 0x0F, p >> 4], axis=-1).reshape(n, blocks, 32)
        return _q4_0(codes, np.asarray(scales[start:start + n], dtype=np.float32), cols)

    return Source(rows, read)


def _gather_block(node: onnx.NodeProto, init: dict[str, onnx.TensorProto], base: Path) -> Source:
    if (_attr(node, "block_size", 128) != 32 or _attr(node, "quantize_axis", 1) != 1
            or (len(node.input) > 3 and node.input[3])):
        raise ValueError(f"{node.input[0]}: only symmetric block-32 tables along the row map onto Q4_0")
    data = init[node.input[0]]
    if data.data_type != onnx.TensorProto.INT4:
        raise ValueError(f"{node.input[0]}: expected a signed int4 table, got {onnx.TensorProto.DataType.Name(data.data_type)}")
    rows, cols = (int(d) for d in data.dims)
    packed = _raw(data, base, np.uint8, (rows, cols // 2))  # two signed nibbles per byte, low first
    blocks = -(-cols // 32)
    scales = _scales(init[node.input[2]], base, rows, blocks)

    def read(start: int, n: int) -> np.ndarray:
        p = np.asarray(packed[start:start + n])
        codes = np.zeros((n, blocks * 32), dtype=np.uint8)
        codes[:, :cols] = np.stack([p & 0x0F, p >> 4], axis=-1).reshape(n, cols) ^ 8  # signed q -> q + 8
        return _q4_0(codes.reshape(n, blocks, 32), np.asarray(scales[start:start + n], dtype=np.float32), cols)

    return Source(rows, read)


def q4_sources(model_dir: Path) -> dict[str, Source]:
    """GGUF name -> its 4-bit data in ``onnx/decoder_model_merged_q4.onnx`` and ``onnx/embed_tokens_q4.onnx``."""
    out: dict[str, Source] = {}
    onnx_dir = Path(model_dir) / "onnx"
    decoder = onnx.load(str(onnx_dir / "decoder_model_merged_q4.onnx"), load_external_data=False)
    init = {i.name: i for i in decoder.graph.initializer}
    for node in decoder.graph.node:
        if node.op_type != "MatMulNBits" or node.name.split("/")[-2] == "lm_head":
            continue  # Gemma 4 ties the head to the token embedding
        match = re.fullmatch(r"([a-z_]+?)(?:_(\d+))?", node.name.split("/")[-2])
        if not match or match.group(1) not in MODULES:
            raise ValueError(f"{node.name}: no GGUF tensor for this MatMulNBits")
        base = MODULES[match.group(1)]
        name = f"{base}.weight" if base == "per_layer_model_proj" else f"blk.{int(match.group(2) or 0)}.{base}.weight"
        out[name] = _matmul_nbits(node, init, onnx_dir)
    embed = onnx.load(str(onnx_dir / "embed_tokens_q4.onnx"), load_external_data=False)
    init = {i.name: i for i in embed.graph.initializer}
    for node in embed.graph.node:
        if node.op_type == "GatherBlockQuantized":
            out[TABLES[node.input[0].split(".weight")[0].split(".")[-1]]] = _gather_block(node, init, onnx_dir)
    return out


def _head(model_dir: Path, hidden: int, vocab: int) -> Source | None:
    """The decoder's float32 ``lm_head`` MatMul weight ``[hidden, vocab]`` as ``output.weight`` rows, if any."""
    onnx_dir = Path(model_dir) / "onnx"
    decoder = onnx.load(str(onnx_dir / "decoder_model_merged_q4.onnx"), load_external_data=False)
    init = {i.name: i for i in decoder.graph.initializer}
    node = next((n for n in decoder.graph.node if n.op_type == "MatMul" and "lm_head" in n.name), None)
    if node is None or node.input[1] not in init:
        return None
    w = _raw(init[node.input[1]], onnx_dir, np.float32, (hidden, vocab))
    return Source(vocab, lambda start, n: np.ascontiguousarray(np.asarray(w[:, start:start + n]).T))


def write(model_dir: Path, out: Path, say: Callable[[str], None] = print) -> int:
    """Write ``out`` from ``model_dir``'s q4 ONNX files (no torch model); return its size in bytes."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    text = config.get("text_config", config)
    sources = q4_sources(model_dir)
    todo: list[tuple[Tensor, Source | None]] = []
    head = _head(model_dir, text["hidden_size"], text["vocab_size"])
    if head is not None:
        todo.append((Tensor("output.weight", (text["hidden_size"], text["vocab_size"]), Q.F32), head))
    for t in tensors(text):
        src = sources.pop(t.name, None)
        if src is not None:
            t.qtype = Q.Q4_0 if src.read(0, 1).dtype == np.uint8 else Q.F32
        elif len(t.ne) > 1:
            raise ValueError(f"{t.name}: not among the ONNX 4-bit weights")
        todo.append((t, src))
    if sources:
        raise ValueError(f"ONNX weights with no place in the GGUF: {', '.join(sorted(sources))}")
    w = gguf.GGUFWriter(out, ARCH)
    add_metadata(w, text, model_dir, f"{model_dir.name} (its ONNX q4 weights, {ARCH})", gguf.LlamaFileType.MOSTLY_Q4_0)
    sources_of = {t.name: src for t, src in todo}

    def chunks(t: Tensor) -> Iterator[np.ndarray]:
        src = sources_of[t.name]
        rows = t.shape[0] if len(t.shape) > 1 else 1
        for start in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - start)
            assert t.fill is not None or src is not None
            # no source: norms and layer scalars (the layout's ones, the shape-faithful builder's values), RoPE factors
            yield src.read(start, n) if src is not None else t.fill(start, n)  # type: ignore[misc]

    stream_file(w, [t for t, _ in todo], chunks, say)
    return out.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a GGUF (llama.cpp gemma4) of a model directory's ONNX q4 weights.")
    parser.add_argument("model_dir", type=Path, help="model directory with config.json, tokenizer.json, onnx/*_q4.onnx")
    parser.add_argument("out", type=Path, help="GGUF file to write (replaced if it exists)")
    args = parser.parse_args(argv)
    start = time.monotonic()

    def say(msg: str) -> None:
        print(f"[{time.monotonic() - start:7.1f} s] {msg}", flush=True)

    try:
        size = write(args.model_dir, args.out, say)
    except (OSError, ValueError) as exc:
        parser.exit(1, f"{parser.prog}: error: {exc}\n")
    say(f"wrote {args.out} ({size / 1e9:.2f} GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
