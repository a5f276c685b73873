"""Incremental detokenization: token ids in, text deltas out, whole characters only.

Gemma's tokenizer falls back to single bytes (``<0xNN>`` tokens) for rare characters, and decodes
each run of byte tokens as a whole: a valid run becomes its characters, an invalid one (a model can
produce that) becomes one U+FFFD per byte. So text is held back while the newest token is a byte
token, and released once the run is over. Each step decodes only a short window: the last released
chunk as context plus the new tokens. ``tokenizers``' own ``DecodeStream`` raises on invalid runs,
which is why it is not used here.
"""

from __future__ import annotations

from typing import Any

REPLACEMENT = "\ufffd"


def byte_token_ids(tokenizer: Any) -> frozenset[int]:
    """Ids of the byte-fallback tokens ``<0x00>`` .. ``<0xFF>`` of a ``tokenizers.Tokenizer``."""
    ids = (tokenizer.token_to_id(f"<0x{b:02X}>") for b in range(256))
    return frozenset(i for i in ids if i is not None)


class IncrementalDetokenizer:
    """Feed ids with :meth:`push`, then :meth:`flush`; the deltas concatenate to ``decode(ids)``."""

    def __init__(self, tokenizer: Any) -> None:
        """``tokenizer``: a ``tokenizers.Tokenizer`` (a fast tokenizer's ``backend_tokenizer``)."""
        self._tokenizer = tokenizer
        self._byte_ids = byte_token_ids(tokenizer)
        self.reset()

    def reset(self) -> None:
        """Start a new, unrelated piece of text."""
        self._ids: list[int] = []
        self._prefix = 0  # start of the context window (the last released chunk)
        self._read = 0  # everything before this has been released

    def _decode(self, ids: list[int]) -> str:
        return str(self._tokenizer.decode(ids, skip_special_tokens=False))

    def push(self, token_id: int) -> str:
        """The text that ``token_id`` completes ('' while a character is still incomplete)."""
        self._ids.append(token_id)
        return self._release(final=False)

    def flush(self) -> str:
        """Whatever is still held back (an incomplete character at the very end)."""
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        if self._read == len(self._ids) or (not final and self._ids[-1] in self._byte_ids):
            return ""
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        self._prefix, self._read = self._read, len(self._ids)
        return after[len(before) :]
