"""The minimal .onnx reader agrees with the onnx package and notices truncation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data, write_external_data_tensors

from assistant.engine.graphs.model_dir import ModelDirError, check_graph_files
from assistant.engine.graphs.onnxfile import OnnxFormatError, read_onnx_info


def _external_model(folder: Path, name: str = "embed_tokens.onnx") -> Path:
    """A small graph with symbolic, numeric and scalar I/O; its two weights in two shards, like the publisher's."""
    weights = [numpy_helper.from_array(np.arange(64 * (i + 1), dtype=np.float32), f"w{i}") for i in range(2)]
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
        helper.make_tensor_value_info("mask", TensorProto.BOOL, [1, None]),
        helper.make_tensor_value_info("keep", TensorProto.INT64, []),
        helper.make_tensor_value_info("half", TensorProto.FLOAT16, [2, "n", 3]),
    ]
    outputs = [helper.make_tensor_value_info("out_ids", TensorProto.INT64, ["batch_size", "sequence_length"])]
    nodes = [helper.make_node("Identity", ["input_ids"], ["out_ids"])]
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, initializer=weights))
    for i, w in enumerate(model.graph.initializer):
        set_external_data(w, location=f"{name}_data" + (f"_{i}" if i else ""))
    folder.mkdir(parents=True, exist_ok=True)
    write_external_data_tensors(model, str(folder))
    path = folder / name
    onnx.save_model(model, str(path))
    return path


def test_signature_matches_onnx(tmp_path: Path) -> None:
    path = _external_model(tmp_path / "m")
    info = read_onnx_info(path)
    assert [(i.name, i.dtype, i.shape) for i in info.inputs] == [
        ("input_ids", "int64", ("batch_size", "sequence_length")),
        ("mask", "bool", (1, None)),
        ("keep", "int64", ()),
        ("half", "float16", (2, "n", 3)),
    ]
    assert [(o.name, o.dtype) for o in info.outputs] == [("out_ids", "int64")]
    model = onnx.load(str(path), load_external_data=False)
    entries = [{e.key: e.value for e in t.external_data} for t in model.graph.initializer]
    want = sorted((e["location"], int(e.get("offset", 0)), int(e.get("length", -1))) for e in entries)
    assert sorted((r.location, r.offset, r.length) for r in info.external) == want
    assert {r.location for r in info.external} == {"embed_tokens.onnx_data", "embed_tokens.onnx_data_1"}


def test_truncated_graph_file_is_detected(tmp_path: Path) -> None:
    path = _external_model(tmp_path / "m")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OnnxFormatError):
        read_onnx_info(path)
    (tmp_path / "m" / "onnx").mkdir()
    path.rename(tmp_path / "m" / "onnx" / "embed_tokens.onnx")
    with pytest.raises(ModelDirError, match=r"embed_tokens\.onnx: truncated or not an ONNX file"):
        check_graph_files(tmp_path / "m", "embed_tokens", "fp32")


def test_missing_and_truncated_shards_are_named(tmp_path: Path) -> None:
    root = tmp_path / "m"
    path = _external_model(root / "onnx")
    info = check_graph_files(root, "embed_tokens", "fp32")
    assert info.external
    shard = path.with_name("embed_tokens.onnx_data_1")
    data = shard.read_bytes()
    shard.write_bytes(data[:-4])
    with pytest.raises(ModelDirError, match=r"embed_tokens\.onnx_data_1: truncated \(\d+ bytes, onnx/embed_tokens\.onnx needs"):
        check_graph_files(root, "embed_tokens", "fp32")
    shard.unlink()
    with pytest.raises(ModelDirError, match=r"embed_tokens\.onnx_data_1: missing external-data shard of onnx/embed_tokens\.onnx"):
        check_graph_files(root, "embed_tokens", "fp32")


def test_missing_precision_lists_what_is_installed(tmp_path: Path) -> None:
    root = tmp_path / "m"
    _external_model(root / "onnx")
    with pytest.raises(ModelDirError, match=r"embed_tokens_q4\.onnx: missing \(embed_tokens in q4; installed: fp32\)"):
        check_graph_files(root, "embed_tokens", "q4")
