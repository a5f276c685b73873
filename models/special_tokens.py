"""Special-token layout of the tiny vocabulary.

Ids below 107 follow the real Gemma 4 tokenizer where they are known (pad 0, eos 1, bos 2, unk 3,
mask 4, tool tokens 46-52, turn tokens 105/106). The multimodal tokens live at the top of the real
262144 vocabulary (255999 and 256000, 258880-258884); here they sit at the top of the tiny one, in
the same relative order. The runtime must resolve every id through the tokenizer, never hard-code it.
"""

from __future__ import annotations

VOCAB_SIZE = 1024

# Named special tokens and their ids. Free ids up to 106 are filled with <unusedN> like Gemma's.
TOKEN_IDS: dict[str, int] = {
    "<pad>": 0,
    "<eos>": 1,
    "<bos>": 2,
    "<unk>": 3,
    "<mask>": 4,
    "<|tool>": 46,
    "<tool|>": 47,
    "<|tool_call>": 48,
    "<tool_call|>": 49,
    "<|tool_response>": 50,
    "<tool_response|>": 51,
    '<|"|>': 52,
    "<|think|>": 98,
    "<|channel>": 100,
    "<channel|>": 101,
    "<|turn>": 105,
    "<turn|>": 106,
    "<|image>": 1016,
    "<|audio>": 1017,
    "<|image|>": 1018,
    "<|audio|>": 1019,
    "<image|>": 1020,
    "<audio|>": 1021,
    "<|video|>": 1022,
}

FIRST_BYTE_ID = 107  # <0x00> .. <0xFF> occupy 107 .. 362
FIRST_PIECE_ID = FIRST_BYTE_ID + 256
LAST_PIECE_ID = 1015  # ordinary pieces (characters and merges) occupy 363 .. 1015

# config.json keys for the multimodal token ids (names as transformers' Gemma4Config spells them).
MULTIMODAL_IDS: dict[str, int] = {
    "boi_token_id": TOKEN_IDS["<|image>"],
    "eoi_token_id": TOKEN_IDS["<image|>"],
    "image_token_id": TOKEN_IDS["<|image|>"],
    "video_token_id": TOKEN_IDS["<|video|>"],
    "boa_token_id": TOKEN_IDS["<|audio>"],
    "eoa_token_index": TOKEN_IDS["<audio|>"],
    "audio_token_id": TOKEN_IDS["<|audio|>"],
}

# Placeholders that the runtime replaces by pad before embed_tokens (BOA/EOA/BOI/EOI are real tokens).
PLACEHOLDER_TOKENS = ("<|audio|>", "<|image|>", "<|video|>")

# generation_config.json: <eos>, <turn|>, <|tool_response>.
EOS_TOKENS = ("<eos>", "<turn|>", "<|tool_response>")


def special_vocab() -> dict[str, int]:
    """Every special token (named, unused filler, and the final unused slot) with its id."""
    vocab = dict(TOKEN_IDS)
    used = set(vocab.values())
    n = 0
    for i in [*range(FIRST_BYTE_ID), *range(LAST_PIECE_ID + 1, VOCAB_SIZE)]:
        if i not in used:
            vocab[f"<unused{n}>"] = i
            n += 1
    return vocab


def byte_token(b: int) -> str:
    """The byte-fallback piece for one byte, SentencePiece style."""
    return f"<0x{b:02X}>"
