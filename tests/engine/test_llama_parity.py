"""The engine on the llama.cpp backend against transformers and the ONNX path, on real (tiny) weights.

The tiny ``llama`` configuration (its KV-shared layers laid out as llama.cpp's ``gemma4`` runs them) is
exported to an f32 GGUF by ``models/gguf_export.py``. Greedy tokens through the engine's decode loop on
``model.backend = "llama.cpp"`` equal transformers' ``generate`` and the ONNX Runtime engine's for 20
tokens on a prompt longer than the sliding window; through ``GemmaModel.stream`` (prefix cache, stop ids,
suppressed tokens) both backends give the same step. Audio: the same encoder rows at the placeholder
positions (sent to llama.cpp as embeddings, to ONNX as ``inputs_embeds`` with the pad token's per-layer
rows) give the same greedy tokens on both backends (the ONNX path's audio parity with transformers is
``test_parity.py``'s).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant.config.schema import ModelConfig
from assistant.engine.decoding.decode import Prefill, decode_tokens
from assistant.engine.decoding.sampling import Sampler, SamplingParams
from assistant.engine.decoding.timings import Timings
from assistant.engine.model import GemmaModel
from assistant.protocols import Message

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (scripts/setup --test)")
torch = pytest.importorskip("torch", reason="the transformers reference needs torch (test extra)")

pytestmark = pytest.mark.slow
STEPS = 20
FP32 = ModelConfig(decoder_precision="fp32", embed_precision="fp32", audio_precision="fp32", system_prompt="")
TEXT = "Please turn on the kitchen light, then dim the hallway to half and tell me the weather tomorrow."


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_gguf) -> tuple[GemmaModel, GemmaModel]:
    """(ONNX Runtime fp32, llama.cpp on the f32 GGUF) of the same tiny weights."""
    root: Path = tiny_model_dir("llama")
    llama = replace(FP32, backend="llama.cpp", gguf=str(tiny_gguf("llama", "f32")), threads=1, llama_repack=False)
    return GemmaModel.load(root, FP32), GemmaModel.load(root, llama)


def prompt(model: GemmaModel) -> Prefill:
    messages = [Message(role="system", text="Be brief."), Message(role="user", text=TEXT)]
    return model.prepare(messages, (), False, Timings())


def greedy(model: GemmaModel, pre: Prefill) -> tuple[list[int], list[np.ndarray]]:
    rows: list[np.ndarray] = []
    tokens = list(decode_tokens(model.decoder, pre, Sampler(SamplingParams()), [], STEPS, Timings(), on_logits=rows.append))
    return tokens, rows


def test_greedy_tokens_equal_transformers_and_the_onnx_engine(models, tiny_reference) -> None:
    onnx, llama = models
    pre = prompt(llama)
    assert pre.ids == prompt(onnx).ids and len(pre.ids) > 2 * llama.spec.text.sliding_window
    ours, our_logits = greedy(llama, pre)
    theirs_onnx, onnx_logits = greedy(onnx, prompt(onnx))
    tensor = torch.tensor([pre.ids])
    with torch.no_grad():
        out = tiny_reference("llama").generate(input_ids=tensor, attention_mask=torch.ones_like(tensor),
                                               max_new_tokens=STEPS, do_sample=False, eos_token_id=None)
    theirs = out[0, len(pre.ids) :].tolist()
    assert len(ours) == STEPS and len(set(ours)) > 1
    assert ours == theirs == theirs_onnx
    diff = max(float(np.abs(a - b).max()) for a, b in zip(our_logits, onnx_logits, strict=True))
    assert diff < 0.05, diff  # llama.cpp keeps K and V in f16 (measured: 0.016)


def test_the_engine_step_is_the_same_on_both_backends(models) -> None:
    onnx, llama = models
    messages = [Message(role="system", text="You are a voice assistant. Answer briefly."), Message(role="user", text=TEXT)]
    steps = []
    for model in (onnx, llama, llama):  # the second llama step restores the system turn from the prefix cache
        gen = model.stream(messages, (), model.options(max_new_tokens=STEPS))
        list(gen)
        steps.append((gen.token_ids, gen.timings.stop_reason))
    assert steps[0] == steps[1] == steps[2] and steps[0][0]


def test_audio_rows_give_the_same_tokens_on_both_backends(models) -> None:
    onnx, llama = models
    audio_id = llama.spec.audio_token_id
    head = prompt(llama).ids
    ids = [*head[:-4], *[audio_id] * 12, *head[-4:]]
    rows = np.random.default_rng(3).standard_normal((12, llama.spec.text.hidden_size)).astype(np.float32)
    slots = np.flatnonzero(np.asarray(ids) == audio_id)
    tokens = []
    for model in (onnx, llama):
        embeds, ple = model.decoder.embed(ids)
        embeds[0, slots] = rows.astype(embeds.dtype)
        tokens.append(greedy(model, Prefill(ids, embeds, ple))[0])
    assert tokens[0] == tokens[1] and len(tokens[0]) == STEPS
    plain = greedy(llama, Prefill(ids, *llama.decoder.embed(ids)))[0]
    assert plain != tokens[1]  # the rows did reach the decoder
