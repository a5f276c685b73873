"""llama.cpp (the real library, low-level API) on the tiny ``llama`` model's GGUF against transformers.

The GGUF holds the torch model's own weights (``models/gguf_export.py``). fp32: greedy tokens identical to
``generate`` for 20 tokens, and logits close over a prompt longer than twice the sliding window, through a
one-token-at-a-time decode and through one prefill batch of varied tokens. The f32 gap is not zero because
llama.cpp's CPU GELU (the MLP's GeGLU and the per-layer-input gate) looks its input up in a float16 table
(``GGML_GELU_FP16``); with that table emulated in torch most positions agree to ~1e-5, which shows the rest of
the graph is the same. q4_0 / f16: teacher-forced top-1 agreement with fp32 torch. Embedding input: a span fed
as ``llama_batch.embd`` (how audio rows enter) gives transformers' logits for the same ``inputs_embeds`` with
the pad token's per-layer inputs.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from models.tokenizer_files import build_tokenizer

llama_cpp = pytest.importorskip("llama_cpp")

pytestmark = pytest.mark.slow

STEPS = 20
LONG_TEXT = "Please turn on the kitchen light, then dim the hallway to half and tell me the weather tomorrow."
BOS, PAD = 2, 0
# fp32 logits (|logit| up to ~4): llama.cpp's float16 GELU table moves them by a few 1e-3 (measured
# 6.1e-3 at most); a wrong norm, scale, RoPE or mask moves them by 1e-1 or more.
F32_TOL = 2e-2
# Teacher-forced top-1 agreement with fp32 torch over 60 steps. Measured: f16 60/60, q4_0 57/60 (llama.cpp
# quantizes the activations to Q8_0 blocks for its Q4_0 dot products, and keeps block scales in float16).
MIN_AGREEMENT = {"f16": 0.95, "q4_0": 0.9}


@llama_cpp.llama_log_callback
def _QUIET(level: int, text: bytes, user_data: Any) -> None:  # a C callback, kept alive at module level
    del level, text, user_data


class LlamaRunner:
    """One llama.cpp context, one sequence: feed token ids or embedding rows, get every position's logits."""

    def __init__(self, path: Path, n_ctx: int = 256, flash_attn: int = 0):
        llama_cpp.llama_log_set(_QUIET, None)
        llama_cpp.llama_backend_init()
        model_params = llama_cpp.llama_model_default_params()
        # The CPU's extra buffer types (AMX, repacked Q4_0) off: a build of llama.cpp 0.3.36 with AMX segfaulted
        # in ggml_backend_amx_mul_mat on these Q4_0 matrices (docs/BENCHMARKS.md); plain kernels compute the same.
        model_params.use_extra_bufts = False
        self.model = llama_cpp.llama_model_load_from_file(str(path).encode(), model_params)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = params.n_batch = params.n_ubatch = n_ctx
        params.n_threads = params.n_threads_batch = 1
        params.type_k = params.type_v = 0  # GGML_TYPE_F32: no float16 rounding in the KV cache
        params.flash_attn_type = flash_attn  # default -1 (auto) turns it on here, and it rounds to float16
        self.ctx = llama_cpp.llama_init_from_model(self.model, params)
        assert self.model and self.ctx
        self.n_embd = llama_cpp.llama_model_n_embd(self.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(self.model))
        self.pos = 0

    def feed(self, tokens: list[int] | None = None, embeds: np.ndarray | None = None) -> np.ndarray:
        """Decode one batch (``tokens`` or ``embeds`` rows) at the next positions; return its logits."""
        n = len(tokens) if tokens is not None else len(embeds)  # type: ignore[arg-type]
        batch = llama_cpp.llama_batch_init(n, 0 if tokens is not None else self.n_embd, 1)
        try:
            for i in range(n):
                if tokens is not None:
                    batch.token[i] = tokens[i]
                batch.pos[i] = self.pos + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = True
            if embeds is not None:
                flat = np.ascontiguousarray(embeds, dtype=np.float32).ravel()
                assert flat.size == n * self.n_embd
                ctypes.memmove(batch.embd, flat.ctypes.data, flat.nbytes)
            batch.n_tokens = n
            assert llama_cpp.llama_decode(self.ctx, batch) == 0
            self.pos += n
            return np.stack([np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.ctx, i), shape=(self.n_vocab,)).copy()
                             for i in range(n)])
        finally:
            llama_cpp.llama_batch_free(batch)

    def close(self) -> None:
        llama_cpp.llama_free(self.ctx)
        llama_cpp.llama_model_free(self.model)


@pytest.fixture
def runner(tiny_gguf) -> Iterator[Callable[[str], LlamaRunner]]:
    opened: list[LlamaRunner] = []

    def open_(kind: str) -> LlamaRunner:
        opened.append(LlamaRunner(tiny_gguf("llama", kind)))
        return opened[-1]

    yield open_
    for r in opened:
        r.close()


@pytest.fixture(scope="module")
def ref(tiny_reference) -> Any:
    return tiny_reference("llama")


@pytest.fixture(scope="module")
def prompt() -> list[int]:
    ids = [BOS, *build_tokenizer().encode(LONG_TEXT, add_special_tokens=False).ids]
    assert len(ids) > 2 * 8  # longer than twice the sliding window
    return ids


def _torch_logits(ref: Any, ids: list[int]) -> np.ndarray:
    with torch.no_grad():
        return ref(input_ids=torch.tensor([ids])).logits[0].float().numpy()


def _continuation(seed: int) -> list[int]:
    return np.random.default_rng(seed).integers(5, 1000, STEPS).tolist()


def test_f32_greedy_tokens_and_logits_match_transformers(runner, ref, prompt) -> None:
    llm = runner("f32")
    logits = [llm.feed(prompt)[-1]]
    ours: list[int] = []
    for _ in range(STEPS):
        ours.append(int(np.argmax(logits[-1])))
        logits.append(llm.feed([ours[-1]])[-1])
    with torch.no_grad():
        out = ref.generate(input_ids=torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                           max_new_tokens=STEPS, do_sample=False, eos_token_id=None, output_logits=True,
                           return_dict_in_generate=True)
    theirs = out.sequences[0, len(prompt):].tolist()
    diff = max(float(np.abs(a - b[0].float().numpy()).max()) for a, b in zip(logits, out.logits, strict=False))
    print(f"\nf32 greedy: {len(set(ours))} distinct of {STEPS} tokens, max |logit diff| {diff:.2e}")
    assert ours == theirs
    assert diff < F32_TOL


def test_f32_prefill_of_varied_tokens_matches_transformers(runner, ref, prompt) -> None:
    ids = prompt + _continuation(1)
    got = runner("f32").feed(ids)
    want = _torch_logits(ref, ids)
    diff = np.abs(got - want).max(-1)
    print(f"\nf32 prefill of {len(ids)} tokens: max |logit diff| {diff.max():.2e}, median {np.median(diff):.2e}")
    assert (got.argmax(-1) == want.argmax(-1)).all()
    assert diff.max() < F32_TOL


class _Float16TableGelu(torch.nn.Module):
    """ggml's CPU GELU: tanh GELU of the input rounded to float16, stored as float16 (|x| >= 10 passes through)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.nn.functional.gelu(x.half().float(), approximate="tanh").half().float()
        return torch.where(x <= -10, torch.zeros_like(x), torch.where(x >= 10, x, y))


def test_f32_gap_is_the_float16_gelu_table(runner, prompt) -> None:
    from models.tiny_gemma4 import reference_model

    emulated = reference_model("llama", 0)
    for layer in emulated.model.language_model.layers:
        layer.mlp.act_fn = _Float16TableGelu()
        layer.act_fn = _Float16TableGelu()
    ids = prompt + _continuation(1)
    diff = np.abs(runner("f32").feed(ids) - _torch_logits(emulated, ids)).max(-1)
    close = float((diff < 1e-4).mean())
    print(f"\nf32 vs torch with ggml's GELU table: median {np.median(diff):.2e}, max {diff.max():.2e}, "
          f"{close:.0%} of {len(ids)} positions within 1e-4")
    # A table boundary crossed differently (inputs equal to ~1e-6, rounded to different float16s) still
    # moves a few positions by up to a few 1e-3; everything else agrees to float32 rounding.
    assert np.median(diff) < 1e-4
    assert close >= 0.6


@pytest.mark.parametrize("kind", sorted(MIN_AGREEMENT))
def test_reduced_precision_top1_agreement(runner, ref, prompt, kind: str) -> None:
    agree = total = 0
    for seed in (2, 3, 4):
        continuation = _continuation(seed)
        want = _torch_logits(ref, prompt + continuation)[len(prompt) - 1: -1]
        llm = runner(kind)
        rows = [llm.feed(prompt)[-1]] + [llm.feed([t])[-1] for t in continuation[:-1]]
        agree += int((np.stack(rows).argmax(-1) == want.argmax(-1)).sum())
        total += len(continuation)
    rate = agree / total
    print(f"\n{kind}: teacher-forced top-1 agreement with fp32 torch {agree}/{total} = {rate:.3f}")
    assert rate >= MIN_AGREEMENT[kind]


def test_embedding_span_matches_transformers_inputs_embeds(runner, ref, prompt) -> None:
    before, after = prompt[:10], prompt[10:]
    text = ref.model.language_model
    span = np.random.default_rng(5).standard_normal((12, text.config.hidden_size)).astype(np.float32) * 0.8
    llm = runner("f32")
    got = np.concatenate([llm.feed(before), llm.feed(embeds=span), llm.feed(after)])

    ids = torch.tensor([before + [PAD] * len(span) + after])  # the span's per-layer inputs: the pad token's
    with torch.no_grad():
        embeds = text.embed_tokens(ids)
        embeds[0, len(before): len(before) + len(span)] = torch.from_numpy(span)  # as given: no sqrt(hidden) scale
        hidden = text(inputs_embeds=embeds, per_layer_inputs=text.get_per_layer_inputs(ids, None)).last_hidden_state
        logits = ref.lm_head(hidden)
        cap = ref.config.get_text_config().final_logit_softcapping
        want = (torch.tanh(logits / cap) * cap)[0].numpy()
    diff = np.abs(got - want).max(-1)
    print(f"\nembedding span: max |logit diff| {diff.max():.2e} over {len(diff)} positions")
    assert (got.argmax(-1) == want.argmax(-1)).all()
    assert diff.max() < F32_TOL


def test_q4_0_from_the_onnx_initialisers_is_the_same_model(tiny_model_dir, tiny_gguf, tmp_path) -> None:
    import gguf

    from models.gguf_export import tiny_gguf as write

    from_onnx = gguf.GGUFReader(write(tmp_path / "onnx.gguf", "llama", "q4_0", onnx_dir=tiny_model_dir("llama")))
    from_torch = {t.name: t for t in gguf.GGUFReader(tiny_gguf("llama", "q4_0")).tensors}
    q4 = 0
    for t in from_onnx.tensors:
        other = from_torch.pop(t.name)
        assert t.tensor_type == other.tensor_type, t.name
        if t.tensor_type == gguf.GGMLQuantizationType.Q4_0:  # MatMulNBits / GatherBlockQuantized codes, reordered
            assert np.asarray(t.data).tobytes() == np.asarray(other.data).tobytes(), t.name
            q4 += 1
        else:  # norms from torch; unaligned 4-bit rows (K = 8, 48) dequantized: the grid values again
            assert np.array_equal(np.asarray(t.data), np.asarray(other.data)), t.name
    assert not from_torch
    assert q4 == 44  # 43 decoder linears and the token embedding
