"""Streaming detokenization equals a full decode, for any id sequence, whole characters only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.engine.decoding.detok import REPLACEMENT, IncrementalDetokenizer
from assistant.engine.decoding.prompt import load_tokenizer


@pytest.fixture(scope="module")
def backend(tiny_text_dir: Path):
    return load_tokenizer(tiny_text_dir).backend_tokenizer


def _stream(backend, ids: list[int]) -> list[str]:
    detok = IncrementalDetokenizer(backend)
    deltas = [detok.push(i) for i in ids]
    return [*deltas, detok.flush()]


def test_multibyte_text_arrives_as_whole_characters(backend) -> None:
    text = "héllo wörld 🙂 日本語, Grüße!"
    ids = backend.encode(text, add_special_tokens=False).ids
    deltas = _stream(backend, ids)
    assert "".join(deltas) == text
    assert not any(REPLACEMENT in d for d in deltas)
    assert sum(1 for d in deltas if d) > 10  # released as it goes, not at the end


def test_random_ids_including_invalid_bytes_match_a_full_decode(backend) -> None:
    """Random models emit arbitrary byte tokens; the stream must still equal the full decode."""
    vocab = backend.get_vocab()
    byte_ids = [i for t, i in vocab.items() if t.startswith("<0x")]
    special = {i for i, t in backend.get_added_tokens_decoder().items() if t.special}
    pieces = [i for i in vocab.values() if i not in special and i not in byte_ids]
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 30))
        ids = [int(rng.choice(byte_ids)) if rng.random() < 0.6 else int(rng.choice(pieces)) for _ in range(n)]
        deltas = _stream(backend, ids)
        assert "".join(deltas) == backend.decode(ids, skip_special_tokens=False), ids


def test_incomplete_character_is_held_then_flushed(backend) -> None:
    first_byte = backend.token_to_id("<0xE6>")  # first of the three bytes of 日
    detok = IncrementalDetokenizer(backend)
    assert detok.push(first_byte) == ""
    assert detok.flush() == REPLACEMENT
    detok.reset()
    assert [detok.push(backend.token_to_id(f"<0x{b:02X}>")) for b in "日".encode()] == ["", "", ""]
    (piece,) = backend.encode("a", add_special_tokens=False).ids
    assert detok.push(piece) == "日a"  # released when the byte run is over
