"""The tiny Gemma 4 builder (models/): contract signatures, parity with transformers, tokenizer, template."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.conftest import ROOT

PRECISIONS = ("fp32", "fp16", "q4", "q4f16", "quantized")
SUFFIX = {"fp32": "", "fp16": "_fp16", "q4": "_q4", "q4f16": "_q4f16", "quantized": "_quantized"}
HALF = {"fp16", "q4f16"}
NP_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64, "tensor(bool)": np.bool_}


def _session(model_dir: Path, graph: str, precision: str = "fp32") -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(model_dir / "onnx" / f"{graph}{SUFFIX[precision]}.onnx"), options)


def _io(values: list) -> dict[str, tuple[str, list]]:
    return {v.name: (v.type, list(v.shape)) for v in values}


def _cached_layers(config: dict) -> list[int]:
    text = config["text_config"]
    return list(range(text["num_hidden_layers"] - text["num_kv_shared_layers"]))


def _head_dim(config: dict, i: int) -> int:
    text = config["text_config"]
    return text["global_head_dim"] if text["layer_types"][i] == "full_attention" else text["head_dim"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["audio", "text", "window", "llama"])
@pytest.mark.parametrize("precision", PRECISIONS)
def test_graph_signatures_match_the_contract(tiny_model_dir, name: str, precision: str) -> None:
    model_dir = tiny_model_dir(name)
    config = json.loads((model_dir / "config.json").read_text())
    text = config["text_config"]
    hidden, layers, ple = text["hidden_size"], text["num_hidden_layers"], text["hidden_size_per_layer_input"]
    vocab = text["vocab_size"]
    flt = "tensor(float16)" if precision in HALF else "tensor(float)"
    b, s = "batch_size", "sequence_length"

    embed = _session(model_dir, "embed_tokens", precision)
    assert _io(embed.get_inputs()) == {"input_ids": ("tensor(int64)", [b, s])}
    assert _io(embed.get_outputs()) == {"inputs_embeds": (flt, [b, s, hidden]), "per_layer_inputs": (flt, [b, s, layers, ple])}

    decoder = _session(model_dir, "decoder_model_merged", precision)
    want_in = {
        "inputs_embeds": (flt, [b, s, hidden]),
        "per_layer_inputs": (flt, [b, s, layers, ple]),
        "attention_mask": ("tensor(int64)", [b, "total_sequence_length"]),
        "position_ids": ("tensor(int64)", [b, s]),
        "num_logits_to_keep": ("tensor(int64)", []),
    }
    want_out = {"logits": (flt, [b, "num_logits", vocab])}
    for i in _cached_layers(config):
        for kind in ("key", "value"):
            want_in[f"past_key_values.{i}.{kind}"] = (flt, [b, 1, "past_sequence_length", _head_dim(config, i)])
            want_out[f"present.{i}.{kind}"] = (flt, [b, 1, "total_sequence_length", _head_dim(config, i)])
    assert _io(decoder.get_inputs()) == want_in
    assert _io(decoder.get_outputs()) == want_out
    assert [v.name for v in decoder.get_inputs()] == list(want_in)  # graph order too

    audio_path = model_dir / "onnx" / f"audio_encoder{SUFFIX[precision]}.onnx"
    if config.get("audio_config") is None:
        assert not audio_path.exists()
        return
    audio = _session(model_dir, "audio_encoder", precision)
    assert _io(audio.get_inputs()) == {
        "input_features": (flt, [b, "num_frames", 128]),
        "input_features_mask": ("tensor(bool)", [b, "num_frames"]),
    }
    assert _io(audio.get_outputs()) == {"audio_features": (flt, ["num_audio_tokens", hidden])}


def test_every_graph_keeps_its_weights_in_onnx_data_next_to_it(tiny_audio_dir: Path) -> None:
    graphs = sorted((tiny_audio_dir / "onnx").glob("*.onnx"))
    assert len(graphs) == 3 * len(PRECISIONS)
    for path in graphs:
        proto = onnx.load(str(path), load_external_data=False)
        locations = {
            entry.value
            for init in proto.graph.initializer
            if init.data_location == onnx.TensorProto.EXTERNAL
            for entry in init.external_data
            if entry.key == "location"
        }
        assert locations == {path.name + "_data"}, path.name
        assert (path.parent / (path.name + "_data")).stat().st_size > 0


def _features(seconds: float, seed: int = 0) -> dict[str, np.ndarray]:
    from transformers import Gemma4AudioFeatureExtractor

    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    rng = np.random.default_rng(seed)
    wave = (0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 1.3 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)
    out = Gemma4AudioFeatureExtractor()([wave], sampling_rate=16000, return_tensors="np")
    return {"input_features": out["input_features"], "input_features_mask": out["input_features_mask"]}


@pytest.mark.slow
@pytest.mark.parametrize("seconds", [0.3, 1.0, 3.0, 10.0, 30.0])
def test_audio_encoder_matches_transformers(tiny_audio_dir: Path, tiny_reference, seconds: float) -> None:
    import torch

    feats = _features(seconds)
    model = tiny_reference("audio")
    with torch.no_grad():
        out = model.model.get_audio_features(torch.from_numpy(feats["input_features"]),
                                             torch.from_numpy(feats["input_features_mask"]), return_dict=True)
        want = out.pooler_output[out.attention_mask].numpy()
    got = _session(tiny_audio_dir, "audio_encoder").run(None, feats)[0]
    assert got.shape == want.shape == (round(seconds * 25), model.config.text_config.hidden_size)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_audio_encoder_batches_clips_of_different_lengths(tiny_audio_dir: Path, tiny_reference) -> None:
    import torch
    from transformers import Gemma4AudioFeatureExtractor

    rng = np.random.default_rng(3)
    waves = [0.1 * rng.standard_normal(n).astype(np.float32) for n in (16000, 24000)]
    out = Gemma4AudioFeatureExtractor()(waves, sampling_rate=16000, return_tensors="np", padding="longest")
    feats = {"input_features": out["input_features"], "input_features_mask": out["input_features_mask"]}
    assert not feats["input_features_mask"][0].all()  # the shorter clip is padded
    model = tiny_reference("audio")
    with torch.no_grad():
        ref = model.model.get_audio_features(*(torch.from_numpy(v) for v in feats.values()), return_dict=True)
        want = ref.pooler_output[ref.attention_mask].numpy()
    got = _session(tiny_audio_dir, "audio_encoder").run(None, feats)[0]
    assert got.shape == want.shape == (25 + 38, model.config.text_config.hidden_size)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.mark.slow
def test_audio_encoder_precisions_stay_close_to_fp32(tiny_audio_dir: Path) -> None:
    feats = _features(3.0)
    fp32 = _session(tiny_audio_dir, "audio_encoder").run(None, feats)[0]
    scale = float(np.abs(fp32).max())
    for precision, tolerance in (("q4", 1e-5), ("fp16", 0.01), ("q4f16", 0.01), ("quantized", 0.1)):
        session = _session(tiny_audio_dir, "audio_encoder", precision)
        dtype = NP_TYPES[session.get_inputs()[0].type]
        got = session.run(None, {**feats, "input_features": feats["input_features"].astype(dtype)})[0].astype(np.float32)
        assert got.shape == fp32.shape and np.isfinite(got).all(), precision
        assert np.abs(got - fp32).max() <= tolerance * scale, precision


def test_embed_tokens_matches_transformers_with_placeholders_replaced(tiny_audio_dir: Path, tiny_reference) -> None:
    import torch

    model = tiny_reference("audio")
    cfg = model.config
    ids = torch.tensor([[2, 105, 400, cfg.boa_token_id, cfg.audio_token_id, cfg.audio_token_id, cfg.eoa_token_index, 106]])
    lm = model.model.language_model
    with torch.no_grad():
        llm_ids = torch.where(ids == cfg.audio_token_id, cfg.text_config.pad_token_id, ids)
        want_embeds = lm.embed_tokens(llm_ids).numpy()
        want_ple = lm.get_per_layer_inputs(llm_ids, None).numpy()
    embeds, ple = _session(tiny_audio_dir, "embed_tokens").run(None, {"input_ids": llm_ids.numpy()})
    np.testing.assert_allclose(embeds, want_embeds, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ple, want_ple, rtol=0, atol=1e-6)
    assert np.abs(embeds[0, 3] - embeds[0, 4]).max() > 0.1  # BOA is a real token, not a placeholder


def _empty_past(decoder: ort.InferenceSession) -> dict[str, np.ndarray]:
    return {i.name: np.zeros((1, 1, 0, i.shape[3]), NP_TYPES[i.type]) for i in decoder.get_inputs()[5:]}


def _prompt(model, n_audio: int, length: int) -> np.ndarray:
    """``<bos><|turn>user\\n`` + words [+ BOA, audio placeholders, EOA] + words, ``length`` text tokens in all."""
    rng = np.random.default_rng(length)
    words = rng.integers(363, 1000, size=length).tolist()
    cfg = model.config
    audio = [cfg.boa_token_id, *[cfg.audio_token_id] * n_audio, cfg.eoa_token_index] if n_audio else []
    half = length // 2
    return np.array([[2, 105, 364, *words[:half], *audio, *words[half:], 106, 364, 105]], dtype=np.int64)


def _onnx_prefill(model_dir: Path, model, ids: np.ndarray, feats: dict | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The runtime recipe: placeholders -> pad, embed, scatter audio rows, decoder with an empty cache."""
    cfg = model.config
    llm_ids = np.where(ids == cfg.audio_token_id, cfg.text_config.pad_token_id, ids)
    embeds, ple = _session(model_dir, "embed_tokens").run(None, {"input_ids": llm_ids})
    if feats is not None:
        rows = _session(model_dir, "audio_encoder").run(None, feats)[0]
        embeds[ids == cfg.audio_token_id] = rows.reshape(-1, embeds.shape[-1])
    decoder = _session(model_dir, "decoder_model_merged")
    n = ids.shape[1]
    outs = decoder.run(None, {"inputs_embeds": embeds, "per_layer_inputs": ple, "attention_mask": np.ones((1, n), np.int64),
                              "position_ids": np.arange(n, dtype=np.int64)[None], "num_logits_to_keep": np.array(0, np.int64),
                              **_empty_past(decoder)})
    names = [o.name.replace("present", "past_key_values") for o in decoder.get_outputs()]
    return outs[0], dict(zip(names[1:], outs[1:], strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["audio", "text", "window"])
def test_decoder_prefill_and_cached_step_match_transformers(tiny_model_dir, tiny_reference, name: str) -> None:
    import torch

    model_dir, model = tiny_model_dir(name), tiny_reference(name)
    window = model.config.text_config.sliding_window
    feats = _features(1.0) if name == "audio" else None
    ids = _prompt(model, 25 if feats else 0, 3 * window)
    assert ids.shape[1] > 2 * window
    logits, past = _onnx_prefill(model_dir, model, ids, feats)
    torch_feats = {k: torch.from_numpy(v) for k, v in (feats or {}).items()}
    with torch.no_grad():
        ref = model(input_ids=torch.from_numpy(ids), use_cache=True, **torch_feats)
    np.testing.assert_allclose(logits, ref.logits.numpy(), rtol=0, atol=1e-4)

    step = ref.logits[:, -1].argmax(-1, keepdim=True)
    n = ids.shape[1]
    with torch.no_grad():
        mask = torch.ones(1, n + 1, dtype=torch.long)
        ref_step = model(input_ids=step, past_key_values=ref.past_key_values, attention_mask=mask)
    embeds, ple = _session(model_dir, "embed_tokens").run(None, {"input_ids": step.numpy()})
    decoder = _session(model_dir, "decoder_model_merged")
    out = decoder.run(None, {"inputs_embeds": embeds, "per_layer_inputs": ple, "attention_mask": np.ones((1, n + 1), np.int64),
                             "position_ids": np.array([[n]], np.int64), "num_logits_to_keep": np.array(1, np.int64), **past})
    assert out[0].shape == (1, 1, model.config.text_config.vocab_size)
    assert out[1].shape[2] == n + 1  # caches grow to the full length, sliding layers included
    np.testing.assert_allclose(out[0], ref_step.logits.numpy(), rtol=0, atol=1e-4)


def _teacher_forced_logits(model_dir: Path, precision: str, ids: np.ndarray) -> np.ndarray:
    embed, decoder = _session(model_dir, "embed_tokens", precision), _session(model_dir, "decoder_model_merged", precision)
    embeds, ple = embed.run(None, {"input_ids": ids})
    n = ids.shape[1]
    return decoder.run(None, {"inputs_embeds": embeds, "per_layer_inputs": ple, "attention_mask": np.ones((1, n), np.int64),
                              "position_ids": np.arange(n, dtype=np.int64)[None], "num_logits_to_keep": np.array(0, np.int64),
                              **_empty_past(decoder)})[0].astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["audio", "text", "window"])
def test_reduced_precisions_keep_the_top1_token(tiny_model_dir, name: str) -> None:
    model_dir = tiny_model_dir(name)
    ids = np.random.default_rng(7).integers(363, 1000, size=(1, 64)).astype(np.int64)
    ids[0, 0] = 2
    fp32 = _teacher_forced_logits(model_dir, "fp32", ids)
    assert len(set(fp32[0].argmax(-1).tolist())) > 16  # not a constant or copy-the-input model
    agree = {p: float((_teacher_forced_logits(model_dir, p, ids).argmax(-1) == fp32.argmax(-1)).mean()) for p in PRECISIONS[1:]}
    # Weights sit on the int4 grid, so q4 is lossless; fp16 and int8 add rounding only.
    np.testing.assert_allclose(_teacher_forced_logits(model_dir, "q4", ids), fp32, rtol=0, atol=1e-3)
    assert agree["q4"] == 1.0
    assert min(agree["fp16"], agree["q4f16"]) >= 0.9, agree
    assert agree["quantized"] >= 0.7, agree


def test_tokenizer_round_trips_multibyte_text_and_keeps_special_tokens_whole(tiny_text_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_text_dir)
    text = "Grüße, 東京 — ça coûte 5 € 😀\tand\nnew  lines  "
    ids = tok(text, add_special_tokens=False).input_ids
    assert max(ids) < 1024 and tok.unk_token_id not in ids
    assert tok.decode(ids) == text
    assert tok(text).input_ids[0] == tok.bos_token_id
    specials = ["<bos>", "<eos>", "<pad>", "<|turn>", "<turn|>", "<|audio>", "<audio|>", "<|audio|>", "<|image>", "<image|>",
                "<|image|>", "<|video|>", "<|tool>", "<tool|>", "<|tool_call>", "<tool_call|>", "<|tool_response>",
                "<tool_response|>", '<|"|>', "<|think|>", "<|channel>", "<channel|>"]
    joined = "x".join(specials)
    pieces = tok.convert_ids_to_tokens(tok(joined, add_special_tokens=False).input_ids)
    assert [p for p in pieces if p != "x"] == specials
    assert len({tok.convert_tokens_to_ids(t) for t in specials}) == len(specials)


NO_TORCH = """
import sys
sys.modules["torch"] = None  # any import of torch now fails
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
text = tok.apply_chat_template([{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": "hi"}]}],
                               tokenize=False, add_generation_prompt=True)
print(text == "<bos><|turn>user\\n<|audio|>hi<turn|>\\n<|turn>model\\n", tok.decode(tok("é").input_ids[1:]) == "é")
"""


def test_tokenizer_and_template_load_without_torch(tiny_text_dir: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", NO_TORCH, str(tiny_text_dir)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"]


def test_config_and_generation_ids_match_the_tokenizer(tiny_audio_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_audio_dir)
    config = json.loads((tiny_audio_dir / "config.json").read_text())
    generation = json.loads((tiny_audio_dir / "generation_config.json").read_text())
    ids = tok.convert_tokens_to_ids
    assert config["audio_token_id"] == ids("<|audio|>") == tok.audio_token_id
    assert config["boa_token_id"] == ids("<|audio>") and config["eoa_token_index"] == ids("<audio|>")
    assert config["image_token_id"] == ids("<|image|>") and config["video_token_id"] == ids("<|video|>")
    assert config["boi_token_id"] == ids("<|image>") and config["eoi_token_id"] == ids("<image|>")
    assert generation["eos_token_id"] == [ids("<eos>"), ids("<turn|>"), ids("<|tool_response>")]
    assert (generation["bos_token_id"], generation["pad_token_id"]) == (tok.bos_token_id, tok.pad_token_id)
    assert (generation["top_k"], generation["top_p"], generation["temperature"]) == (64, 0.95, 1.0)
    assert json.loads((tiny_audio_dir / "preprocessor_config.json").read_text()) == {"processor_class": "Gemma4Processor"}
    assert "per_layer_config" not in config["text_config"]  # published form: global_head_dim
    from transformers import Gemma4Config

    reloaded = Gemma4Config.from_pretrained(tiny_audio_dir).text_config
    text = config["text_config"]
    assert [reloaded.per_layer_config[i].head_dim for i in range(text["num_hidden_layers"])] == [
        text["global_head_dim"] if t == "full_attention" else text["head_dim"] for t in text["layer_types"]]
    processor = json.loads((tiny_audio_dir / "processor_config.json").read_text())
    assert processor["feature_extractor"]["feature_extractor_type"] == "Gemma4AudioFeatureExtractor"


Q = '<|"|>'
TOOLS = [{"type": "function", "function": {
    "name": "set_light", "description": "Switch a light",
    "parameters": {"type": "object", "required": ["room", "on"], "properties": {
        "room": {"type": "string", "description": "Room name", "enum": ["kitchen", "hall"]},
        "on": {"type": "boolean"},
        "brightness": {"type": "integer", "description": "Percent"}}}}}]
CONVERSATION = [
    {"role": "system", "content": "You are a home assistant."},
    {"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": "Do what I said."}]},
    {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
        "name": "set_light", "arguments": {"room": "kitchen", "on": True, "brightness": 40}}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    {"role": "assistant", "content": "The kitchen light is on."},
    {"role": "user", "content": "Thanks"},
]
RENDERED = (
    "<bos><|turn>system\nYou are a home assistant."
    f"<|tool>declaration:set_light{{description:{Q}Switch a light{Q},parameters:{{properties:{{"
    f"brightness:{{description:{Q}Percent{Q},type:{Q}INTEGER{Q}}},on:{{type:{Q}BOOLEAN{Q}}},"
    f"room:{{description:{Q}Room name{Q},enum:[{Q}kitchen{Q},{Q}hall{Q}],type:{Q}STRING{Q}}}}},"
    f"required:[{Q}room{Q},{Q}on{Q}],type:{Q}OBJECT{Q}}}}}<tool|><turn|>\n"
    "<|turn>user\n<|audio|>Do what I said.<turn|>\n"
    f"<|turn>model\n<|tool_call>call:set_light{{brightness:40,on:true,room:{Q}kitchen{Q}}}<tool_call|>"
    f"<|tool_response>response:set_light{{value:{Q}ok{Q}}}<tool_response|>The kitchen light is on.<turn|>\n"
    "<|turn>user\nThanks<turn|>\n<|turn>model\n"
)


def test_chat_template_renders_the_published_format(tiny_text_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_text_dir)
    assert tok.apply_chat_template(CONVERSATION, tools=TOOLS, tokenize=False, add_generation_prompt=True) == RENDERED
    # A pending tool call ends the prompt with <|tool_response> (generation stops there), no new turn.
    pending = tok.apply_chat_template(CONVERSATION[:3], tools=TOOLS, tokenize=False, add_generation_prompt=True)
    assert pending.endswith(f"room:{Q}kitchen{Q}}}<tool_call|><|tool_response>")
    thinking = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True,
                                       enable_thinking=True)
    assert thinking == "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\nhi<turn|>\n<|turn>model\n"
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "<|channel>thought\nhmm<channel|>Hello"},
               {"role": "user", "content": "again"}]
    assert tok.apply_chat_template(history, tokenize=False) == (
        "<bos><|turn>user\nhi<turn|>\n<|turn>model\nHello<turn|>\n<|turn>user\nagain<turn|>\n")
    call = {"function": {"name": "f", "arguments": {"a": [1, 2], "b": {"c": "d"}}}}
    launch_style = [{"role": "user", "content": "hi"},
                    {"role": "assistant", "tool_calls": [call], "tool_responses": [{"name": "f", "response": {"ok": True}}]}]
    assert tok.apply_chat_template(launch_style, tokenize=False).endswith(
        f"<|turn>model\n<|tool_call>call:f{{a:[1,2],b:{{c:{Q}d{Q}}}}}<tool_call|><|tool_response>response:f{{ok:true}}<tool_response|>")
    tokens = tok.convert_ids_to_tokens(tok(RENDERED, add_special_tokens=False).input_ids)
    assert tokens.count("<|audio|>") == 1 and tokens.count('<|"|>') == RENDERED.count(Q)


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_building_twice_with_one_seed_gives_identical_files(tiny_text_dir: Path, tmp_path: Path) -> None:
    from models.tiny_gemma4 import build

    again = build(tmp_path / "again", "text", seed=0)
    assert _tree_digest(again) == _tree_digest(tiny_text_dir)
    other = build(tmp_path / "other", "text", precisions="fp32", seed=1)
    weights = "onnx/decoder_model_merged.onnx_data"
    assert _tree_digest(other)[weights] != _tree_digest(tiny_text_dir)[weights]


@pytest.mark.slow
def test_cli_builds_a_model_directory(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "models/tiny_gemma4.py", str(out), "--config", "text", "--precisions", "fp32,q4"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "built text" in proc.stdout
    assert sorted(p.name for p in (out / "onnx").glob("*.onnx")) == [
        "decoder_model_merged.onnx", "decoder_model_merged_q4.onnx", "embed_tokens.onnx", "embed_tokens_q4.onnx"]
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                 "processor_config.json", "preprocessor_config.json"):
        assert (out / name).is_file(), name
    bad = subprocess.run([sys.executable, "models/tiny_gemma4.py", str(tmp_path / "bad"), "--config", "text",
                          "--precisions", "int3"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "unknown precision(s) int3" in bad.stderr and "Traceback" not in bad.stderr
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    refused = subprocess.run([sys.executable, "models/tiny_gemma4.py", str(precious), "--config", "text"],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1 and "refusing to replace" in refused.stderr and "Traceback" not in refused.stderr
    assert (precious / "notes.txt").read_text() == "keep me"
