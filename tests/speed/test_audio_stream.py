"""The incremental audio encoder: its rows equal the whole-clip encoding; spoken turns use it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.benchmarks.audiostream import whole_rows
from assistant.config.schema import ModelConfig
from assistant.engine.audio.audiosplit import SplitError, plan, split_encoder
from assistant.engine.audio.audiostream import IncrementalEncoder, StagedEncoder, StagedSession, stable_rows
from assistant.engine.audio.features import audio_token_count, to_float
from assistant.engine.decoding.timings import Timings
from assistant.engine.graphs.sessions import Graph, open_graph
from assistant.engine.model import GemmaModel
from assistant.protocols import Message
from tests.speed.test_audio_turn import SYSTEM, speech

pytestmark = pytest.mark.slow
FP32 = ModelConfig(decoder_precision="fp32", embed_precision="fp32", audio_precision="fp32")
Q4 = ModelConfig(decoder_precision="fp32", embed_precision="fp32", audio_precision="q4")  # int8 pass on the encoder
TOLERANCE = {"fp32": 1e-5, "q4": 1e-5}  # measured: 0.0 for both (the stages compute exactly what the graph does)
LENGTHS = [0.3, 0.77, 1.0, 2.53, 6.1, 12.01]


@pytest.fixture(scope="module", params=["fp32", "q4"])
def model(request, tiny_model_dir, tmp_path_factory) -> GemmaModel:
    cfg = FP32 if request.param == "fp32" else Q4
    return GemmaModel.load(tiny_model_dir("audio"), cfg, graph_cache=tmp_path_factory.mktemp("graphs"))


_WHOLE: dict[Path, Graph] = {}


def whole(model: GemmaModel, clip: np.ndarray) -> np.ndarray:
    """The rows of the whole ``audio_encoder`` graph as loaded (published or optimised), in its own session."""
    assert model.audio is not None and model.features is not None
    path = model.audio.path
    if path not in _WHOLE:
        _WHOLE[path] = open_graph("audio_encoder", path, threads=1)
    return whole_rows(_WHOLE[path], model.features, clip)


def streamed(model: GemmaModel, clip: np.ndarray, block: int) -> tuple[np.ndarray, IncrementalEncoder]:
    assert model.audio_stages is not None and model.features is not None
    enc = IncrementalEncoder(model.audio_stages, model.features)
    rows = [enc.advance(clip[: min(end, clip.size)]) for end in range(block, clip.size + block, block)]
    rows.append(enc.advance(clip, final=True))
    return np.concatenate([r for r in rows if len(r)]), enc


@pytest.mark.parametrize("seconds", LENGTHS)
def test_incremental_rows_equal_the_whole_clip_rows(model, seconds: float) -> None:
    clip = to_float(speech(seconds, seed=int(seconds * 100)))
    expected = whole(model, clip)
    rows, enc = streamed(model, clip, 1600)  # 0.1 s blocks
    assert rows.shape == expected.shape and enc.done == len(expected)
    assert enc.runs >= min(len(expected), int(seconds * 10) - 1)  # it really went block by block
    tol = TOLERANCE[model.config.audio_precision]
    np.testing.assert_allclose(rows, expected, atol=tol, rtol=0)


@pytest.mark.parametrize("block", [333, 7000, 16000])
def test_irregular_blocks_give_the_same_rows(model, block: int) -> None:
    clip = to_float(speech(4.37, seed=3))
    rows, _ = streamed(model, clip, block)
    np.testing.assert_allclose(rows, whole(model, clip), atol=TOLERANCE[model.config.audio_precision], rtol=0)


def test_only_stable_rows_come_before_the_end(model) -> None:
    clip = to_float(speech(2.0, seed=4))
    assert model.audio_stages is not None and model.features is not None
    enc = IncrementalEncoder(model.audio_stages, model.features)
    part = enc.advance(clip[:16000])
    assert len(part) == stable_rows(16000) < audio_token_count(16000)
    assert len(enc.advance(clip[:16000])) == 0  # nothing new: nothing encoded
    rest = enc.advance(clip, final=True)
    assert len(part) + len(rest) == audio_token_count(clip.size)


def test_the_split_graph_has_a_stage_per_layer(model) -> None:
    stages = model.audio_stages
    assert stages is not None
    config = json.loads((model.model_dir / "config.json").read_text())
    names = [s.name for s in stages.plan.all()]
    layers = config["audio_config"]["num_hidden_layers"]
    assert names == ["front", "mask", *(f"layer{i}" for i in range(layers)), "tail"] and layers >= 2


def test_a_renamed_graph_is_not_split_and_turns_encode_whole_clips(tiny_model_dir, tmp_path, caplog) -> None:
    import onnx

    src = tiny_model_dir("audio") / "onnx" / "audio_encoder.onnx"
    proto = onnx.load(str(src), load_external_data=False)
    for node in proto.graph.node:
        node.name = node.name.replace("/layers.", "/blocks.")
    with pytest.raises(SplitError, match="layers"):
        plan(proto)
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir("audio"), copy)
    onnx.save_model(proto, str(copy / "onnx" / "audio_encoder.onnx"))
    with caplog.at_level("WARNING", logger="assistant.engine"):
        model = GemmaModel.load(copy, FP32, graph_cache=tmp_path / "graphs")
    assert model.audio_stages is None and "encoding whole clips" in caplog.text
    clip = speech(1.5, seed=5)
    turn = model.begin_audio_turn([SYSTEM], (), model.options(max_new_tokens=6), every_s=0.5)
    turn.feed(clip)
    gen = turn.finish()
    list(gen)
    batch = model.stream([SYSTEM, Message(role="user", audio=clip)], (), model.options(max_new_tokens=6))
    list(batch)
    assert gen.token_ids == batch.token_ids and turn.prefilled_rows > 0


def test_split_stages_are_cached(tiny_model_dir, tmp_path) -> None:
    src = tiny_model_dir("audio") / "onnx" / "audio_encoder.onnx"
    first, files = split_encoder(src, tmp_path)
    mtimes = {name: path.stat().st_mtime_ns for name, path in files.items()}
    again, files2 = split_encoder(src, tmp_path)
    assert again == first and files2 == files
    assert {name: path.stat().st_mtime_ns for name, path in files2.items()} == mtimes
    assert StagedEncoder.load(src, tmp_path, threads=1) is not None
    copy = tmp_path / "model"
    shutil.copytree(src.parent, copy)
    moved = copy / src.name
    _, old = split_encoder(moved, tmp_path)
    moved.touch()  # a changed source: a new entry replaces the old one
    _, new = split_encoder(moved, tmp_path)
    assert new["front"].parent != old["front"].parent and not old["front"].parent.exists()
    assert files["front"].is_file()  # the other source's entry is kept


@pytest.mark.parametrize("seconds", [1.3, 4.1])
def test_a_streamed_turn_gives_the_batch_tokens_and_finish_encodes_only_the_rest(model, seconds: float) -> None:
    clip = speech(seconds, seed=6)
    history = [SYSTEM, Message(role="user", text="hi"), Message(role="model", text="Hello.")]
    opts = model.options(max_new_tokens=12)
    batch = model.stream([*history, Message(role="user", audio=clip)], (), opts)
    list(batch)
    turn = model.begin_audio_turn(history, (), opts, every_s=0.5)
    for i in range(0, len(clip), 1600):
        turn.feed(clip[i : i + 1600])
    assert turn._encoder is not None
    before = turn._encoder.done
    gen = turn.finish()
    list(gen)
    assert gen.token_ids == batch.token_ids
    n = audio_token_count(len(clip))
    assert turn._encoder.done == n
    assert n - before <= 0.5 * 25 + 2  # finish encoded at most one feed interval and the held-back rows
    assert turn.prefilled_rows == before


def test_bench_audiostream_reports_equal_rows(tiny_model_dir, tmp_path, clean_home) -> None:
    from tests.conftest import run_cli

    result = run_cli("bench", "audiostream", "--model", str(tiny_model_dir("audio")), "--cache-dir", str(tmp_path),
                     "--json", env={"HOME": str(clean_home)}, timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["max_abs_diff_10s"] <= 1e-5 and data["max_rel_diff_12.01s"] <= 1e-5
    assert all(data["targets_met"].values()) and len(data["targets_met"]) == 4
    assert isinstance(data["encoder_after_speech_10s_s"], float) and isinstance(data["whole_clip_encoder_10s_s"], float)


def test_bench_audiostream_without_an_encoder_is_one_line(tiny_model_dir, tmp_path, clean_home) -> None:
    from tests.conftest import run_cli

    result = run_cli("bench", "audiostream", "--model", str(tiny_model_dir("text")), "--cache-dir", str(tmp_path),
                     env={"HOME": str(clean_home)})
    assert result.returncode == 1 and "no audio encoder" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("seconds", [0.3, 2.53, 12.01])
def test_whole_clips_are_encoded_by_the_stages_with_the_graph_rows(model, seconds: float) -> None:
    assert isinstance(model.audio.session, StagedSession)  # the encoder's weights are loaded once, in the stages
    clip = to_float(speech(seconds, seed=7))
    rows = model._encode_audio([clip], [audio_token_count(clip.size)], Timings())
    np.testing.assert_allclose(rows, whole(model, clip), atol=TOLERANCE[model.config.audio_precision], rtol=0)


def test_stream_encoder_off_loads_the_graph_as_published(tiny_model_dir, tmp_path) -> None:
    from dataclasses import replace

    model = GemmaModel.load(tiny_model_dir("audio"), replace(FP32, stream_encoder=False), graph_cache=tmp_path)
    assert model.audio_stages is None and not isinstance(model.audio.session, StagedSession)
    assert model.begin_audio_turn([SYSTEM])._encoder is None
