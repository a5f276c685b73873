"""Write a GGUF of a transformers Gemma 4 text decoder with its real weights (llama.cpp ``gemma4``).

    python models/gguf_export.py --tiny CONFIG OUT.gguf [--kind f32|f16|q4_0] [--seed N]

or, from Python, ``export(model, tokenizer_dir, out, kind)`` for any ``Gemma4ForConditionalGeneration`` /
``Gemma4ForCausalLM`` (the tests' tiny models: ``tiny_gguf(out, config_name, kind, seed)``). The layout,
hyperparameters and vocabulary are ``models/gguf_layout.py``'s (those of llama.cpp 0.3.36's converter); the
tensors are the model's own, mapped by name (``HF_NAMES``), transposed by nothing (a torch ``Linear`` weight
``(out, in)`` is llama.cpp's ``ne = (in, out)``), norms as stored, ``layer_scalar`` as
``layer_output_scale``. ``kind``:

- ``f32``: every tensor float32 (the parity reference);
- ``f16``: matrices float16, norms and scalars float32 (as llama.cpp's converter does);
- ``q4_0``: every matrix whose rows split into 32-value blocks ``Q4_0`` (the token embedding, the tied
  head, included), the rest float32. ``Q4_0`` keeps each block's scale in float16, so even weights on the
  int4 grid (the tiny models) change by up to ~5e-4 relatively: close, not bit-identical.

llama.cpp can run a model only if its KV-shared layers read the layers llama.cpp assumes (see
``gguf_layout.kv_reuse_mismatch``): ``export`` refuses other layouts unless ``allow_kv_mismatch``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `models` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gguf
import numpy as np

from models.gguf_layout import ARCH, Q, add_metadata, kv_reuse_mismatch, rope_factors, tensors

KINDS = ("f32", "f16", "q4_0")
FILE_TYPES = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
              "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}

# llama.cpp name -> transformers name under the text model (``blk.N.`` <-> ``layers.N.``).
HF_NAMES = {
    "token_embd": "embed_tokens",
    "per_layer_token_embd": "embed_tokens_per_layer",
    "per_layer_model_proj": "per_layer_model_projection",
    "per_layer_proj_norm": "per_layer_projection_norm",
    "output_norm": "norm",
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_k_norm": "self_attn.k_norm",
    "attn_q_norm": "self_attn.q_norm",
    "attn_output": "self_attn.o_proj",
    "post_attention_norm": "post_attention_layernorm",
    "ffn_norm": "pre_feedforward_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "post_ffw_norm": "post_feedforward_layernorm",
    "inp_gate": "per_layer_input_gate",
    "proj": "per_layer_projection",
    "post_norm": "post_per_layer_input_norm",
}


def hf_name(name: str) -> str:
    """The transformers state-dict key (relative to the text model) of a llama.cpp tensor name."""
    parts = name.split(".")
    if parts[0] == "blk":
        base = parts[2]
        if base == "layer_output_scale":
            return f"layers.{parts[1]}.layer_scalar"
        return f"layers.{parts[1]}.{HF_NAMES[base]}.weight"
    return f"{HF_NAMES[parts[0]]}.weight"


def text_model(model: Any) -> Any:
    """The ``Gemma4TextModel`` inside a Gemma 4 model of any head."""
    inner = getattr(model, "model", model)
    return getattr(inner, "language_model", inner)


def text_config(model: Any) -> dict[str, Any]:
    """The text config as a dict with ``global_head_dim`` set (transformers 5 keeps it in ``per_layer_config``)."""
    config = model.config.get_text_config()
    text: dict[str, Any] = config.to_dict()
    full = [i for i, t in enumerate(text["layer_types"]) if t == "full_attention"]
    per_layer = getattr(config, "per_layer_config", None)
    if full and per_layer is not None:
        text["global_head_dim"] = per_layer[full[0]].head_dim
    return text


def _store_type(shape: tuple[int, ...], kind: str) -> Q:
    """Vectors (norms, factors, scalars) stay float32; matrices take ``kind`` (``Q4_0`` where rows split into blocks)."""
    if len(shape) == 1 or kind == "f32":
        return Q.F32
    if kind == "f16":
        return Q.F16
    return Q.Q4_0 if shape[-1] % 32 == 0 else Q.F32


def export(model: Any, tokenizer_dir: Path, out: Path, kind: str = "f32", allow_kv_mismatch: bool = False) -> Path:
    """Write ``out`` (replaced) from ``model``'s text decoder and ``tokenizer_dir/tokenizer.json``; return it."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    text = text_config(model)
    if (mismatch := kv_reuse_mismatch(text)) and not allow_kv_mismatch:
        raise ValueError(f"llama.cpp would run another model: {'; '.join(mismatch)}")
    state = {k: v.detach().float().numpy() for k, v in text_model(model).state_dict().items()}
    w = gguf.GGUFWriter(out, ARCH)
    add_metadata(w, text, Path(tokenizer_dir), f"{getattr(model.config, 'name_or_path', '') or 'gemma4'} ({kind})",
                 FILE_TYPES[kind])
    for t in tensors(text):
        if t.name == "rope_freqs.weight":
            data = np.asarray(rope_factors(text), dtype=np.float32)
        else:
            data = state[hf_name(t.name)].astype(np.float32)
        if data.shape != t.shape and data.size == int(np.prod(t.shape)):
            data = data.reshape(t.shape)
        if data.shape != t.shape:
            raise ValueError(f"{t.name}: the model has shape {data.shape}, llama.cpp expects {t.shape}")
        qtype = _store_type(t.shape, kind)
        if qtype == Q.F32:
            w.add_tensor(t.name, data)
        elif qtype == Q.F16:
            w.add_tensor(t.name, data.astype(np.float16))
        else:
            w.add_tensor(t.name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def tiny_gguf(out: Path | str, config_name: str, kind: str = "f32", seed: int = 0) -> Path:
    """The GGUF of the tiny model ``models/tiny_gemma4.py`` builds for ``(config_name, seed)``."""
    from models.tiny_configs import build_model
    from models.tokenizer_files import write_tokenizer

    model = build_model(config_name, seed)
    with tempfile.TemporaryDirectory() as tmp:
        write_tokenizer(Path(tmp), model.config.text_config.max_position_embeddings)
        return export(model, Path(tmp), Path(out), kind)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a GGUF of a tiny Gemma 4 model's real weights (llama.cpp gemma4).")
    parser.add_argument("--tiny", required=True, metavar="CONFIG", help="tiny configuration (models/tiny_configs.py)")
    parser.add_argument("out", type=Path, help="GGUF file to write (replaced if it exists)")
    parser.add_argument("--kind", choices=KINDS, default="f32")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        tiny_gguf(args.out, args.tiny, args.kind, args.seed)
    except ValueError as exc:
        parser.exit(1, f"{parser.prog}: error: {exc}\n")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
