"""llama.cpp's ``gemma4`` GGUF layout, shared by the GGUF writers (``gguf_e2b`` random codes, ``gguf_export`` real weights).

What llama.cpp 0.3.36 expects of a Gemma 4 text decoder, as its converter (``Gemma4Model``) writes it and its
loader (``src/models/gemma4.cpp``) reads it:

- hyperparameters (``add_metadata``): per-layer head dims (``key_length`` full, ``key_length_swa`` sliding),
  the sliding-window pattern, ``shared_kv_layers``, the per-layer input width, per-layer FFN lengths (the
  double-wide MLP of KV-shared layers), both RoPE bases, ``rope.dimension_count`` = the full head dim
  ("proportional" RoPE: the unrotated pairs get frequency factor 1e30 in ``rope_freqs``), the final-logit
  softcap; the BPE vocabulary and merges of ``tokenizer.json`` (``gemma4`` tokenizer);
- tensors (``tensors``): llama.cpp names, shapes ``ne = (columns, rows)`` (the numpy shape reversed, no
  permutation: Gemma's RoPE is NEOX-style, as in transformers), norms as stored (Gemma 4's RMSNorm multiplies
  by the weight itself, no ``1 +``), KV-shared layers without K/V projections or ``k_norm``.

llama.cpp hard-codes which layer a KV-shared layer reads: the last non-shared layer for full attention and
the one before it for sliding attention. transformers reads the last non-shared layer *of the same type*.
Both agree only when the last two non-shared layers are (sliding, full), as in E2B; ``kv_reuse_mismatch``
says where they differ.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gguf
import numpy as np

Q = gguf.GGMLQuantizationType
ARCH = "gemma4"
SLIDING = "sliding_attention"


class Tensor:
    """One tensor of the layout: llama.cpp shape ``ne`` (numpy shape reversed), a type, an optional filler."""

    def __init__(self, name: str, ne: tuple[int, ...], qtype: Q, fill: Callable[[int, int], np.ndarray] | None = None):
        self.name, self.ne, self.qtype, self.fill = name, ne, qtype, fill

    @property
    def shape(self) -> tuple[int, ...]:  # numpy order
        return tuple(reversed(self.ne))

    @property
    def nbytes(self) -> int:
        block, size = gguf.GGML_QUANT_SIZES[self.qtype]
        return int(np.prod(self.ne)) // block * size


def type_for(cols: int, wanted: Q) -> Q:
    """``wanted`` if rows of ``cols`` values split into its blocks, else ``Q4_0`` if they can, else ``F32``."""
    block = gguf.GGML_QUANT_SIZES[wanted][0]
    if cols % block == 0:
        return wanted
    return Q.Q4_0 if cols % 32 == 0 else Q.F32


def const(value: float | list[float], cols: int) -> Callable[[int, int], np.ndarray]:
    """A filler giving ``n`` rows of a constant row (norms of one, RoPE frequency factors)."""
    row = np.broadcast_to(np.asarray(value, dtype=np.float32), (cols,))
    return lambda _start, n: np.tile(row, (n, 1))


def rope_factors(text: dict[str, Any]) -> list[float]:
    """Frequency factors of the full-attention layers: 1 for rotated pairs, 1e30 (never turns) for the rest."""
    hd_full = text.get("global_head_dim") or text["head_dim"]
    n_rot = int(hd_full * text["rope_parameters"]["full_attention"].get("partial_rotary_factor", 1.0) / 2)
    return [1.0] * n_rot + [1e30] * (hd_full // 2 - n_rot)


def tensors(text: dict[str, Any]) -> list[Tensor]:
    """Every tensor llama.cpp's ``gemma4`` loader creates for this config, in file order, with the types of
    llama.cpp's ``Q4_0`` recipe (linear layers ``Q4_0``, embedding tables ``Q6_K``, norms ``F32``)."""
    n_embd, n_layer, vocab = text["hidden_size"], text["num_hidden_layers"], text["vocab_size"]
    n_head, n_kv = text["num_attention_heads"], text["num_key_value_heads"]
    hd_swa, hd_full = text["head_dim"], text.get("global_head_dim") or text["head_dim"]
    n_ple = text.get("hidden_size_per_layer_input") or 0
    swa = [t == SLIDING for t in text["layer_types"]]
    first_shared = n_layer - text.get("num_kv_shared_layers", 0)
    ff = text["intermediate_size"]
    wide = text.get("use_double_wide_mlp", False)

    def lin(name: str, k: int, n: int) -> Tensor:
        return Tensor(name, (k, n), type_for(k, Q.Q4_0))

    def norm(name: str, n: int, value: float = 1.0) -> Tensor:
        return Tensor(name, (n,), Q.F32, const(value, n))

    out = [Tensor("token_embd.weight", (n_embd, vocab), type_for(n_embd, Q.Q6_K))]
    if n_ple:
        out += [Tensor("per_layer_token_embd.weight", (n_ple * n_layer, vocab), type_for(n_ple * n_layer, Q.Q6_K)),
                lin("per_layer_model_proj.weight", n_embd, n_ple * n_layer),
                norm("per_layer_proj_norm.weight", n_ple)]
    out.append(norm("output_norm.weight", n_embd))
    if not all(swa):
        factors = rope_factors(text)
        out.append(Tensor("rope_freqs.weight", (hd_full // 2,), Q.F32, const(factors, hd_full // 2)))
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


def kv_reuse_mismatch(text: dict[str, Any]) -> list[str]:
    """The KV-shared layers whose source llama.cpp picks differently from transformers (empty: they agree)."""
    types = text["layer_types"]
    first = len(types) - text.get("num_kv_shared_layers", 0)
    if first == len(types):
        return []
    out = []
    for i in range(first, len(types)):
        theirs = max(j for j in range(first) if types[j] == types[i])
        ours = first - (2 if types[i] == SLIDING else 1)
        if theirs != ours:
            out.append(f"layer {i} ({types[i]}): transformers reads layer {theirs}, llama.cpp layer {ours}")
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


def add_metadata(w: gguf.GGUFWriter, text: dict[str, Any], model_dir: Path, name: str,
                 file_type: gguf.LlamaFileType) -> None:
    """Write the hyperparameters of ``text`` (a ``text_config`` dict) and the vocabulary of ``model_dir``."""
    n_layer = text["num_hidden_layers"]
    first_shared = n_layer - text.get("num_kv_shared_layers", 0)
    ff = text["intermediate_size"]
    wide = text.get("use_double_wide_mlp", False)
    hd_swa, hd_full = text["head_dim"], text.get("global_head_dim") or text["head_dim"]
    swa_rope = text["rope_parameters"].get("sliding_attention", {})
    full_rope = text["rope_parameters"]["full_attention"]
    w.add_name(name)
    w.add_file_type(file_type)
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
    w.add_sliding_window_pattern([t == SLIDING for t in text["layer_types"]])
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


def stream_file(w: gguf.GGUFWriter, todo: list[Tensor], chunks: Callable[[Tensor], Iterator[np.ndarray]],
                say: Callable[[str], None]) -> None:
    """Write the header, then each tensor's bytes chunk by chunk (``write_tensor_data`` wants a whole tensor in
    memory, and the per-layer table of E2B is 2.4 GB), checking each tensor's size, and close ``w``."""
    for t in todo:
        w.add_tensor_info(t.name, t.shape, np.dtype(np.float32), t.nbytes, None if t.qtype == Q.F32 else t.qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    assert w.fout is not None
    fout = w.fout[0]
    for n, t in enumerate(todo):
        w.tensors[0].pop(t.name)
        w.write_padding(fout, fout.tell())
        written = 0
        for chunk in chunks(t):
            chunk.tofile(fout)
            written += chunk.nbytes
        if written != t.nbytes:
            raise AssertionError(f"{t.name}: wrote {written} bytes, expected {t.nbytes}")
        w.write_padding(fout, t.nbytes)
        if t.nbytes > 50e6 or n == len(todo) - 1:
            say(f"{n + 1}/{len(todo)} {t.name} {t.qtype.name} {t.ne} ({t.nbytes / 1e6:.0f} MB)")
    w.close()
