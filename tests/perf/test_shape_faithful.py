"""The shape-faithful E2B builder at a reduced size: the published I/O contract, real widths, q4 layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from assistant.config.schema import ModelConfig
from assistant.engine.graphs.ple_store import PleStore
from assistant.protocols import Message

pytestmark = pytest.mark.slow


def _io(path: Path) -> tuple[list, list]:
    graph = onnx.load(str(path), load_external_data=False).graph

    def describe(values) -> list:
        return [(v.name, v.type.tensor_type.elem_type,
                 [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]) for v in values]

    return describe(graph.input), describe(graph.output)


def test_reduced_build_has_the_published_io_contract(faithful_small) -> None:
    from assistant.engine.model import GemmaModel

    onnx_dir = faithful_small / "onnx"
    assert sorted(p.name for p in onnx_dir.glob("*.onnx")) == [
        "audio_encoder_q4.onnx", "decoder_model_merged_q4.onnx", "embed_tokens_q4.onnx"]
    inputs, outputs = _io(onnx_dir / "decoder_model_merged_q4.onnx")
    names = [i[0] for i in inputs]
    assert names[:5] == ["inputs_embeds", "per_layer_inputs", "attention_mask", "position_ids", "num_logits_to_keep"]
    cfg = json.loads((faithful_small / "config.json").read_text())["text_config"]
    own = cfg["num_hidden_layers"] - cfg["num_kv_shared_layers"]
    assert names[5:] == [f"past_key_values.{i}.{k}" for i in range(own) for k in ("key", "value")]
    dims = {n: d for n, _, d in inputs}
    assert dims["inputs_embeds"] == ["batch_size", "sequence_length", 1536]
    assert dims["per_layer_inputs"] == ["batch_size", "sequence_length", 7, 256]
    assert [dims[f"past_key_values.{i}.key"][3] for i in range(own)] == [256, 256, 256, 256, 512]
    assert dims["past_key_values.4.key"] == ["batch_size", 1, "past_sequence_length", 512]
    assert outputs[0] == ("logits", 1, ["batch_size", "num_logits", 4096])
    assert [o[0] for o in outputs[1:]] == [f"present.{i}.{k}" for i in range(own) for k in ("key", "value")]
    e_in, e_out = _io(onnx_dir / "embed_tokens_q4.onnx")
    assert e_in == [("input_ids", 7, ["batch_size", "sequence_length"])]
    assert e_out == [("inputs_embeds", 1, ["batch_size", "sequence_length", 1536]),
                     ("per_layer_inputs", 1, ["batch_size", "sequence_length", 7, 256])]
    a_in, a_out = _io(onnx_dir / "audio_encoder_q4.onnx")
    assert [(n, t) for n, t, _ in a_in] == [("input_features", 1), ("input_features_mask", 9)]
    assert a_out[0][0] == "audio_features" and a_out[0][2][-1] == 1536
    # the engine's own contract checks accept it, and a turn with audio runs through it
    model = GemmaModel.load(faithful_small, ModelConfig(threads=1))
    clip = (0.1 * np.sin(np.arange(16000) / 7)).astype(np.float32)
    gen = model.stream([Message(role="user", text="hi", audio=clip)], options=model.options(max_new_tokens=2))
    list(gen)
    assert len(gen.token_ids) == 2 and gen.timings.audio_tokens == 25


def test_reduced_build_is_q4_at_real_widths(faithful_small) -> None:
    graph = onnx.load(str(faithful_small / "onnx" / "decoder_model_merged_q4.onnx"), load_external_data=False).graph
    nbits = [n for n in graph.node if n.op_type == "MatMulNBits"]
    attrs = [{a.name: a.i for a in n.attribute} for n in nbits]
    assert all(a["bits"] == 4 and a["block_size"] == 32 for a in attrs)
    shapes = {(a["K"], a["N"]) for a in attrs}
    # q/o of sliding (8 x 256) and full (8 x 512) layers, the two MLP widths, PLE gate/projection
    assert {(1536, 2048), (2048, 1536), (1536, 4096), (4096, 1536), (1536, 6144), (6144, 1536),
            (1536, 12288), (12288, 1536), (1536, 256), (256, 1536)} <= shapes
    inits = {t.name: list(t.dims) for t in graph.initializer}
    float_weights = [n for n in graph.node if n.op_type == "MatMul" and n.input[1] in inits]
    # only the float32 LM head (assumed unquantized as published; the optimisation pass quantizes it)
    assert [(n.name, inits[n.input[1]]) for n in float_weights] == [("lm_head/MatMul", [1536, 4096])]
    b_names = {n.input[1] for n in nbits}
    assert len(b_names) == len(nbits)  # every linear layer has its own weights


def test_reduced_build_ple_store_matches_the_graph(faithful_small) -> None:
    import onnxruntime as ort

    store = PleStore(faithful_small / "ple_store_int8.bin")
    assert (store.header.vocab, store.header.layers, store.header.width, store.header.bits) == (4096, 7, 256, 8)
    sess = ort.InferenceSession(str(faithful_small / "onnx" / "embed_tokens_q4.onnx"), providers=["CPUExecutionProvider"])
    ids = np.array([0, 1, 2, 77, 1023, 4095])
    graph_rows = sess.run(["per_layer_inputs"], {"input_ids": ids[None]})[0][0]
    err = np.abs(store.lookup(ids) - graph_rows).max() / np.abs(graph_rows).max()
    assert err < 0.01  # int8 per-row scales: at most half a step of 1/127 of the row peak


def test_full_size_config_json_gives_the_engine_the_real_head_dims(tmp_path) -> None:
    from assistant.engine.graphs.spec import load_model_spec
    from models.shape_faithful_e2b import config_json, make_config

    data = config_json(make_config())
    text = data["text_config"]
    assert "per_layer_config" not in text and text["global_head_dim"] == 512
    assert (text["num_hidden_layers"], text["hidden_size"], text["num_kv_shared_layers"], text["vocab_size"]) == (
        35, 1536, 20, 262144)
    (tmp_path / "config.json").write_text(json.dumps(data))
    spec = load_model_spec(tmp_path)
    assert spec.text.head_dims == tuple(512 if i % 5 == 4 else 256 for i in range(35))
    assert spec.text.kv_layers == 15
