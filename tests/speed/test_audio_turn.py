"""Streaming audio: encoder rows are stable as the clip grows; a fed turn equals the batch turn."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.config.schema import ModelConfig
from assistant.engine.audio.features import audio_token_count, fit_frames
from assistant.engine.model import GemmaModel
from assistant.protocols import Message

pytestmark = pytest.mark.slow
CFG = ModelConfig(decoder_precision="fp32", embed_precision="fp32", audio_precision="fp32")
SYSTEM = Message(role="system", text="You are a voice assistant. Answer briefly.")


@pytest.fixture(scope="module")
def model(tiny_model_dir) -> GemmaModel:
    return GemmaModel.load(tiny_model_dir("audio"), CFG)


def speech(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    wave = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.05 * rng.standard_normal(t.size)
    return (wave * 32767).astype(np.int16)


def encode(model: GemmaModel, clip: np.ndarray) -> np.ndarray:
    assert model.audio is not None and model.features is not None
    feats = fit_frames(model.features(clip), model.audio.input("input_features").shape[1])
    (out,) = model.audio.run({"input_features": feats.features, "input_features_mask": feats.mask}, ["audio_features"])
    return out.reshape(-1, out.shape[-1])[: audio_token_count(len(clip))]


@pytest.mark.parametrize("seconds", [0.5, 1.0, 1.7, 2.5])
def test_encoder_rows_before_the_last_do_not_change_as_the_clip_grows(model, seconds: float) -> None:
    clip = speech(3.0)
    full = encode(model, clip)
    part = encode(model, clip[: int(16000 * seconds)])
    assert len(part) > 4
    np.testing.assert_allclose(part[:-1], full[: len(part) - 1], atol=1e-5, rtol=0)


def first_logits(store: list[np.ndarray]):
    def record(_ids, logits):
        if not store:
            store.append(logits.copy())
        return logits

    return record


@pytest.mark.parametrize("block_ms", [100, 480])
def test_a_fed_turn_equals_the_batch_turn(model, block_ms: int) -> None:
    clip = speech(3.3, seed=1)
    history = [SYSTEM, Message(role="user", text="hi"), Message(role="model", text="Hello.")]
    batch_logits: list[np.ndarray] = []
    batch = model.stream([*history, Message(role="user", audio=clip)], (),
                         model.options(max_new_tokens=10, processors=(first_logits(batch_logits),)))
    list(batch)
    fed_logits: list[np.ndarray] = []
    turn = model.begin_audio_turn(history, (), model.options(max_new_tokens=10, processors=(first_logits(fed_logits),)),
                                  every_s=0.5)
    block = 16 * block_ms
    for i in range(0, len(clip), block):
        turn.feed(clip[i : i + block])
    lag = (0.5 + block_ms / 1000) * 25 + 1  # rows at most one encoding interval plus one block behind
    assert turn.encodings >= 3 and turn.prefilled_rows >= audio_token_count(len(clip)) - 2 - lag
    gen = turn.finish()
    list(gen)
    assert gen.token_ids == batch.token_ids
    np.testing.assert_allclose(fed_logits[0], batch_logits[0], atol=1e-4, rtol=0)
    total = batch.timings.prompt_tokens + batch.timings.cached_tokens
    assert gen.timings.prompt_tokens + gen.timings.cached_tokens == total
    assert gen.timings.prompt_tokens < total - turn.prefilled_rows + 1  # only the rest was prefilled after speech


def test_changed_rows_fall_back_to_a_fresh_prefill(model) -> None:
    clip = speech(2.0, seed=2)
    turn = model.begin_audio_turn([SYSTEM], (), model.options(max_new_tokens=6), every_s=0.5)
    turn.feed(clip)
    assert turn.prefilled_rows > 0
    turn._rows = turn._rows + 1.0  # as if the encoder had changed its mind about the early rows
    gen = turn.finish()
    list(gen)
    batch = model.stream([SYSTEM, Message(role="user", audio=clip)], (), model.options(max_new_tokens=6))
    list(batch)
    assert gen.token_ids == batch.token_ids and gen.timings.cached_tokens < len(model.system_ids([SYSTEM], (), False))


def test_text_only_model_and_empty_turn(tiny_text_dir, model) -> None:
    from assistant.errors import AssistantError

    text_model = GemmaModel.load(tiny_text_dir, CFG)
    assert not text_model.begin_audio_turn([SYSTEM]).enabled
    with pytest.raises(AssistantError, match="no audio"):
        model.begin_audio_turn([SYSTEM]).finish()
