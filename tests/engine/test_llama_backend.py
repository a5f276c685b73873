"""``model.backend = "llama.cpp"``: the engine's decoder on llama.cpp's kernels, through the real llama-cpp-python.

The GGUF is the tiny audio model's text decoder written by ``models/gguf_e2b.py`` (random Q4_0 codes, not
the ONNX weights): these tests check the plumbing against llama.cpp itself (the same tokens and logits as
llama.cpp's own single-sequence API), that a KV cache stays a value (cut, restored, replayed), that the
audio span goes in as embedding rows, and that everything the engine does runs on it: prefix cache,
streamed audio prefill, jump-forward with closed-set scoring. Weight repacking is off here: this
llama.cpp build crashes while repacking the tiny model's 64-wide matrices (AMX host), see BENCHMARKS.md.
"""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.config.schema import ModelConfig
from assistant.engine.constrained import stream_constrained
from assistant.engine.decoding.decode import Prefill, decode_tokens
from assistant.engine.decoding.llamadecoder import LlamaDecoder
from assistant.engine.decoding.timings import Timings
from assistant.engine.grammar.constraint import ToolCallConstraint
from assistant.engine.grammar.grammar import compile_schema
from assistant.engine.grammar.jumpforward import Scoring
from assistant.engine.grammar.scoring import ScoringPolicy
from assistant.engine.grammar.tokengrammar import TokenGrammar
from assistant.engine.model import GemmaModel
from assistant.errors import AssistantError
from assistant.home import tools
from assistant.protocols import Message, ToolCall
from tests.home import fixtures

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (scripts/setup --test)")

pytestmark = pytest.mark.slow
SYSTEM = Message(role="system", text="You are a voice assistant in a smart home. Answer briefly.")


@pytest.fixture(scope="module")
def tiny_gguf(tiny_audio_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny audio model's text decoder as a GGUF (random weights; KV sharing as llama.cpp lays it out)."""
    from models.gguf_e2b import write

    src = tmp_path_factory.mktemp("gguf_src")
    config = json.loads((tiny_audio_dir / "config.json").read_text(encoding="utf-8"))
    config["text_config"]["num_kv_shared_layers"] = config["text_config"]["num_hidden_layers"] - 3
    (src / "config.json").write_text(json.dumps(config), encoding="utf-8")
    shutil.copy(tiny_audio_dir / "tokenizer.json", src / "tokenizer.json")
    out = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    write(src, out, say=lambda _msg: None)
    return out


def config(gguf: Path, **overrides: Any) -> ModelConfig:
    return replace(ModelConfig(backend="llama.cpp", gguf=str(gguf), threads=1, context=4096, llama_repack=False),
                   **overrides)


@pytest.fixture(scope="module")
def model(tiny_audio_dir: Path, tiny_gguf: Path) -> GemmaModel:
    return GemmaModel.load(tiny_audio_dir, config(tiny_gguf))


def raw_greedy(gguf: Path, ids: list[int], steps: int) -> tuple[list[int], np.ndarray]:
    """llama.cpp's own single-sequence path (``llama_batch_get_one``): greedy tokens and the first logits."""
    lib = llama_cpp
    params = lib.llama_model_default_params()
    params.use_extra_bufts = False
    mdl = lib.llama_model_load_from_file(str(gguf).encode(), params)
    cparams = lib.llama_context_default_params()
    cparams.n_ctx, cparams.n_batch, cparams.n_threads, cparams.n_threads_batch = 1024, 1024, 1, 1
    ctx = lib.llama_init_from_model(mdl, cparams)
    vocab = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(mdl))
    try:
        tokens, first = [], None
        feed = list(ids)
        for _ in range(steps):
            arr = (lib.llama_token * len(feed))(*feed)
            assert lib.llama_decode(ctx, lib.llama_batch_get_one(arr, len(feed))) == 0
            row = np.ctypeslib.as_array(lib.llama_get_logits_ith(ctx, -1), shape=(vocab,)).copy()
            first = row if first is None else first
            tokens.append(int(np.argmax(row)))
            feed = [tokens[-1]]
        assert first is not None
        return tokens, first
    finally:
        lib.llama_free(ctx)
        lib.llama_model_free(mdl)


def prompt_ids(model: GemmaModel, text: str = "turn on the kitchen light", clips: int = 0) -> list[int]:
    audio = np.zeros(1600, dtype=np.float32) if clips else None  # rendered as the audio placeholder
    user = Message(role="user", text=text, audio=audio)
    return model.prompts.encode(model.prompts.render([SYSTEM, user], (), False), [7] * clips)


def greedy(_ids: Any, row: np.ndarray) -> int:
    return int(np.argmax(row))


def test_greedy_tokens_and_logits_are_llama_cpps_own(model: GemmaModel, tiny_gguf: Path) -> None:
    ids = prompt_ids(model)
    expected, first = raw_greedy(tiny_gguf, ids, 24)
    dec = model.decoder
    embeds, ple = dec.embed(ids)
    logits, _ = dec.forward(embeds, ple, dec.empty_cache())
    np.testing.assert_allclose(logits[-1], first, rtol=1e-5, atol=1e-5)
    got = list(decode_tokens(dec, Prefill(ids, embeds, ple), greedy, (), 24, Timings()))
    assert got == expected
    assert len(set(got)) > 1  # not a degenerate repetition that any bug would also give


def test_a_cache_is_a_value_cut_restored_or_replayed(model: GemmaModel) -> None:
    dec = model.decoder
    ids = prompt_ids(model)
    _, cache = dec.forward(*dec.embed(ids), dec.empty_cache())
    after_a, _ = dec.forward(*dec.embed([5, 6]), cache, all_logits=True)
    dec.forward(*dec.embed([9]), cache)  # another continuation of the same prefix
    again, _ = dec.forward(*dec.embed([5, 6]), cache, all_logits=True)  # cut back to the prefix
    np.testing.assert_allclose(again, after_a, rtol=1e-5, atol=1e-5)
    kept = dec.keep(cache)
    other = prompt_ids(model, "what time is it in the garden")
    dec.forward(*dec.embed(other), dec.empty_cache())  # the sequence moves on to another prompt
    restored, _ = dec.forward(*dec.embed([5, 6]), kept, all_logits=True)  # from the saved state
    np.testing.assert_allclose(restored, after_a, rtol=1e-5, atol=1e-5)
    dec.forward(*dec.embed(other), dec.empty_cache())
    replayed, _ = dec.forward(*dec.embed([5, 6]), cache, all_logits=True)  # no saved state: replayed
    np.testing.assert_allclose(replayed, after_a, rtol=1e-5, atol=1e-5)
    assert not np.allclose(dec.forward(*dec.embed([7, 6]), cache, all_logits=True)[0][-1], after_a[-1])


def test_audio_rows_enter_as_embeddings_in_any_split(model: GemmaModel) -> None:
    dec = model.decoder
    ids = prompt_ids(model, "what is this sound", clips=1)
    slots = np.flatnonzero(np.asarray(ids) == model.prompts.audio_id)
    assert len(slots) == 7
    rows = np.random.default_rng(0).standard_normal((7, model.spec.text.hidden_size)).astype(np.float32)
    embeds, ple = dec.embed(ids)
    embeds[0, slots] = rows
    whole, _ = dec.forward(embeds, ple, dec.empty_cache())
    cache = dec.empty_cache()
    cuts = [0, int(slots[0]), int(slots[3]), int(slots[-1]) + 1, len(ids)]  # text, rows, rows, text
    for a, b in itertools.pairwise(cuts):
        part, cache = dec.forward(embeds[:, a:b], ple[:, a:b], cache)
    np.testing.assert_allclose(part[-1], whole[-1], rtol=1e-4, atol=1e-4)
    embeds[0, slots] = rows[::-1]
    changed, _ = dec.forward(embeds, ple, dec.empty_cache())
    assert np.isfinite(changed).all() and not np.allclose(changed[-1], whole[-1])


def test_batched_rows_match_each_row_alone_and_the_pick_continues(model: GemmaModel) -> None:
    dec = model.decoder
    _, cache = dec.forward(*dec.embed(prompt_ids(model)), dec.empty_cache())
    rows = [[11, 12, 13], [21], [31, 32]]
    logits, pick = dec.forward_rows(rows, cache)
    assert logits.shape == (3, 3, model.spec.text.vocab_size)
    for i, row in enumerate(rows):
        alone, _ = dec.forward(*dec.embed(row), cache, all_logits=True)
        np.testing.assert_allclose(logits[i, : len(row)], alone, rtol=1e-5, atol=1e-5)
    for i in (0, 1):  # row 0 is no longer in the sequence: it is replayed
        chosen = pick(i, cache.length + len(rows[i]))
        ahead, _ = dec.forward(*dec.embed([40]), chosen)
        expected, _ = dec.forward(*dec.embed([*rows[i], 40]), cache)
        np.testing.assert_allclose(ahead[-1], expected[-1], rtol=1e-5, atol=1e-5)


def test_the_engine_step_with_prefix_cache_streamed_audio_and_thinking(tiny_audio_dir: Path, tiny_gguf: Path,
                                                                       model: GemmaModel) -> None:
    plain = GemmaModel.load(tiny_audio_dir, config(tiny_gguf, prefix_cache=False))
    messages = [SYSTEM, Message(role="user", text="turn on the kitchen light")]
    reference = plain.stream(messages, (), plain.options(max_new_tokens=20))
    list(reference)
    for _ in range(2):  # a miss that builds the prefix, then a hit
        gen = model.stream(messages, (), model.options(max_new_tokens=20))
        list(gen)
        assert gen.token_ids == reference.token_ids and gen.timings.cached_tokens > 0
    thinking = model.stream(messages, (), model.options(max_new_tokens=8, thinking=True))
    list(thinking)
    assert thinking.timings.generated_tokens + (thinking.timings.stop_reason != "token limit") >= 1

    audio = (np.random.default_rng(1).standard_normal(16000 * 2) * 0.1).astype(np.float32)
    batch = plain.stream([SYSTEM, Message(role="user", audio=audio)], (), plain.options(max_new_tokens=20))
    list(batch)
    assert batch.timings.audio_tokens > 0
    turn = model.begin_audio_turn([SYSTEM], (), model.options(max_new_tokens=20), every_s=0.5)
    for start in range(0, audio.size, 4000):
        turn.feed(audio[start : start + 4000])
    streamed = turn.finish()
    list(streamed)
    assert turn.prefilled_rows > 0
    assert streamed.token_ids == batch.token_ids


def test_jump_forward_with_closed_set_scoring_gives_a_valid_call(model: GemmaModel) -> None:
    registry = fixtures.loaded_registry()
    schema = tools.tool_schema(registry.devices())
    grammar = TokenGrammar(compile_schema(schema), model.tokenizer)
    constraint = ToolCallConstraint.for_tokens(grammar, model.generation_spec.eos_token_ids, force=True)
    gen = stream_constrained(model, [SYSTEM, Message(role="user", text="turn on the kitchen light")],
                             tools.declarations(schema, registry.devices()), constraint,
                             model.options(max_new_tokens=80), scoring=Scoring(ScoringPolicy(force=True, max_options=200)))
    calls = [e for e in gen if isinstance(e, ToolCall)]
    assert len(calls) == 1 and calls[0].error == "" and (calls[0].name in tools.TOOLS or calls[0].name == tools.CONFIRM)
    assert gen.counts.scored > 0 and gen.counts.forced > 0 and gen.counts.passes < len(gen.token_ids)


def test_a_missing_or_mismatched_gguf_is_one_line(tiny_audio_dir: Path, tiny_gguf: Path, model: GemmaModel,
                                                  tmp_path: Path) -> None:
    with pytest.raises(AssistantError, match="no GGUF here"):
        GemmaModel.load(tiny_audio_dir, config(tmp_path / "none.gguf"))
    wider = replace(model.spec, text=replace(model.spec.text, hidden_size=model.spec.text.hidden_size * 2))
    with pytest.raises(AssistantError, match="do not match the model directory"):
        LlamaDecoder(tiny_gguf, wider, threads=1, repack=False)
