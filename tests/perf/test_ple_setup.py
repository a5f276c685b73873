"""The per-layer embedding store made at first load from a model's embed graph, and found again."""

from __future__ import annotations

import os
import shutil

import numpy as np
import onnxruntime as ort

from assistant.engine.graphs.ple_setup import ensure_ple_store, store_path


def _copy_model(src_dir, dst_dir):
    shutil.copytree(src_dir / "onnx", dst_dir / "onnx", ignore=shutil.ignore_patterns("decoder*"))
    return dst_dir / "onnx" / "embed_tokens_q4.onnx"


def test_store_is_built_once_in_the_cache_and_matches_the_graph(perf_tiny_dirs, tmp_path) -> None:
    graph = _copy_model(perf_tiny_dirs["text"], tmp_path / "model")
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    said: list[str] = []
    store = ensure_ple_store(graph, session, 1024, tmp_path / "cache", progress=said.append)
    assert store.path.parent == tmp_path / "cache" and store.path.name.endswith(".int8.ple") and said
    ids = np.arange(0, 1024, 37)
    want = session.run(["per_layer_inputs"], {"input_ids": ids[None]})[0][0]
    assert np.abs(store.lookup(ids) - want).max() <= np.abs(want).max() / 127
    again: list[str] = []
    assert ensure_ple_store(graph, session, 1024, tmp_path / "cache", progress=again.append).path == store.path
    assert again == []  # found, not rebuilt
    st = graph.stat()
    os.utime(graph, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert store_path(graph, tmp_path / "cache") != store.path  # a changed model gets a new store


def test_a_store_shipped_with_the_model_is_used(perf_tiny_dirs, tmp_path) -> None:
    graph = _copy_model(perf_tiny_dirs["text"], tmp_path / "model")
    shipped = tmp_path / "model" / "ple_store_int8.bin"
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    built = ensure_ple_store(graph, session, 1024, tmp_path / "cache")
    shutil.copyfile(built.path, shipped)
    assert store_path(graph, tmp_path / "cache") == shipped
    assert ensure_ple_store(graph, session, 1024, tmp_path / "other").path == shipped
    assert not (tmp_path / "other").exists()
