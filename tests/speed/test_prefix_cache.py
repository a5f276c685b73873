"""The prefix cache: a turn restored from the system turn's KV state equals a freshly prefilled one."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.config.schema import ModelConfig
from assistant.engine.decoding.timings import Timings
from assistant.engine.model import GemmaModel
from assistant.protocols import Message
from tests.engine.test_engine import LIGHT_TOOL

pytestmark = pytest.mark.slow
CFG = ModelConfig(decoder_precision="fp32", embed_precision="fp32", audio_precision="fp32")
OTHER_TOOL = {**LIGHT_TOOL, "function": {**LIGHT_TOOL["function"], "name": "set_fan", "description": "Switch a fan"}}
SYSTEM = Message(role="system", text="You are a voice assistant in a smart home. Answer briefly. Use the tools.")


@pytest.fixture(scope="module", params=["text", "window"])
def models(request, tiny_model_dir) -> tuple[GemmaModel, GemmaModel]:
    """The same tiny model with and without the prefix cache (``window``: sliding window 16, shorter than the prefix)."""
    root = tiny_model_dir(request.param)
    cached = GemmaModel.load(root, CFG, audio=False)
    plain = GemmaModel.load(root, ModelConfig(**{**CFG.__dict__, "prefix_cache": False}), audio=False)
    return cached, plain


def turn(text: str) -> list[Message]:
    return [SYSTEM, Message(role="user", text=text)]


def test_restored_turns_give_the_same_tokens_as_fresh_ones(models) -> None:
    cached, plain = models
    assert cached.prefix_cache is not None and plain.prefix_cache is None
    for text, tools in [("turn on the light", [LIGHT_TOOL]), ("and off again", [LIGHT_TOOL]), ("fan on", [OTHER_TOOL])]:
        fresh = plain.stream(turn(text), tools, plain.options(max_new_tokens=12))
        restored = cached.stream(turn(text), tools, cached.options(max_new_tokens=12))
        list(fresh), list(restored)
        assert restored.token_ids == fresh.token_ids and restored.text == fresh.text
        assert restored.timings.cached_tokens > 10 and fresh.timings.cached_tokens == 0
        assert restored.timings.prompt_tokens + restored.timings.cached_tokens == fresh.timings.prompt_tokens
        assert (restored.timings.prefix_s > 0) == (text != "and off again")  # a miss prefills the system turn first
    assert cached.prefix_cache.builds == 2 and cached.prefix_cache.hits == 1  # the tools changed once


def test_restored_logits_match_fresh_logits(models) -> None:
    cached, _ = models
    assert cached.prefix_cache is not None
    cached.prefix_cache.clear()
    builds = cached.prefix_cache.builds
    decoder = cached.decoder
    for text in ("what time is it", "dim the kitchen light please"):
        prompt = cached.prepare(turn(text), [LIGHT_TOOL], False, Timings())
        cache = cached.prefix_cache.restore(prompt, cached.system_ids(turn(text), [LIGHT_TOOL], False))
        assert cache is not None and 10 < cache.length < len(prompt.ids)
        assert prompt.ids[: cache.length] == cached.system_ids(turn(text), [LIGHT_TOOL], False)[: cache.length]
        fresh, full = decoder.forward(prompt.embeds, prompt.ple, decoder.empty_cache(), all_logits=True)
        skip = cache.length
        restored, grown = decoder.forward(prompt.embeds[:, skip:], prompt.ple[:, skip:], cache, all_logits=True)
        np.testing.assert_allclose(restored, fresh[skip:], atol=1e-4, rtol=0)
        assert grown.length == full.length
        for name, arr in grown.arrays.items():
            np.testing.assert_allclose(arr, full.arrays[name], atol=1e-4, rtol=0)
    assert cached.prefix_cache.builds == builds + 1 and len(cached.prefix_cache) == 1


def test_no_system_turn_and_no_tools_means_no_entry(models) -> None:
    cached, _ = models
    assert cached.prefix_cache is not None
    cached.prefix_cache.clear()
    gen = cached.stream([Message(role="user", text="hello")], (), cached.options(max_new_tokens=3))
    list(gen)
    assert len(cached.prefix_cache) == 0 and gen.timings.cached_tokens == 0


def test_a_hit_embeds_only_the_positions_after_the_restored_prefix(models) -> None:
    cached, _ = models
    assert cached.prefix_cache is not None
    cached.prefix_cache.clear()
    messages = turn("lights off")
    full = cached.prepare(messages, [LIGHT_TOOL], False, Timings())
    _, miss = cached.prepare_cached(messages, [LIGHT_TOOL], False, Timings())  # builds the entry
    prompt, hit = cached.prepare_cached(messages, [LIGHT_TOOL], False, Timings())
    assert miss is not None and hit is miss and prompt.ids == full.ids
    skip = hit.length
    np.testing.assert_array_equal(prompt.embeds[:, skip:], full.embeds[:, skip:])
    np.testing.assert_array_equal(prompt.ple[:, skip:], full.ple[:, skip:])
    assert not prompt.embeds[:, :skip].any() and not prompt.ple[:, :skip].any()  # never looked up


def test_warm_prefills_the_system_turn_before_the_first_user_turn(models) -> None:
    cached, plain = models
    assert cached.prefix_cache is not None
    cached.prefix_cache.clear()
    tools = [LIGHT_TOOL]
    n = cached.warm([SYSTEM], tools)
    assert n > 10 and cached.prefix_cache.builds > 0
    assert cached.warm([SYSTEM], tools) == 0  # cached already
    for text in ("switch the light on", "what is the time"):
        first = cached.stream(turn(text), tools, cached.options(max_new_tokens=8))
        fresh = plain.stream(turn(text), tools, plain.options(max_new_tokens=8))
        list(first), list(fresh)
        assert first.timings.prefix_s == 0 and first.timings.cached_tokens == n  # restored, not built
        assert first.token_ids == fresh.token_ids
    assert plain.warm([SYSTEM], tools) == 0  # no prefix cache: nothing to do


def test_warm_covers_a_spoken_first_turn(tiny_model_dir) -> None:
    model = GemmaModel.load(tiny_model_dir("audio"), CFG)
    assert model.has_audio and model.prefix_cache is not None
    n = model.warm([SYSTEM], [LIGHT_TOOL])
    clip = (0.1 * np.sin(np.arange(16000) / 8)).astype(np.float32)
    gen = model.stream([SYSTEM, Message(role="user", audio=clip)], [LIGHT_TOOL], model.options(max_new_tokens=4))
    list(gen)
    assert n > 10 and gen.timings.cached_tokens == n and gen.timings.prefix_s == 0
