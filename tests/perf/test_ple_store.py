"""The memory-mapped per-layer embedding store: parity, residency, and damaged files."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from assistant.engine.graphs.ple_store import PleStore, build_store, dequantize, quantize_rows, session_lookup
from assistant.errors import AssistantError

VOCAB, LAYERS, WIDTH = 4096, 6, 32


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((VOCAB, LAYERS, WIDTH)) * 16).astype(np.float32)


def embed_graph(table: np.ndarray, path):
    """A real ONNX embed_tokens-style graph: Gather from the table, scaled, reshaped to [B, S, L, D]."""
    flat = table.reshape(VOCAB, LAYERS * WIDTH) / 16.0
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["g"]),
        helper.make_node("Mul", ["g", "scale"], ["m"]),
        helper.make_node("Reshape", ["m", "shape"], ["per_layer_inputs"]),
    ]
    graph = helper.make_graph(
        nodes,
        "embed_tokens",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])],
        [helper.make_tensor_value_info("per_layer_inputs", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(flat.astype(np.float32), "table"),
            numpy_helper.from_array(np.array(16.0, dtype=np.float32), "scale"),
            numpy_helper.from_array(np.array([0, 0, LAYERS, WIDTH], dtype=np.int64), "shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("bits", [8, 4])
def test_quantize_roundtrip_error_bound(table, bits):
    codes, scales = quantize_rows(table, bits)
    back = dequantize(codes, scales, bits)
    qmax = 127 if bits == 8 else 7
    # Symmetric rounding: every value within half a step of the row's own scale.
    bound = np.abs(table).max(axis=-1, keepdims=True) / qmax / 2
    assert np.all(np.abs(back - table) <= bound * 1.0001)


@pytest.mark.parametrize("bits", [8, 4])
def test_store_matches_the_graph_lookup(tmp_path, table, bits):
    session = embed_graph(table, tmp_path / "embed_tokens.onnx")
    path = tmp_path / f"ple{bits}.bin"
    seen = []
    header = build_store(session_lookup(session), VOCAB, path, bits=bits, chunk=1000, progress=lambda d, t: seen.append(d))
    assert seen[-1] == VOCAB and len(seen) == 5
    assert not (tmp_path / f"ple{bits}.bin.tmp").exists()
    store = PleStore(path)
    assert store.header == header
    ids = np.array([[2, 105, 4095, 7, 7]], dtype=np.int64)
    expected = session.run(["per_layer_inputs"], {"input_ids": ids})[0]
    got = store.lookup(ids)
    assert got.shape == expected.shape == (1, 5, LAYERS, WIDTH)
    qmax = 127 if bits == 8 else 7
    bound = np.abs(expected).max(axis=-1, keepdims=True) / qmax / 2
    assert np.all(np.abs(got - expected) <= bound * 1.0001 + 1e-6)


def test_only_used_rows_become_resident(tmp_path):
    vocab = 65536
    rows = np.ones((vocab, LAYERS, WIDTH), dtype=np.float32)
    path = tmp_path / "big.bin"
    build_store(lambda ids: rows[ids], vocab, path, bits=8, chunk=8192)
    store = PleStore(path)
    full = store.header.data_bytes
    store.lookup(np.array([1, 500, 60000]))
    resident = store.resident_bytes()
    assert 0 < resident < full / 20, (resident, full)


def test_truncated_store_is_a_one_line_error(tmp_path, table):
    path = tmp_path / "ple.bin"
    build_store(lambda ids: table[ids], VOCAB, path, bits=8)
    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size - 100)
    with pytest.raises(AssistantError, match="truncated") as info:
        PleStore(path)
    assert "\n" not in str(info.value)


def test_foreign_file_is_rejected(tmp_path):
    path = tmp_path / "ple.bin"
    path.write_bytes(b"not a store" * 1000)
    with pytest.raises(AssistantError, match="not a per-layer embedding store"):
        PleStore(path)


def test_out_of_range_ids(tmp_path, table):
    path = tmp_path / "ple.bin"
    build_store(lambda ids: table[ids], VOCAB, path, bits=8)
    with pytest.raises(ValueError, match="out of range"):
        PleStore(path).lookup([VOCAB])
