"""``release_clean_pages`` drops clean file pages only, and a model loaded with it computes the same logits."""

from __future__ import annotations

import mmap
import os
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from assistant.config.schema import ModelConfig
from assistant.engine.decoding.timings import Timings
from assistant.engine.graphs.residency import ReleasingPages, external_data_files, file_mappings, release_clean_pages
from assistant.engine.model import GemmaModel
from assistant.protocols import Message

PAGE = mmap.PAGESIZE
SIZE = 256 * PAGE


def _file(tmp_path: Path) -> tuple[Path, bytes]:
    data = np.random.default_rng(0).integers(0, 256, SIZE, dtype=np.uint8).tobytes()
    path = tmp_path / "weights.bin"
    with path.open("wb") as fh:  # on disk before it is mapped, as model weights are: dirty pages cannot be paged out
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return path, data


def _touch(view: mmap.mmap) -> int:
    return sum(view[i] for i in range(0, SIZE, PAGE))


def test_clean_private_mapping_is_released_and_reads_back_from_the_file(tmp_path) -> None:
    path, data = _file(tmp_path)
    with path.open("rb") as fh:
        view = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)  # MAP_PRIVATE, as ONNX Runtime maps weights
        _touch(view)
        assert sum(m.rss for m in file_mappings([path])) >= SIZE // 2
        released = release_clean_pages([path])
        assert released >= SIZE // 2
        assert sum(m.rss for m in file_mappings([path])) == 0
        assert view[:] == data  # faulted back in from the file, unchanged
        view.close()


def test_a_mapping_with_written_pages_is_left_alone(tmp_path) -> None:
    path, data = _file(tmp_path)
    with path.open("rb") as fh:
        view = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
        _touch(view)
        view[0] = (data[0] + 1) % 256  # a private copy-on-write page: only in memory
        [mapping] = file_mappings([path])
        assert mapping.private_anon > 0
        assert release_clean_pages([path]) == 0
        assert view[0] == (data[0] + 1) % 256 and view[1:] == data[1:]
        view.close()


def test_files_not_mapped_release_nothing(tmp_path) -> None:
    path, _ = _file(tmp_path)
    assert file_mappings([path]) == [] and release_clean_pages([path]) == 0


def _logits(model: GemmaModel, text: str) -> np.ndarray:
    prompt = model.prepare([Message(role="user", text=text)], (), False, Timings())
    embeds, ple = model.decoder.embed(prompt.ids)
    logits, _ = model.decoder.forward(embeds, ple, model.decoder.empty_cache(), all_logits=True)
    return np.asarray(logits)


def test_released_weight_pages_keep_logits_and_tokens(perf_tiny_dirs, tmp_path) -> None:
    root = perf_tiny_dirs["text"]
    cfg = ModelConfig(system_prompt="", threads=1, max_new_tokens=8)
    released = GemmaModel.load(root, cfg, graph_cache=tmp_path / "graphs")
    files = external_data_files(released.decoder.graph.path)  # the optimised q4 graph's weights
    assert file_mappings(files) and sum(m.rss for m in file_mappings(files)) == 0
    kept = GemmaModel.load(root, replace(cfg, release_weight_pages=False), graph_cache=tmp_path / "graphs")
    assert kept.decoder.graph.path == released.decoder.graph.path
    assert sum(m.rss for m in file_mappings(files)) > 0  # what ONNX Runtime leaves resident without the release
    for text in ("turn on the kitchen light", "what is the weather like today"):
        np.testing.assert_allclose(_logits(released, text), _logits(kept, text), atol=1e-5, rtol=0)
        a, b = released.stream([Message(role="user", text=text)]), kept.stream([Message(role="user", text=text)])
        list(a), list(b)
        assert a.token_ids == b.token_ids and a.token_ids


def test_releasing_pages_works_while_open_and_at_exit(tmp_path) -> None:
    path, data = _file(tmp_path)
    with path.open("rb") as fh:
        view = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
        with ReleasingPages([path], interval=0.01) as pages:
            _touch(view)
            for _ in range(1000):  # the thread drops them while the block runs (a session load, in the engine)
                if sum(m.rss for m in file_mappings([path])) == 0:
                    break
                threading.Event().wait(0.01)
            assert sum(m.rss for m in file_mappings([path])) == 0
            _touch(view)  # read back from the file; the exit releases them again
        assert pages.released >= SIZE and sum(m.rss for m in file_mappings([path])) == 0
        assert view[:] == data
        view.close()


def test_arena_shrinking_run_gives_the_same_outputs(perf_tiny_dirs) -> None:
    model = GemmaModel.load(perf_tiny_dirs["text"], ModelConfig(system_prompt="", threads=1))
    prompt = model.prepare([Message(role="user", text="turn on the kitchen light")], (), False, Timings())
    embeds, ple = model.decoder.embed(prompt.ids)
    logits, cache = model.decoder.forward(embeds, ple, model.decoder.empty_cache(), all_logits=True)  # shrinks
    again, _ = model.decoder.forward(embeds, ple, model.decoder.empty_cache(), all_logits=True)
    np.testing.assert_array_equal(logits, again)
    assert cache.length == len(prompt.ids) > 1
    ids = {"input_ids": np.asarray([prompt.ids], dtype=model.decoder.embed_graph.dtype("input_ids"))}
    plain, shrunk = model.decoder.embed_graph.run(ids), model.decoder.embed_graph.run(ids, shrink=True)
    assert len(plain) == len(shrunk) > 0
    for a, b in zip(plain, shrunk, strict=True):
        np.testing.assert_array_equal(a, b)
