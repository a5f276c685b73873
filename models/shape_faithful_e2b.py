"""Build a shape-faithful Gemma 4 E2B: the real dimensions, random weights, the published q4 layout.

    python models/shape_faithful_e2b.py OUT_DIR [--layers 35] [--vocab 262144] [--audio-layers 12]
                                                [--head fp32|q4] [--ple-store 8|4|0] [--seed N]
                                                [--tokenizer gemma|tiny]

Writes ``OUT_DIR`` as a model directory the engine loads like ``onnx-community/gemma-4-E2B-it-ONNX``
with ``--precisions q4`` (sidecar files of ``models/tiny_gemma4.py``; the tokenizer is the 262,144-piece
Gemma vocabulary with Gemma 4's special tokens of ``models/gemma_vocab.py`` at the full vocabulary size,
``--tokenizer tiny`` or a smaller ``--vocab`` gives the tiny 1024-token one):

- ``onnx/decoder_model_merged_q4.onnx``: 35 layers, hidden 1536, 8 query / 1 KV heads, head dims 256
  (sliding) and 512 (full), 20 KV-shared layers with the 12288-wide MLP, per-layer inputs 35 x 256,
  every linear layer ``MatMulNBits`` 4 bits block 32, and the LM head over the 262144-token vocabulary
  (``--head fp32``, the default, assumes the published head is not quantized; ``q4`` quantizes it);
- ``onnx/embed_tokens_q4.onnx``: int4 ``GatherBlockQuantized`` tables (262144 x 1536, 262144 x 8960);
- ``onnx/audio_encoder_q4.onnx``: the 12-layer, 1024-wide conformer (``--audio-layers 0`` skips it);
- ``ple_store_int8.bin`` (``--ple-store 8``): the memory-mapped per-layer embedding store
  (``assistant.engine.graphs.ple_store``) made from the embed graph.

How it stays within a few GB: the decoder is traced with torch at the real dimensions with one shared
float32 weight per (layer kind, linear) (constant folding off, so sharing survives the export), then
every ``MatMul(x, Transpose(W))`` becomes a ``MatMulNBits`` with its own freshly drawn random codes
written straight into the external-data file, layer by layer. The LM head is traced with a small
vocabulary and swapped for the real-size one the same way. Embedding tables are streamed in chunks.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

if __package__ in (None, ""):  # run as a script: make `models` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import onnx
import torch
import transformers
from torch import nn
from transformers import Gemma4Config
from transformers.models.gemma4 import modeling_gemma4 as g4

from models.export_onnx import decoder_dynamic_axes, decoder_io_names, export_audio_encoder
from models.export_wrappers import Decoder
from models.faithful_graphs import (
    DataWriter,
    embed_tokens_graph,
    matmul_nbits,
    prune,
    q4_matmul_weights,
    quantize_linears,
    random_float_matrix,
)
from models.metadata_files import TEMPLATE, generation_dict, processor_dict
from models.precisions import make_variant
from models.special_tokens import MULTIMODAL_IDS, TOKEN_IDS
from models.tokenizer_files import write_tokenizer

SLIDING, FULL = "sliding_attention", "full_attention"
TRACE_VOCAB = 160  # the LM head is traced this wide (no other weight has this shape), then replaced
Say = Callable[[str], None]


def make_config(layers: int = 35, vocab: int = 262144, audio_layers: int = 12) -> Gemma4Config:
    """E2B's config.json values; ``layers``/``vocab``/``audio_layers`` shrink it for tests."""
    types = [FULL if i % 5 == 4 else SLIDING for i in range(layers)]
    shared = 20 if layers == 35 else max(0, min(round(layers * 20 / 35), layers - 5))
    text = {
        "vocab_size": vocab, "vocab_size_per_layer_input": vocab, "hidden_size": 1536, "intermediate_size": 6144,
        "num_hidden_layers": layers, "num_attention_heads": 8, "num_key_value_heads": 1, "head_dim": 256,
        "global_head_dim": 512, "layer_types": types, "sliding_window": 512, "num_kv_shared_layers": shared,
        "use_double_wide_mlp": True, "hidden_size_per_layer_input": 256, "final_logit_softcapping": 30.0,
        "hidden_activation": "gelu_pytorch_tanh", "rms_norm_eps": 1e-6, "max_position_embeddings": 131072,
        "pad_token_id": TOKEN_IDS["<pad>"], "eos_token_id": [TOKEN_IDS["<eos>"], TOKEN_IDS["<turn|>"]],
        "bos_token_id": TOKEN_IDS["<bos>"], "tie_word_embeddings": True,
    }  # fmt: skip
    audio = {"num_hidden_layers": audio_layers} if audio_layers > 0 else None
    config = Gemma4Config(text_config=text, audio_config=audio, vision_config=None, **MULTIMODAL_IDS)
    for cfg in (config, config.text_config, config.audio_config):
        if cfg is not None:
            cfg._attn_implementation = "eager"
    return config


def config_json(config: Gemma4Config) -> dict:
    """``config.json`` in the published form: ``global_head_dim`` instead of 5.x's ``per_layer_config``.

    (``models.metadata_files.config_dict`` does the same but misses transformers' zero-padded layer keys,
    ``"04"``, which appear from 10 layers on.)
    """
    data = config.to_dict()
    text = data["text_config"]
    overrides = text.pop("per_layer_config", None) or {}
    dims = {int(v["head_dim"]) for v in overrides.values() if isinstance(v, dict) and "head_dim" in v}
    if len(dims) > 1:
        raise ValueError(f"per_layer_config {overrides} has no global_head_dim equivalent")
    text["global_head_dim"] = dims.pop() if dims else text["head_dim"]
    text["num_global_key_value_heads"] = None
    data["architectures"] = ["Gemma4ForConditionalGeneration"]
    data["transformers_version"] = transformers.__version__
    return data


def write_sidecars(out_dir: Path, config: Gemma4Config) -> None:
    """config.json, generation_config.json, processor files and the chat template (as the tiny builder)."""
    files = {"config.json": config_json(config), "generation_config.json": generation_dict(),
             "processor_config.json": processor_dict(), "preprocessor_config.json": {"processor_class": "Gemma4Processor"}}
    for name, data in files.items():
        (out_dir / name).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    shutil.copyfile(TEMPLATE, out_dir / "chat_template.jinja")


def _materialize(lm: g4.Gemma4TextModel, seed: int) -> None:
    """Give a meta-device text model real tensors: one shared float32 weight per (layer kind, linear)."""
    cfg = lm.config
    gen = torch.Generator().manual_seed(seed)
    modes = cfg.kv_sharing_modes
    shared: dict[tuple[str, bool, str], nn.Parameter] = {}
    hidden = cfg.hidden_size
    lm.embed_tokens = nn.Embedding(1, hidden)  # not part of the decoder graph
    lm.embed_tokens_per_layer = nn.Embedding(1, cfg.num_hidden_layers * cfg.hidden_size_per_layer_input)
    lm.rotary_emb = g4.Gemma4TextRotaryEmbedding(cfg)
    for i, layer in enumerate(lm.layers):
        for name, mod in layer.named_modules():
            if isinstance(mod, nn.Linear):
                key = (cfg.layer_types[i], modes[i] == "reuse", name)
                if key not in shared:
                    w = torch.randn(mod.weight.shape, generator=gen) * mod.weight.shape[1] ** -0.5
                    shared[key] = nn.Parameter(w, requires_grad=False)
                mod.weight = shared[key]
    for mod in lm.modules():
        for pname, p in list(mod._parameters.items()):
            if p is not None and p.is_meta:
                mod._parameters[pname] = nn.Parameter(torch.randn(p.shape, generator=gen) * p.shape[-1] ** -0.5
                                                      if p.dim() == 2 else torch.ones(p.shape), requires_grad=False)
        for bname, b in list(mod._buffers.items()):
            if b is not None and b.is_meta:
                mod._buffers[bname] = torch.ones(b.shape, dtype=b.dtype)


def _trace_decoder(config: Gemma4Config, seed: int) -> onnx.ModelProto:
    text = config.text_config
    with torch.device("meta"):
        lm = g4.Gemma4TextModel(text)
    _materialize(lm, seed)
    head = nn.Linear(text.hidden_size, TRACE_VOCAB, bias=False)
    batch, seq, past_len = 1, 3, 2
    past = []
    for i in range(text.num_hidden_layers - text.num_kv_shared_layers):
        hd = text.per_layer_config[i].head_dim
        past += [torch.randn(batch, 1, past_len, hd), torch.randn(batch, 1, past_len, hd)]
    args = (torch.randn(batch, seq, text.hidden_size),
            torch.randn(batch, seq, text.num_hidden_layers, text.hidden_size_per_layer_input),
            torch.ones(batch, past_len + seq, dtype=torch.int64),
            torch.arange(past_len, past_len + seq)[None], torch.tensor(0), *past)
    fake = SimpleNamespace(config=config)
    inputs, outputs = decoder_io_names(fake)  # type: ignore[arg-type]
    axes = decoder_dynamic_axes(inputs, outputs)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Decoder(lm, head).eval(), args, buffer, input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=18, do_constant_folding=False, dynamo=False)
    return onnx.load_from_string(buffer.getvalue())


def _swap_head(model: onnx.ModelProto, writer: DataWriter, rng: np.random.Generator, vocab: int, hidden: int,
               head: str) -> None:
    """Replace the traced small LM head by a random ``[hidden, vocab]`` one (float32 or q4)."""
    graph = model.graph
    shapes = {t.name: list(t.dims) for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}

    def is_head(node: onnx.NodeProto) -> bool:
        src = producer.get(node.input[1]) if node.op_type == "MatMul" else None
        return src is not None and src.op_type == "Transpose" and shapes.get(src.input[0]) == [TRACE_VOCAB, hidden]

    node = next((n for n in graph.node if is_head(n)), None)
    if node is None:
        raise RuntimeError("LM head MatMul not found in the traced decoder")
    idx = list(graph.node).index(node)
    if head == "q4":
        b, s = q4_matmul_weights(writer, rng, "lm_head.full", hidden, vocab)
        graph.initializer.extend([b, s])
        new = matmul_nbits(node.input[0], b, s, node.output[0], hidden, vocab, "lm_head/MatMulNBits")
    else:
        w = random_float_matrix(writer, rng, "lm_head.full", hidden, vocab)
        graph.initializer.append(w)
        new = onnx.helper.make_node("MatMul", [node.input[0], w.name], [node.output[0]], name="lm_head/MatMul")
    graph.node.remove(node)
    graph.node.insert(idx, new)
    graph.output[0].type.tensor_type.shape.dim[2].dim_value = vocab
    del graph.value_info[:]


def build_decoder(config: Gemma4Config, path: Path, head: str, seed: int, say: Say) -> Path:
    """``decoder_model_merged_q4.onnx`` (+ ``_data``) at the config's dimensions."""
    text = config.text_config
    say(f"tracing the decoder ({text.num_hidden_layers} layers, shared float32 weights)")
    model = _trace_decoder(config, seed)
    writer = DataWriter(path.with_name(path.name + "_data"))
    rng = np.random.default_rng(seed + 1)
    try:
        say("drawing random q4 weights per linear layer")
        _swap_head(model, writer, rng, text.vocab_size, text.hidden_size, head)
        count = quantize_linears(model, writer, rng, progress=say)
    finally:
        writer.close()
    say(f"  {count} MatMulNBits, {writer.offset / 2**30:.2f} GiB of weights")
    prune(model)
    model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    model.producer_name = "shape_faithful_e2b"
    onnx.save_model(model, str(path))
    return path


def build_audio(config: Gemma4Config, onnx_dir: Path, say: Say) -> Path:
    """``audio_encoder_q4.onnx``: the conformer traced in float32 (HF init), then q4 like the tiny models."""
    say(f"exporting the audio encoder ({config.audio_config.num_hidden_layers} layers, 1024 wide)")
    tower = g4.Gemma4AudioModel(config.audio_config).eval()
    embed = g4.Gemma4MultimodalEmbedder(config.audio_config, config.text_config).eval()
    fp32 = onnx_dir / "audio_encoder.onnx"
    export_audio_encoder(SimpleNamespace(model=SimpleNamespace(audio_tower=tower, embed_audio=embed)), fp32)  # type: ignore[arg-type]
    del tower, embed
    say("  audio encoder -> q4")
    q4 = make_variant(fp32, "q4")
    fp32.unlink()
    fp32.with_name(fp32.name + "_data").unlink()
    return q4


def build_ple_store(model_dir: Path, bits: int, say: Say) -> Path:
    """The memory-mapped per-layer embedding store, from the embed graph over every token id."""
    import onnxruntime as ort

    from assistant.engine.graphs.ple_store import build_store, session_lookup

    graph = model_dir / "onnx" / "embed_tokens_q4.onnx"
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    vocab = json.loads((model_dir / "config.json").read_text())["text_config"]["vocab_size"]
    path = model_dir / f"ple_store_int{bits}.bin"
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 10 or done == total:
            last[0] = time.monotonic()
            say(f"  per-layer embedding store: {done}/{total} rows")

    build_store(session_lookup(session), vocab, path, bits=bits, chunk=2048, source=graph.name, progress=progress)
    return path


def build(out_dir: Path, layers: int = 35, vocab: int = 262144, audio_layers: int = 12, head: str = "fp32",
          ple_bits: int = 8, seed: int = 0, say: Say = lambda _m: None, tokenizer: str = "tiny") -> Path:
    """Build the whole model directory (replaced if it exists) and return its path.

    ``tokenizer``: ``tiny`` (1024 tokens) or ``gemma`` (the 262,144-piece vocabulary, ``vocab`` 262144 only).
    """
    config = make_config(layers, vocab, audio_layers)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    onnx_dir = out_dir / "onnx"
    onnx_dir.mkdir(parents=True)
    write_sidecars(out_dir, config)
    write_tokenizer(out_dir, config.text_config.max_position_embeddings)
    if tokenizer == "gemma":
        from models.gemma_vocab import swap_into

        say("tokenizer: the 262,144-piece Gemma vocabulary with Gemma 4's special tokens")
        swap_into(out_dir)
    text = config.text_config
    say(f"embed_tokens ({vocab} tokens)")
    embed_tokens_graph(onnx_dir / "embed_tokens_q4.onnx", vocab, text.hidden_size, layers,
                       text.hidden_size_per_layer_input, seed, progress=say)
    build_decoder(config, onnx_dir / "decoder_model_merged_q4.onnx", head, seed, say)
    if audio_layers > 0:
        build_audio(config, onnx_dir, say)
    if ple_bits:
        build_ple_store(out_dir, ple_bits, say)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build a shape-faithful random Gemma 4 E2B (q4, published layout).")
    parser.add_argument("out_dir", type=Path, help="directory to create (replaced if it exists), e.g. models/out/e2b")
    parser.add_argument("--layers", type=int, default=35, help="decoder layers (default 35; fewer for tests)")
    parser.add_argument("--vocab", type=int, default=262144, help="vocabulary size (default 262144)")
    parser.add_argument("--audio-layers", type=int, default=12, help="conformer layers (default 12; 0 = no audio)")
    parser.add_argument("--head", choices=("fp32", "q4"), default="fp32", help="LM head precision (default fp32)")
    parser.add_argument("--ple-store", type=int, choices=(0, 4, 8), default=8, help="store bits (0 = none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tokenizer", choices=("gemma", "tiny"), help="gemma: the 262,144-piece Gemma vocabulary "
                        "(models/gemma_vocab.py; the default at --vocab 262144); tiny: the 1024-token test tokenizer")
    args = parser.parse_args(argv)
    if args.layers < 1 or args.vocab < 1024 or args.vocab % 32:
        parser.error("--layers must be >= 1 and --vocab a multiple of 32, at least 1024 (the tokenizer's size)")
    tokenizer = args.tokenizer or ("gemma" if args.vocab == 262144 else "tiny")
    if tokenizer == "gemma" and args.vocab != 262144:
        parser.error("--tokenizer gemma needs --vocab 262144")
    start = time.monotonic()

    def say(msg: str) -> None:
        print(f"[{time.monotonic() - start:7.1f} s] {msg}", flush=True)

    build(args.out_dir, args.layers, args.vocab, args.audio_layers, args.head, args.ple_store, args.seed, say, tokenizer)
    size = sum(p.stat().st_size for p in args.out_dir.rglob("*") if p.is_file())
    say(f"built {args.out_dir} ({size / 2**30:.2f} GiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
