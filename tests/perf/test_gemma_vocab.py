"""``models/gemma_vocab.py`` on a synthetic GGUF-shaped vocabulary: Gemma 4's specials in their slots, merges
by score, byte fallback, user-defined pieces whole (the real GGUF is checked against llama.cpp by hand:
docs/BENCHMARKS.md)."""

from __future__ import annotations

import pytest

from models import gemma_vocab as gv

NORMAL, CONTROL, USER, BYTE = gv.NORMAL, gv.CONTROL, gv.USER_DEFINED, gv.BYTE
WORDS = ["▁", "k", "i", "t", "c", "h", "e", "n", "_", "l", "g", "o", "ki", "kit", "ch", "en", "chen", "kitchen", "li",
         "gh", "ght", "light", "▁kitchen", "on"]


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    """Gemma 3's layout: control slots (with Gemma 3's names where Gemma 4 puts its specials), bytes, pieces."""
    size = gv.VOCAB_SIZE
    pieces = [f"<unused{i}>" for i in range(size)]
    types = [CONTROL] * size
    scores = [-1000.0] * size
    for i, name in enumerate(["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]):
        pieces[i] = name
    pieces[105], pieces[106], pieces[107], types[107] = "<start_of_turn>", "<end_of_turn>", "\n", USER
    pieces[255999], pieces[256000] = "<start_of_image>", "<end_of_image>"
    for b in range(256):
        pieces[238 + b], types[238 + b], scores[238 + b] = f"<0x{b:02X}>", BYTE, 0.0
    merged_last = ["kitchen", "▁kitchen", "light", "chen", "ght", "kit", "ki", "ch", "en", "gh", "li", "on"]
    order = [w for w in WORDS if w not in merged_last] + merged_last[::-1]  # longer merges rank lower
    for j, piece in enumerate(order):
        pieces[494 + j], types[494 + j], scores[494 + j] = piece, NORMAL, -float(j)
    return pieces, scores, types


@pytest.fixture(scope="module")
def tok():
    return gv.build_tokenizer(*vocabulary())


def test_gemma4_special_tokens_are_single_tokens_at_their_real_ids(tok) -> None:
    for token, i in gv.SPECIAL_IDS.items():
        assert tok.encode(token, add_special_tokens=False).ids == [i], token
    text = '<|turn>user\n<|tool_call>call:<|"|>'
    ids = tok.encode(text, add_special_tokens=False).ids
    assert ids[0] == 105 and ids[-1] == 52 and 48 in ids and 107 in ids  # specials and the user-defined newline


def test_pieces_merge_by_score_and_unknown_bytes_fall_back(tok) -> None:
    assert tok.encode("kitchen_light", add_special_tokens=False).tokens == ["kitchen", "_", "light"]
    assert tok.encode("on kitchen", add_special_tokens=False).tokens == ["on", "▁kitchen"]
    assert tok.encode("é", add_special_tokens=False).tokens == ["<0xC3>", "<0xA9>"]
    assert tok.decode(tok.encode("kitchen é", add_special_tokens=False).ids) == "kitchen é"


def test_a_special_slot_holding_an_ordinary_piece_is_refused() -> None:
    pieces, scores, types = vocabulary()
    pieces[48] = "call"
    with pytest.raises(ValueError, match="slot 48"):
        gv.build_tokenizer(pieces, scores, types)


def test_config_gets_the_real_multimodal_ids() -> None:
    from models.special_tokens import MULTIMODAL_IDS

    config = gv.set_multimodal_ids(dict(MULTIMODAL_IDS))
    assert config["audio_token_id"] == 258881 and config["boa_token_id"] == 256000 and config["eoa_token_index"] == 258883
    with pytest.raises(ValueError):
        gv.set_multimodal_ids({"audio_token_id": 7})
