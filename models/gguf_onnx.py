"""The 4-bit weights of an ONNX model directory (``*_q4.onnx``) as llama.cpp ``Q4_0`` blocks, by GGUF name.

A ``MatMulNBits`` weight (bits 4, block 32, no zero points: they default to 8) holds per output row ``N``
``K / 32`` blocks of 16 bytes, element ``2j`` in the low nibble of byte ``j`` and ``2j + 1`` in the high
one, value ``scale * (q - 8)``. A ``Q4_0`` block holds a float16 ``d`` and 16 bytes, element ``j`` in the low
nibble of byte ``j`` and ``j + 16`` in the high one, value ``d * (q - 8)``: the same codes, reordered, with
the scale rounded to float16 (exact for q4f16 files). The embedding tables (``GatherBlockQuantized``, signed
int4 along the row, zero point 0) map the same way with ``q + 8``. Not mappable, and refused: zero points
other than 8 (asymmetric quantization: ``Q4_0`` has none), other bit widths or block sizes; rows whose length
is not a multiple of 32 come back dequantized as float32 (exactly the ONNX values).

Which tensor is which: decoder ``MatMulNBits`` nodes are named ``/<module>[_<layer>]/MatMul...`` by the
torch export (``/mlp/gate_proj_3/MatMul_Q4``: layer 3's ``ffn_gate``); the LM head is left out (Gemma 4 ties
it to the token embedding).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

MODULES = {
    "q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
    "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down",
    "per_layer_input_gate": "inp_gate", "per_layer_projection": "proj",
}
TABLES = {"embed_tokens": "token_embd.weight", "embed_tokens_per_layer": "per_layer_token_embd.weight"}


def _attr(node: onnx.NodeProto, name: str, default: int) -> int:
    for a in node.attribute:
        if a.name == name:
            return int(onnx.helper.get_attribute_value(a))
    return default


def _q4_0(codes: np.ndarray, scales: np.ndarray, cols: int) -> np.ndarray:
    """``codes`` (rows, blocks, 32) in 0..15 and ``scales`` (rows, blocks) -> Q4_0 bytes, or float32 if unaligned."""
    rows, blocks, _ = codes.shape
    if cols % 32:
        values = (codes.astype(np.float32) - 8) * scales[..., None]
        return values.reshape(rows, blocks * 32)[:, :cols]
    d = scales.astype(np.float16).view(np.uint8).reshape(rows, blocks, 2)
    qs = (codes[..., :16] | (codes[..., 16:] << 4)).astype(np.uint8)
    return np.concatenate([d, qs], axis=-1).reshape(rows, blocks * 18)


def _matmul_nbits(node: onnx.NodeProto, init: dict[str, onnx.TensorProto]) -> np.ndarray:
    if _attr(node, "bits", 4) != 4 or _attr(node, "block_size", 32) != 32:
        raise ValueError(f"{node.name}: only 4-bit block-32 MatMulNBits maps onto Q4_0")
    if len(node.input) > 3 and node.input[3]:
        zp = numpy_helper.to_array(init[node.input[3]])
        if not np.all(zp == 0x88):  # two 4-bit zero points per byte
            raise ValueError(f"{node.name}: zero points other than 8 (asymmetric) have no Q4_0 equivalent")
    packed = numpy_helper.to_array(init[node.input[1]])  # (N, blocks, 16)
    rows, blocks, _ = packed.shape
    codes = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(rows, blocks, 32)
    scales = numpy_helper.to_array(init[node.input[2]]).astype(np.float32).reshape(rows, blocks)
    return _q4_0(codes, scales, _attr(node, "K", blocks * 32))


def _gather_block(node: onnx.NodeProto, init: dict[str, onnx.TensorProto]) -> np.ndarray:
    if (_attr(node, "block_size", 128) != 32 or _attr(node, "quantize_axis", 1) != 1
            or (len(node.input) > 3 and node.input[3])):
        raise ValueError(f"{node.name}: only symmetric block-32 tables along the row map onto Q4_0")
    data = init[node.input[0]]
    if data.data_type != onnx.TensorProto.INT4:
        raise ValueError(f"{node.name}: expected a signed int4 table, got {onnx.TensorProto.DataType.Name(data.data_type)}")
    values = numpy_helper.to_array(data).astype(np.int16)  # (vocab, cols), -8..7
    rows, cols = values.shape
    blocks = -(-cols // 32)
    padded = np.zeros((rows, blocks * 32), dtype=np.uint8)
    padded[:, :cols] = values + 8
    scales = numpy_helper.to_array(init[node.input[2]]).astype(np.float32).reshape(rows, blocks)
    return _q4_0(padded.reshape(rows, blocks, 32), scales, cols)


def q4_tensors(model_dir: Path) -> dict[str, np.ndarray]:
    """GGUF name -> Q4_0 bytes (rows, blocks * 18) or float32 values, from ``onnx/*_q4.onnx`` (decoder, embeddings)."""
    out: dict[str, np.ndarray] = {}
    decoder = onnx.load(str(Path(model_dir) / "onnx" / "decoder_model_merged_q4.onnx"))
    init = {i.name: i for i in decoder.graph.initializer}
    for node in decoder.graph.node:
        if node.op_type != "MatMulNBits":
            continue
        module = node.name.split("/")[-2]
        if module == "lm_head":
            continue
        if module == "per_layer_model_projection":
            out["per_layer_model_proj.weight"] = _matmul_nbits(node, init)
            continue
        match = re.fullmatch(r"([a-z_]+?)(?:_(\d+))?", module)
        if not match or match.group(1) not in MODULES:
            raise ValueError(f"{node.name}: no GGUF tensor for this MatMulNBits")
        out[f"blk.{int(match.group(2) or 0)}.{MODULES[match.group(1)]}.weight"] = _matmul_nbits(node, init)
    embed = onnx.load(str(Path(model_dir) / "onnx" / "embed_tokens_q4.onnx"))
    init = {i.name: i for i in embed.graph.initializer}
    for node in embed.graph.node:
        if node.op_type == "GatherBlockQuantized":
            out[TABLES[node.name.split("/")[-2]]] = _gather_block(node, init)
    return out
