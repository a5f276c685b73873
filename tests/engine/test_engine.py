"""GemmaModel on the tiny models: events, stop rules, tool calls, thinking, sampling, prefix cache, timings.

Where a test needs particular output it scripts the tokens with a logits processor (the same hook
a grammar constraint uses), so the real decoder, detokenizer and router all run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from assistant.config.schema import ModelConfig
from assistant.engine.decoding.decode import decode_tokens
from assistant.engine.decoding.sampling import Sampler, SamplingParams
from assistant.engine.decoding.timings import Timings
from assistant.engine.model import GemmaModel
from assistant.errors import AssistantError
from assistant.protocols import Engine, Message, TextDelta, ToolCall

pytestmark = pytest.mark.slow

CFG = ModelConfig(decoder_precision="fp32", embed_precision="fp32", audio_precision="fp32")
LIGHT_TOOL = {
    "type": "function",
    "function": {
        "name": "set_light",
        "description": "Switch a light",
        "parameters": {
            "type": "object",
            "properties": {"on": {"type": "boolean", "description": "on or off"}},
            "required": ["on"],
        },
    },
}


@pytest.fixture(scope="module")
def text_model(tiny_text_dir) -> GemmaModel:
    return GemmaModel.load(tiny_text_dir, CFG)


@pytest.fixture(scope="module")
def audio_model(tiny_audio_dir) -> GemmaModel:
    return GemmaModel.load(tiny_audio_dir, CFG)


def script(ids: Sequence[int]):
    """A processor that forces ``ids`` in order (then keeps forcing the last one)."""
    state = {"n": 0}

    def processor(_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        token = ids[min(state["n"], len(ids) - 1)]
        state["n"] += 1
        logits[:] = -np.inf
        logits[token] = 0.0
        return logits

    return processor


def tok(model: GemmaModel, text: str) -> list[int]:
    return model.tokenizer(text, add_special_tokens=False)["input_ids"]


def run(model: GemmaModel, ids: Sequence[int], messages=None, tools=(), max_new_tokens: int = 64):
    opts = model.options(max_new_tokens=max_new_tokens, processors=(script(ids),))
    gen = model.stream(messages or [Message(role="user", text="hello")], tools, opts)
    events = list(gen)
    return gen, events


def test_satisfies_the_engine_protocol_and_streams_text(text_model: GemmaModel) -> None:
    assert isinstance(text_model, Engine)
    events = list(text_model.generate([Message(role="user", text="Tell me something about the kitchen light")]))
    assert all(isinstance(e, TextDelta | ToolCall) for e in events)
    gen = text_model.stream([Message(role="user", text="Tell me something")], (), text_model.options(max_new_tokens=12))
    deltas = [e.text for e in gen if isinstance(e, TextDelta)]
    assert len(gen.token_ids) == 12
    visible = [i for i in gen.token_ids if i not in text_model.markers.special]
    assert "".join(deltas) == gen.text == text_model.tokenizer.decode(visible)


def test_multibyte_text_streams_whole_characters(text_model: GemmaModel) -> None:
    text = "Grüße 🙂 日本 ok"
    turn_end = text_model.tokenizer.convert_tokens_to_ids("<turn|>")
    gen, events = run(text_model, [*tok(text_model, text), turn_end])
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert "".join(deltas) == text == gen.text
    assert all("\ufffd" not in d for d in deltas)
    assert len(deltas) > 3  # streamed, not delivered at the end
    assert gen.timings.stop_reason == f"stop token {turn_end}"
    assert turn_end not in gen.token_ids


def test_every_generation_config_eos_id_stops(text_model: GemmaModel) -> None:
    eos_ids = text_model.generation_spec.eos_token_ids
    names = text_model.tokenizer.convert_ids_to_tokens(list(eos_ids))
    assert set(names) == {"<eos>", "<turn|>", "<|tool_response>"}
    for eos in eos_ids:
        gen, _ = run(text_model, [*tok(text_model, "ok"), eos, *tok(text_model, "never")])
        assert gen.text == "ok" and gen.timings.stop_reason == f"stop token {eos}"


def test_token_limit(text_model: GemmaModel) -> None:
    gen, _ = run(text_model, tok(text_model, "a b c d e f g h i j"), max_new_tokens=5)
    assert len(gen.token_ids) == 5 == gen.timings.generated_tokens
    assert gen.timings.stop_reason == "token limit"


def test_tool_call_event_then_tool_result_step(text_model: GemmaModel) -> None:
    t = text_model.tokenizer.convert_tokens_to_ids
    call_ids = [*tok(text_model, "Sure."), t("<|tool_call>"), *tok(text_model, "call:set_light{on:true}"), t("<tool_call|>")]
    messages = [Message(role="user", text="light on")]
    gen, events = run(text_model, [*call_ids, t("<|tool_response>")], messages, [LIGHT_TOOL])
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert [(c.name, dict(c.arguments), c.error) for c in calls] == [("set_light", {"on": True}, "")]
    assert gen.text == "Sure." and gen.tool_calls == calls
    assert events.index(calls[0]) == len(events) - 1  # emitted as soon as it closed

    history = [
        *messages,
        Message(role="model", text="", tool_calls=tuple(calls)),
        Message(role="tool", text='{"state": "on"}', tool_name="set_light"),
    ]
    rendered = text_model.prompts.render(history, [LIGHT_TOOL])
    assert "<|tool>declaration:set_light{" in rendered
    assert "<|tool_call>call:set_light{on:true}<tool_call|>" in rendered
    assert rendered.endswith("<|tool_response>response:set_light{state:" + '<|"|>on<|"|>' + "}<tool_response|>")
    second, _ = run(text_model, [*tok(text_model, "Done."), t("<turn|>")], history, [LIGHT_TOOL])
    assert second.text == "Done."


def test_malformed_and_unclosed_calls_are_error_values(text_model: GemmaModel) -> None:
    t = text_model.tokenizer.convert_tokens_to_ids
    bad = [t("<|tool_call>"), *tok(text_model, "call:set_light{on"), t("<tool_call|>")]
    _, events = run(text_model, [*bad, t("<turn|>")])
    (call,) = [e for e in events if isinstance(e, ToolCall)]
    assert call.name == "set_light" and "malformed" in call.error
    unclosed = [t("<|tool_call>"), *tok(text_model, "call:set_light{on:true")]
    _, events = run(text_model, unclosed, max_new_tokens=len(unclosed))
    (call,) = [e for e in events if isinstance(e, ToolCall)]
    assert "not closed" in call.error


def test_thinking_channel_is_kept_out_of_the_text(text_model: GemmaModel) -> None:
    t = text_model.tokenizer.convert_tokens_to_ids
    thought = tok(text_model, "thought\nthe user wants light")
    ids = [t("<|channel>"), *thought, t("<channel|>"), *tok(text_model, "On it."), t("<turn|>")]
    opts = text_model.options(max_new_tokens=64, processors=(script(ids),), thinking=True)
    gen = text_model.stream([Message(role="user", text="light")], (), opts)
    events = list(gen)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "On it." == gen.text
    assert gen.thinking == "thought\nthe user wants light"
    assert "<|think|>" in text_model.prompts.render([Message(role="user", text="x")], (), thinking=True)


def test_seeded_sampling_is_reproducible(text_model: GemmaModel) -> None:
    def flat(_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        """Equal logits on 64 ordinary tokens, so the draw (not the tiny model's peakiness) decides."""
        logits[:] = -np.inf
        logits[400:464] = 0.0
        return logits

    def sample(seed: int) -> list[int]:
        opts = text_model.options(max_new_tokens=24, sampling=SamplingParams(sample=True, seed=seed), processors=(flat,))
        gen = text_model.stream([Message(role="user", text="hello")], (), opts)
        list(gen)
        return gen.token_ids

    first = sample(5)
    assert first == sample(5)
    assert first != sample(6)
    assert all(400 <= t < 464 for t in first) and len(set(first)) > 8


def test_restored_prefix_cache_gives_the_same_logits(text_model: GemmaModel) -> None:
    dec = text_model.decoder
    prompt = text_model.prepare([Message(role="user", text="Turn on the kitchen light now please")], (), False, Timings())
    full: list[np.ndarray] = []
    ids_full = list(decode_tokens(dec, prompt, Sampler(SamplingParams()), [], 6, Timings(), on_logits=full.append))
    split = len(prompt.ids) - 3
    _, prefix = dec.forward(prompt.embeds[:, :split], prompt.ple[:, :split], dec.empty_cache())
    saved = prefix.copy()
    resumed: list[np.ndarray] = []
    timings = Timings()
    greedy = Sampler(SamplingParams())
    ids_resumed = list(decode_tokens(dec, prompt, greedy, [], 6, timings, cache=saved, on_logits=resumed.append))
    assert ids_resumed == ids_full
    assert timings.prompt_tokens == 3
    np.testing.assert_allclose(np.stack(resumed), np.stack(full), atol=1e-5)
    assert saved.length == split  # the saved state was not modified by use


def test_audio_turn_fills_stage_timings(audio_model: GemmaModel) -> None:
    clip = (np.sin(np.arange(24000) * 0.07) * 6000).astype(np.int16)
    gen = audio_model.stream([Message(role="user", text="what was that?", audio=clip)], (), audio_model.options(max_new_tokens=6))
    list(gen)
    t = gen.timings
    assert t.audio_tokens == 38 and t.prompt_tokens > t.audio_tokens
    assert t.features_s > 0 and t.encoder_s > 0 and t.prefill_s > 0 and t.first_token_s >= t.prefill_s
    assert len(t.token_s) == t.generated_tokens - 1 == 5
    assert set(t.summary()) >= {"features_s", "encoder_s", "prefill_s", "first_token_s", "decode_s"}


def test_audio_placeholders_are_expanded(audio_model: GemmaModel) -> None:
    p = audio_model.prompts
    text = p.render([Message(role="user", text="hi", audio=np.zeros(16000, dtype=np.int16))])
    assert text.count("<|audio|>") == 1
    ids = p.encode(text, [25])
    start = ids.index(p.boa_id)
    assert ids[start + 1 : start + 26] == [p.audio_id] * 25 and ids[start + 26] == p.eoa_id
    with pytest.raises(AssistantError, match="1 audio placeholders for 2 audio clips"):
        p.encode(text, [25, 25])


def test_text_only_models_refuse_audio(tiny_text_dir, tiny_audio_dir) -> None:
    clip = np.zeros(16000, dtype=np.int16)
    for model in (GemmaModel.load(tiny_text_dir, CFG), GemmaModel.load(tiny_audio_dir, CFG, audio=False)):
        assert not model.has_audio
        with pytest.raises(AssistantError, match="takes text only"):
            list(model.generate([Message(role="user", text="x", audio=clip)]))


def test_system_prompt_from_config(text_model: GemmaModel) -> None:
    model = text_model
    old = model.config
    try:
        model.config = replace(old, system_prompt="You are terse.")
        msgs = model.with_system_prompt([Message(role="user", text="hi")])
        assert msgs[0] == Message(role="system", text="You are terse.")
        assert "<|turn>system\nYou are terse.<turn|>" in model.prompts.render(msgs)
        assert model.with_system_prompt([Message(role="system", text="Own.")])[0].text == "Own."
    finally:
        model.config = old


def test_decoder_without_num_logits_to_keep(tiny_text_dir, tmp_path, text_model: GemmaModel) -> None:
    """A decoder that always returns logits for every position gives the same tokens and logits."""
    import shutil

    import onnx
    from onnx import TensorProto, helper

    copy = tmp_path / "model"
    shutil.copytree(tiny_text_dir, copy, ignore=shutil.ignore_patterns("*_fp16*", "*_q4*", "*_quantized*", "hf"))
    path = copy / "onnx/decoder_model_merged.onnx"
    graph = onnx.load(str(path), load_external_data=False)
    (keep,) = [i for i in graph.graph.input if i.name == "num_logits_to_keep"]
    graph.graph.input.remove(keep)
    zero = helper.make_tensor("zero", TensorProto.INT64, [], [0])
    graph.graph.node.insert(0, helper.make_node("Constant", [], ["num_logits_to_keep"], value=zero))
    onnx.save(graph, str(path))
    plain = GemmaModel.load(copy, CFG)
    assert not plain.decoder.has_keep and text_model.decoder.has_keep

    def greedy(model: GemmaModel) -> tuple[list[int], np.ndarray]:
        rows: list[np.ndarray] = []
        prompt = model.prepare([Message(role="user", text="Turn on the light in the kitchen")], (), False, Timings())
        ids = list(decode_tokens(model.decoder, prompt, Sampler(SamplingParams()), [], 8, Timings(), on_logits=rows.append))
        return ids, np.stack(rows)

    ids_a, logits_a = greedy(plain)
    ids_b, logits_b = greedy(text_model)
    assert ids_a == ids_b
    np.testing.assert_allclose(logits_a, logits_b, atol=1e-5)


def test_padded_features_give_the_same_audio_rows(audio_model: GemmaModel) -> None:
    """What ``fit_frames`` does for a fixed-length encoder: padding with mask False changes no valid row."""
    from assistant.engine.audio.features import fit_frames, mask_token_count

    assert audio_model.audio is not None and audio_model.features is not None
    feats = audio_model.features((np.sin(np.arange(20000) * 0.03) * 7000).astype(np.int16))
    run_audio = audio_model.audio.run

    def rows(f) -> np.ndarray:
        (out,) = run_audio({"input_features": f.features, "input_features_mask": f.mask}, ["audio_features"])
        return out.reshape(-1, out.shape[-1])

    plain, padded = rows(feats), rows(fit_frames(feats, feats.features.shape[1] + 61))
    n = mask_token_count(feats.mask[0])
    assert plain.shape[0] >= n and padded.shape[0] >= n
    np.testing.assert_allclose(padded[:n], plain[:n], atol=1e-5)

