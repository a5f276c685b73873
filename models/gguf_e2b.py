"""Write a GGUF of a Gemma 4 model directory's text decoder for llama.cpp (the benchmark peer).

    python models/gguf_e2b.py MODEL_DIR OUT.gguf [--seed N]

``MODEL_DIR`` is a model directory with ``config.json`` and ``tokenizer.json`` (the shape-faithful E2B of
``models/shape_faithful_e2b.py``, or a tiny one). The file is written directly with the ``gguf`` package at
llama.cpp's ``gemma4`` architecture: its hyperparameter keys, tensor names and shapes (those of llama.cpp's
own converter for ``Gemma4ForConditionalGeneration``), with the types llama.cpp's ``Q4_0`` recipe gives:
every linear layer ``Q4_0``, the token embedding (tied head) and the per-layer embedding table ``Q6_K``,
norms and the proportional-RoPE frequency factors ``F32``. Rows too narrow for a block type fall back to
``Q4_0`` or ``F32`` (tiny models).

The weights are **fresh random codes of the right shapes and types**, not the ONNX initialisers: the
shape-faithful model is random too, and decode and prefill speed depend on shapes and types only. Each
block gets random quant codes and a scale that keeps activations near unit size. Tensors are streamed to
disk one at a time (the largest, the 262144 x 8960 per-layer table, in row chunks), so memory stays small.
KV-shared layers get no K/V projections (llama.cpp never reads them there).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gguf
import numpy as np

Q = gguf.GGMLQuantizationType
ARCH = "gemma4"
CHUNK_ROWS = 8192


def _half(x: float) -> np.ndarray:
    return np.array([x], dtype=np.float16).view(np.uint8)


def _blocks(rng: np.random.Generator, rows: int, cols: int, qtype: Q) -> np.ndarray:
    """``rows`` x ``cols`` random weights of type ``qtype`` as raw bytes (std about 1/sqrt(cols))."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(rows, cols // block, size), dtype=np.uint8)
    std = 1.0 / np.sqrt(cols)
    if qtype == Q.Q4_0:  # fp16 d, then 16 bytes of nibbles: value d * (q - 8), std(q - 8) ~ 4.6
        raw[..., 0:2] = _half(std / 4.6)
    elif qtype == Q.Q6_K:  # 128 ql, 64 qh, 16 int8 scales, fp16 d: value d * scale * (q - 32), std ~ 18.5
        raw[..., 192:208] = 16
        raw[..., 208:210] = _half(std / (16 * 18.5))
    else:
        raise ValueError(qtype)
    return raw.reshape(rows, -1)


def _type_for(cols: int, wanted: Q) -> Q:
    block = gguf.GGML_QUANT_SIZES[wanted][0]
    if cols % block == 0:
        return wanted
    return Q.Q4_0 if cols % 32 == 0 else Q.F32


class Tensor:
    """One tensor to write: llama.cpp shape ``(ne0, ne1)`` = numpy ``(rows, cols)`` reversed, and a filler."""

    def __init__(self, name: str, ne: tuple[int, ...], qtype: Q, fill: Callable[[int, int], np.ndarray] | None = None):
        self.name, self.ne, self.qtype, self.fill = name, ne, qtype, fill

    @property
    def shape(self) -> tuple[int, ...]:  # numpy order
        return tuple(reversed(self.ne))

    @property
    def nbytes(self) -> int:
        block, size = gguf.GGML_QUANT_SIZES[self.qtype]
        return int(np.prod(self.ne)) // block * size

    def chunks(self, rng: np.random.Generator) -> Iterator[np.ndarray]:
        rows = int(np.prod(self.shape[:-1])) if len(self.shape) > 1 else 1
        cols = self.shape[-1]
        for start in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - start)
            if self.fill is not None:
                yield self.fill(start, n)
            elif self.qtype == Q.F32:
                yield (rng.standard_normal((n, cols), dtype=np.float32) / np.sqrt(cols)).astype(np.float32)
            else:
                yield _blocks(rng, n, cols, self.qtype)


def _const(value: float | list[float], cols: int) -> Callable[[int, int], np.ndarray]:
    row = np.broadcast_to(np.asarray(value, dtype=np.float32), (cols,))
    return lambda _start, n: np.tile(row, (n, 1))


def tensors(text: dict[str, Any]) -> list[Tensor]:
    """Every tensor llama.cpp's ``gemma4`` loader creates for this config, in file order."""
    n_embd, n_layer, vocab = text["hidden_size"], text["num_hidden_layers"], text["vocab_size"]
    n_head, n_kv = text["num_attention_heads"], text["num_key_value_heads"]
    hd_swa, hd_full = text["head_dim"], text.get("global_head_dim") or text["head_dim"]
    n_ple = text.get("hidden_size_per_layer_input") or 0
    swa = [t == "sliding_attention" for t in text["layer_types"]]
    first_shared = n_layer - text.get("num_kv_shared_layers", 0)
    ff = text["intermediate_size"]
    wide = text.get("use_double_wide_mlp", False)
    full_rope = text["rope_parameters"]["full_attention"]
    n_rot = int(hd_full * full_rope.get("partial_rotary_factor", 1.0) / 2)

    def lin(name: str, k: int, n: int) -> Tensor:
        return Tensor(name, (k, n), _type_for(k, Q.Q4_0))

    def norm(name: str, n: int, value: float = 1.0) -> Tensor:
        return Tensor(name, (n,), Q.F32, _const(value, n))

    out = [Tensor("token_embd.weight", (n_embd, vocab), _type_for(n_embd, Q.Q6_K))]
    if n_ple:
        out += [Tensor("per_layer_token_embd.weight", (n_ple * n_layer, vocab), _type_for(n_ple * n_layer, Q.Q6_K)),
                lin("per_layer_model_proj.weight", n_embd, n_ple * n_layer),
                norm("per_layer_proj_norm.weight", n_ple)]
    out.append(norm("output_norm.weight", n_embd))
    if not all(swa):
        factors = [1.0] * n_rot + [1e30] * (hd_full // 2 - n_rot)
        out.append(Tensor("rope_freqs.weight", (hd_full // 2,), Q.F32, _const(factors, hd_full // 2)))
    for i in range(n_layer):
        hd = hd_swa if swa[i] else hd_full
        b = f"blk.{i}."
        out += [norm(b + "attn_norm.weight", n_embd), lin(b + "attn_q.weight", n_embd, n_head * hd)]
        if i < first_shared:
            out += [lin(b + "attn_k.weight", n_embd, n_kv * hd), lin(b + "attn_v.weight", n_embd, n_kv * hd),
                    norm(b + "attn_k_norm.weight", hd)]
        n_ff = ff * 2 if wide and i >= first_shared else ff
        out += [lin(b + "attn_output.weight", n_head * hd, n_embd), norm(b + "attn_q_norm.weight", hd),
                norm(b + "post_attention_norm.weight", n_embd), norm(b + "layer_output_scale.weight", 1),
                norm(b + "ffn_norm.weight", n_embd), lin(b + "ffn_gate.weight", n_embd, n_ff),
                lin(b + "ffn_up.weight", n_embd, n_ff), lin(b + "ffn_down.weight", n_ff, n_embd),
                norm(b + "post_ffw_norm.weight", n_embd)]
        if n_ple:
            out += [lin(b + "inp_gate.weight", n_embd, n_ple), lin(b + "proj.weight", n_ple, n_embd),
                    norm(b + "post_norm.weight", n_embd)]
    return out


def _vocab(model_dir: Path, size: int) -> tuple[list[str], list[int], list[str]]:
    """Tokens by id (padded with ``<unused_N>`` to the model's vocabulary), their types, and the merges."""
    tok = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    names: dict[int, str] = {i: t for t, i in tok["model"]["vocab"].items()}
    types = {i: gguf.TokenType.NORMAL for i in names}
    for added in tok.get("added_tokens", []):
        names[added["id"]] = added["content"]
        types[added["id"]] = gguf.TokenType.CONTROL if added.get("special") else gguf.TokenType.USER_DEFINED
    for i, t in names.items():
        if len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
            types[i] = gguf.TokenType.BYTE
    tokens = [names.get(i, f"<unused_{i}>") for i in range(size)]
    kinds = [int(types.get(i, gguf.TokenType.UNUSED)) for i in range(size)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"].get("merges", [])]
    return tokens, kinds, merges


def write(model_dir: Path, out: Path, seed: int = 0, say: Callable[[str], None] = print) -> int:
    """Write ``out``; return its size in bytes."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    text = config.get("text_config", config)
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(out, ARCH)
    n_layer = text["num_hidden_layers"]
    first_shared = n_layer - text.get("num_kv_shared_layers", 0)
    ff = text["intermediate_size"]
    wide = text.get("use_double_wide_mlp", False)
    hd_swa, hd_full = text["head_dim"], text.get("global_head_dim") or text["head_dim"]
    swa_rope = text["rope_parameters"].get("sliding_attention", {})
    full_rope = text["rope_parameters"]["full_attention"]
    w.add_name(f"{model_dir.name} (random weights, {ARCH})")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    w.add_context_length(text.get("max_position_embeddings", 131072))
    w.add_embedding_length(text["hidden_size"])
    w.add_block_count(n_layer)
    w.add_feed_forward_length([ff * 2 if wide and i >= first_shared else ff for i in range(n_layer)])
    w.add_head_count(text["num_attention_heads"])
    w.add_head_count_kv(text["num_key_value_heads"])
    w.add_layer_norm_rms_eps(text.get("rms_norm_eps", 1e-6))
    w.add_key_length(hd_full)
    w.add_value_length(hd_full)
    w.add_key_length_swa(hd_swa)
    w.add_value_length_swa(hd_swa)
    w.add_rope_freq_base(full_rope.get("rope_theta", 1e6))
    w.add_rope_freq_base_swa(swa_rope.get("rope_theta", 1e4))
    w.add_rope_dimension_count(hd_full)  # "proportional": the unrotated dims get 1e30 frequency factors
    w.add_rope_dimension_count_swa(int(hd_swa * swa_rope.get("partial_rotary_factor", 1.0)))
    w.add_sliding_window(text["sliding_window"])
    w.add_sliding_window_pattern([t == "sliding_attention" for t in text["layer_types"]])
    w.add_shared_kv_layers(text.get("num_kv_shared_layers", 0))
    w.add_embedding_length_per_layer_input(text.get("hidden_size_per_layer_input") or 0)
    if text.get("final_logit_softcapping"):
        w.add_final_logit_softcapping(text["final_logit_softcapping"])
    tokens, kinds, merges = _vocab(model_dir, text["vocab_size"])
    w.add_tokenizer_model("gemma4")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * len(tokens))
    w.add_token_types(kinds)
    w.add_token_merges(merges)
    w.add_bos_token_id(text.get("bos_token_id", 2))
    eos = text.get("eos_token_id", 1)
    w.add_eos_token_id(eos[0] if isinstance(eos, list) else eos)
    w.add_pad_token_id(text.get("pad_token_id", 0))
    w.add_add_bos_token(True)
    w.add_add_space_prefix(False)
    todo = tensors(text)
    for t in todo:
        w.add_tensor_info(t.name, t.shape, np.dtype(np.float32), t.nbytes, None if t.qtype == Q.F32 else t.qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    fout = w.fout[0]  # streamed by hand, chunk by chunk: write_tensor_data wants a whole tensor in memory
    for n, t in enumerate(todo):
        w.tensors[0].pop(t.name)
        w.write_padding(fout, fout.tell())
        written = 0
        for chunk in t.chunks(rng):
            chunk.tofile(fout)
            written += chunk.nbytes
        if written != t.nbytes:
            raise AssertionError(f"{t.name}: wrote {written} bytes, expected {t.nbytes}")
        w.write_padding(fout, t.nbytes)
        if t.nbytes > 50e6 or n == len(todo) - 1:
            say(f"{n + 1}/{len(todo)} {t.name} {t.qtype.name} {t.ne} ({t.nbytes / 1e6:.0f} MB)")
    w.close()
    return out.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a random-weight Gemma 4 GGUF (llama.cpp gemma4, Q4_0).")
    parser.add_argument("model_dir", type=Path, help="model directory with config.json and tokenizer.json")
    parser.add_argument("out", type=Path, help="GGUF file to write (replaced if it exists)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.monotonic()

    def say(msg: str) -> None:
        print(f"[{time.monotonic() - start:7.1f} s] {msg}", flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    size = write(args.model_dir, args.out, args.seed, say)
    say(f"wrote {args.out} ({size / 1e9:.2f} GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
