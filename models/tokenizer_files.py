"""A small Gemma-style tokenizer (``tokenizer.json`` + ``tokenizer_config.json``) for the tiny models.

SentencePiece-style BPE built with the ``tokenizers`` library: spaces become ``▁``, words are split
before each ``▁``, pieces are single characters plus merges learnt deterministically from a fixed
corpus, and any other byte falls back to ``<0xXX>`` so every UTF-8 text round-trips. All Gemma 4
special tokens are single tokens (``models.special_tokens``). ``tokenizer_config.json`` has the same
keys as the published one, so ``AutoTokenizer.from_pretrained(dir)`` loads it without torch.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from models.special_tokens import (
    FIRST_BYTE_ID,
    FIRST_PIECE_ID,
    LAST_PIECE_ID,
    TOKEN_IDS,
    byte_token,
    special_vocab,
)

SPACE = "▁"

_CORPUS = """
turn on the kitchen light. turn off the living room lights. set the bedroom light to fifty percent.
what is the temperature in the living room? set the thermostat to twenty one degrees.
open the garage door. close the blinds in the office. lock the front door. is the back door locked?
play some music in the kitchen. stop the music. what time is it? set a timer for ten minutes.
the weather today is sunny with a high of twenty degrees. it will rain tomorrow in the morning.
you are a helpful voice assistant for the home. answer briefly and call a tool when the user asks
for an action. the device is not available. i did not understand that, please say it again.
hello, how can i help you today? thank you. good morning. good night. the lights are on.
call the function with the arguments. the response of the tool is ok. the value is true.
""" * 3

_SPECIAL_KEYS = {  # tokenizer_config.json attribute -> token, as the published file names them
    "audio_token": "<|audio|>", "boa_token": "<|audio>", "eoa_token": "<audio|>",
    "image_token": "<|image|>", "boi_token": "<|image>", "eoi_token": "<image|>",
    "sot_token": "<|turn>", "eot_token": "<turn|>", "soc_token": "<|channel>", "eoc_token": "<channel|>",
    "think_token": "<|think|>", "escape_token": '<|"|>',
    "str_token": "<|tool_response>", "etr_token": "<tool_response|>",
    "stc_token": "<|tool_call>", "etc_token": "<tool_call|>", "std_token": "<|tool>", "etd_token": "<tool|>",
}


def _alphabet() -> list[str]:
    """Single-character pieces: ``▁``, newline, tab and printable ASCII."""
    return [SPACE, "\n", "\t", *(chr(c) for c in range(33, 127))]


def _learn_merges(corpus: str, alphabet: list[str], budget: int) -> list[tuple[str, str]]:
    """Greedy BPE on the corpus words; ties broken lexically so the result never varies."""
    words = Counter(SPACE + w for w in corpus.split())
    seqs = {w: [c for c in w if c in alphabet] for w in words}
    merges: list[tuple[str, str]] = []
    while len(merges) < budget:
        pairs: Counter[tuple[str, str]] = Counter()
        for w, n in words.items():
            s = seqs[w]
            for a, b in itertools.pairwise(s):
                pairs[(a, b)] += n
        if not pairs:
            break
        best, count = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        if count < 2:
            break
        merges.append(best)
        for w, s in seqs.items():
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    return merges


def vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The full id table (specials, bytes, pieces, unused filler) and the merge list."""
    vocab = special_vocab()
    for b in range(256):
        vocab[byte_token(b)] = FIRST_BYTE_ID + b
    alphabet = _alphabet()
    merges = _learn_merges(_CORPUS, alphabet, LAST_PIECE_ID + 1 - FIRST_PIECE_ID - len(alphabet))
    next_id = FIRST_PIECE_ID
    for piece in [*alphabet, *(a + b for a, b in merges)]:
        if piece not in vocab:
            vocab[piece] = next_id
            next_id += 1
    n_unused = sum(1 for t in vocab if t.startswith("<unused"))
    while next_id <= LAST_PIECE_ID:
        vocab[f"<unused{n_unused}>"] = next_id
        n_unused += 1
        next_id += 1
    return vocab, merges


def build_tokenizer() -> Tokenizer:
    """The ``tokenizers.Tokenizer`` object (BPE with byte fallback, Gemma special tokens)."""
    vocab, merges = vocab_and_merges()
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=False))
    tok.normalizer = normalizers.Replace(" ", SPACE)
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(SPACE), behavior="merged_with_next")
    tok.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()])
    specials = sorted((i, t) for t, i in vocab.items() if t.startswith("<") and t.endswith(">") and not t.startswith("<0x"))
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for _, t in specials])
    bos = TOKEN_IDS["<bos>"]
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B:1", special_tokens=[("<bos>", bos)]
    )
    return tok


def write_tokenizer(out_dir: Path, max_length: int) -> None:
    """Write ``tokenizer.json`` and ``tokenizer_config.json`` into ``out_dir``."""
    tok = build_tokenizer()
    (out_dir / "tokenizer.json").write_text(tok.to_str(pretty=True) + "\n", encoding="utf-8")
    text = json.dumps(tokenizer_config(max_length), indent=2, ensure_ascii=False)
    (out_dir / "tokenizer_config.json").write_text(text + "\n", encoding="utf-8")


def tokenizer_config(max_length: int) -> dict[str, object]:
    """``tokenizer_config.json``: the published file's keys, sorted."""
    config = {
        **_SPECIAL_KEYS,
        "backend": "tokenizers",
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "mask_token": "<mask>",
        "extra_special_tokens": ["<|video|>"],
        "model_max_length": max_length,
        "padding_side": "left",
        "processor_class": "Gemma4Processor",
        "tokenizer_class": "GemmaTokenizer",
    }
    return dict(sorted(config.items()))
