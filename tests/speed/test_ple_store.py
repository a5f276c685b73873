"""Per-layer embeddings from the memory-mapped store: close to the graph's lookup, same top-1 tokens."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.config.schema import ModelConfig
from assistant.engine.model import GemmaModel
from assistant.protocols import Message

pytestmark = pytest.mark.slow
CFG = ModelConfig(decoder_precision="fp32", embed_precision="fp32", prefix_cache=False)


@pytest.fixture(scope="module")
def models(tiny_text_dir, tmp_path_factory) -> tuple[GemmaModel, GemmaModel, Path]:
    cache = tmp_path_factory.mktemp("ple-cache")
    lines: list[str] = []
    stored = GemmaModel.load(tiny_text_dir, ModelConfig(**{**CFG.__dict__, "ple_store": "int8"}), cache_dir=cache,
                             progress=lines.append)
    assert any("building the per-layer embedding store" in line for line in lines)  # progress was shown
    return stored, GemmaModel.load(tiny_text_dir, CFG), cache


def test_store_rows_are_within_int8_rounding_of_the_graph(models) -> None:
    stored, graph, _ = models
    ids = list(range(0, stored.spec.text.vocab_size, 7))
    _, from_store = stored.decoder.embed(ids)
    _, from_graph = graph.decoder.embed(ids)
    assert from_store.shape == from_graph.shape
    half_step = np.abs(from_graph).max(axis=-1, keepdims=True) / 127 / 2  # symmetric per-row int8 rounding
    assert np.all(np.abs(from_store - from_graph) <= half_step + 1e-6)


def test_store_path_gives_the_graph_path_top1(models) -> None:
    stored, graph, _ = models
    for text in ("turn on the kitchen light", "what is the weather like", "hello there"):
        messages = [Message(role="user", text=text)]
        a = stored.stream(messages, (), stored.options(max_new_tokens=8))
        b = graph.stream(messages, (), graph.options(max_new_tokens=8))
        list(a), list(b)
        assert a.token_ids == b.token_ids


def test_the_store_is_built_once_and_reused(models, tiny_text_dir) -> None:
    _, _, cache = models
    files = sorted(cache.glob("*.ple"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    lines: list[str] = []
    GemmaModel.load(tiny_text_dir, ModelConfig(**{**CFG.__dict__, "ple_store": "int8"}), cache_dir=cache,
                    progress=lines.append)
    assert not lines and files[0].stat().st_mtime_ns == stamp


def test_a_read_only_model_dir_builds_into_the_home_cache(tiny_text_dir, tmp_path, monkeypatch) -> None:
    from assistant.engine.model import default_cache_dir

    model = tmp_path / "model"
    shutil.copytree(tiny_text_dir, model)
    assert default_cache_dir(model) == model / ".cache"
    model.chmod(0o555)
    try:
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        expected = tmp_path / "home" / ".cache" / "assistant"
        assert default_cache_dir(model) == (expected if not _root() else model / ".cache")
    finally:
        model.chmod(0o755)


def _root() -> bool:
    import os

    return os.geteuid() == 0  # root may write anywhere
