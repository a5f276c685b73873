"""ONNX-level helpers for the shape-faithful E2B: random q4 weights streamed to external data.

The shape-faithful model has the real dimensions but random weights, so no weight ever needs to be
held in memory as float32 at full size:

- ``DataWriter`` appends tensors to one external-data file, 64 KiB aligned (so ONNX Runtime can
  memory-map them), and returns ``TensorProto`` s that point into it.
- ``quantize_linears`` turns every ``MatMul(x, Transpose(W))`` of a traced graph into a
  ``MatMulNBits`` (4 bits, block 32, symmetric, the layout ``MatMulNBitsQuantizer`` writes) with
  freshly drawn random codes and scales, one tensor at a time.
- ``embed_tokens_graph`` writes the published ``embed_tokens`` graph directly: two
  ``GatherBlockQuantized`` int4 tables (main 262144 x 1536 and per-layer 262144 x 8960), scaled
  and reshaped exactly like the q4 export of the tiny model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

ALIGN = 65536
BLOCK = 32
CHUNK_ROWS = 8192


class DataWriter:
    """Appends raw tensors to ``path`` and makes external ``TensorProto`` s for them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = path.open("wb")
        self.offset = 0

    def close(self) -> None:
        self.fh.close()

    def _begin(self) -> int:
        pad = (-self.offset) % ALIGN
        if pad:
            self.fh.write(b"\0" * pad)
            self.offset += pad
        return self.offset

    def _proto(self, name: str, data_type: int, dims: list[int], start: int) -> TensorProto:
        t = TensorProto()
        t.name = name
        t.data_type = data_type
        t.dims.extend(dims)
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", self.path.name), ("offset", str(start)), ("length", str(self.offset - start))):
            entry = t.external_data.add()
            entry.key, entry.value = key, value
        return t

    def write_chunks(self, name: str, data_type: int, dims: list[int], chunks: object) -> TensorProto:
        """Write the byte chunks of one tensor (an iterable of arrays) and describe it."""
        start = self._begin()
        for chunk in chunks:  # type: ignore[attr-defined]
            raw = np.ascontiguousarray(chunk).tobytes()
            self.fh.write(raw)
            self.offset += len(raw)
        return self._proto(name, data_type, dims, start)


def _codes(rng: np.random.Generator, rows: int, row_bytes: int) -> object:
    for start in range(0, rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, rows - start)
        yield np.frombuffer(rng.bytes(n * row_bytes), dtype=np.uint8)


def _scales(rng: np.random.Generator, rows: int, per_row: int, std: float) -> object:
    # Uniform 4-bit codes have a standard deviation of about 4.6; scale so the weights have ``std``.
    for start in range(0, rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, rows - start)
        yield (rng.uniform(0.5, 1.5, size=(n, per_row)) * std / 4.6).astype(np.float32)


def q4_matmul_weights(writer: DataWriter, rng: np.random.Generator, name: str, k: int, n: int) -> tuple[TensorProto, TensorProto]:
    """Random ``MatMulNBits`` B ``uint8 [N, K/32, 16]`` and scales ``float [N * K/32]``."""
    blocks = k // BLOCK
    b = writer.write_chunks(f"{name}_Q4", TensorProto.UINT8, [n, blocks, BLOCK // 2], _codes(rng, n, blocks * BLOCK // 2))
    s = writer.write_chunks(f"{name}_scales", TensorProto.FLOAT, [n * blocks], _scales(rng, n, blocks, k**-0.5))
    return b, s


def matmul_nbits(a: str, b: TensorProto, s: TensorProto, out: str, k: int, n: int, name: str) -> onnx.NodeProto:
    return helper.make_node("MatMulNBits", [a, b.name, s.name], [out], name=name, domain="com.microsoft",
                            K=k, N=n, bits=4, block_size=BLOCK)


def random_float_matrix(writer: DataWriter, rng: np.random.Generator, name: str, k: int, n: int) -> TensorProto:
    """A random float32 ``[K, N]`` initializer (a MatMul B), written in row chunks."""
    def chunks() -> object:
        for start in range(0, k, 64):
            rows = min(64, k - start)
            yield (rng.standard_normal((rows, n), dtype=np.float32) * k**-0.5)

    return writer.write_chunks(name, TensorProto.FLOAT, [k, n], chunks())


def quantize_linears(model: onnx.ModelProto, writer: DataWriter, rng: np.random.Generator,
                     skip: Callable[[str], bool] = lambda _n: False,
                     progress: Callable[[str], None] | None = None) -> int:
    """Replace each ``MatMul(x, Transpose(W [N, K]))`` by a random q4 ``MatMulNBits``; returns how many.

    ``skip(initializer_name)`` leaves a MatMul alone (the LM head is handled by the caller).
    Transposes and weights left without consumers are removed.
    """
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {o: node for node in graph.node for o in node.output}
    new_nodes: list[onnx.NodeProto] = []
    replaced = 0
    for node in graph.node:
        src = producer.get(node.input[1]) if node.op_type == "MatMul" else None
        weight = inits.get(src.input[0]) if src is not None and src.op_type == "Transpose" else None
        if weight is None or len(weight.dims) != 2 or skip(weight.name):
            new_nodes.append(node)
            continue
        n, k = int(weight.dims[0]), int(weight.dims[1])
        b, s = q4_matmul_weights(writer, rng, f"w{replaced}.{weight.name}", k, n)
        graph.initializer.extend([b, s])
        new_nodes.append(matmul_nbits(node.input[0], b, s, node.output[0], k, n, node.name or f"MatMulNBits_{replaced}"))
        replaced += 1
        if progress is not None and replaced % 25 == 0:
            progress(f"  {replaced} linear layers quantized ({writer.offset / 2**30:.2f} GiB written)")
    del graph.node[:]
    graph.node.extend(new_nodes)
    prune(model)
    return replaced


def prune(model: onnx.ModelProto) -> None:
    """Drop nodes whose outputs nobody reads and initializers no node reads (repeat until stable)."""
    graph = model.graph
    while True:
        used = {i for node in graph.node for i in node.input} | {o.name for o in graph.output}
        keep = [n for n in graph.node if any(o in used for o in n.output)]
        if len(keep) == len(graph.node):
            break
        del graph.node[:]
        graph.node.extend(keep)
    used = {i for node in graph.node for i in node.input}
    keep_inits = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep_inits)


def _int4_table(writer: DataWriter, rng: np.random.Generator, name: str, rows: int, width: int,
                std: float) -> tuple[TensorProto, TensorProto]:
    q = writer.write_chunks(name + "_Q4", TensorProto.INT4, [rows, width], _codes(rng, rows, width // 2))
    s = writer.write_chunks(name + "_scales", TensorProto.FLOAT, [rows, width // BLOCK], _scales(rng, rows, width // BLOCK, std))
    return q, s


def embed_tokens_graph(out: Path, vocab: int, hidden: int, layers: int, ple_dim: int, seed: int,
                       progress: Callable[[str], None] | None = None) -> Path:
    """Write ``embed_tokens_q4.onnx`` (+ ``_data``): ``input_ids -> inputs_embeds, per_layer_inputs``."""
    rng = np.random.default_rng(seed)
    writer = DataWriter(out.with_name(out.name + "_data"))
    try:
        if progress:
            progress(f"  main table {vocab} x {hidden} (int4)")
        main_q, main_s = _int4_table(writer, rng, "embed_tokens.weight", vocab, hidden, 1.0 / hidden**0.5)
        if progress:
            progress(f"  per-layer table {vocab} x {layers * ple_dim} (int4)")
        ple_q, ple_s = _int4_table(writer, rng, "embed_tokens_per_layer.weight", vocab, layers * ple_dim, 1.0 / ple_dim**0.5)
    finally:
        writer.close()
    consts = [
        helper.make_tensor("embed_scale", TensorProto.FLOAT, [], [hidden**0.5]),
        helper.make_tensor("ple_scale", TensorProto.FLOAT, [], [ple_dim**0.5]),
        helper.make_tensor("ple_shape", TensorProto.INT64, [4], [0, 0, layers, ple_dim]),
    ]
    gbq = {"domain": "com.microsoft", "block_size": BLOCK, "gather_axis": 0, "quantize_axis": 1}
    nodes = [
        helper.make_node("GatherBlockQuantized", [main_q.name, "input_ids", main_s.name], ["embeds_raw"], **gbq),
        helper.make_node("Mul", ["embeds_raw", "embed_scale"], ["inputs_embeds"]),
        helper.make_node("GatherBlockQuantized", [ple_q.name, "input_ids", ple_s.name], ["ple_raw"], **gbq),
        helper.make_node("Mul", ["ple_raw", "ple_scale"], ["ple_flat"]),
        helper.make_node("Reshape", ["ple_flat", "ple_shape"], ["per_layer_inputs"]),
    ]
    graph = helper.make_graph(
        nodes, "embed_tokens",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])],
        [helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, ["batch_size", "sequence_length", hidden]),
         helper.make_tensor_value_info("per_layer_inputs", TensorProto.FLOAT,
                                       ["batch_size", "sequence_length", layers, ple_dim])],
        initializer=[main_q, main_s, ple_q, ple_s, *consts],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)],
                              producer_name="shape_faithful_e2b")
    model.ir_version = 10
    onnx.save_model(model, str(out))
    return out
