"""Incremental detokenization: token ids in, text deltas out, whole characters only.

Gemma's tokenizer falls back to single bytes for rare characters, so one character may
span several tokens; a delta is only released once its bytes form valid UTF-8. Built on
``tokenizers.decoders.DecodeStream`` (Rust), which keeps a short prefix window so that
leading-space handling matches a full decode.
"""

from __future__ import annotations

from typing import Any

from tokenizers.decoders import DecodeStream


class IncrementalDetokenizer:
    """Feed ids one at a time with :meth:`push`; the deltas concatenate to ``decode(ids)``."""

    def __init__(self, tokenizer: Any) -> None:
        """``tokenizer``: a ``tokenizers.Tokenizer`` (a fast tokenizer's ``backend_tokenizer``)."""
        self._tokenizer = tokenizer
        self._stream = DecodeStream(skip_special_tokens=False)

    def push(self, token_id: int) -> str:
        """The text that ``token_id`` completes ('' while a character is still incomplete)."""
        return self._stream.step(self._tokenizer, token_id) or ""

    def reset(self) -> None:
        """Start a new, unrelated piece of text."""
        self._stream = DecodeStream(skip_special_tokens=False)
