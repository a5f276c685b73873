"""A prefix cache: the KV state of the system turn (system prompt + tool declarations), prefilled once.

The chat template puts the tools in the system turn, so every turn of a conversation with the same
system prompt and tools starts with the same tokens. The cache keeps the KV state of that token
prefix, keyed by its ids; a turn whose prompt starts with a stored prefix prefills only the rest.
A changed prompt or tool set no longer matches and its own prefix is prefilled and stored instead
(the least recently used entry goes). Restoring reuses the stored arrays: the decoder never writes
into a past tensor (``present`` is a new buffer each pass), so no copy is needed.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence

from assistant.engine.decoding.backend import DecoderBackend
from assistant.engine.decoding.decode import KvCache, Prefill
from assistant.engine.decoding.timings import Timings, now

log = logging.getLogger("assistant.engine")

MIN_PREFIX = 8  # shorter shared prefixes are not worth an entry


def shared_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading ids ``a`` and ``b`` have in common."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class PrefixCache:
    """KV states of system-turn prefixes by token ids (LRU of ``size`` entries: each holds tens of MB on E2B)."""

    def __init__(self, decoder: DecoderBackend, size: int = 1) -> None:
        self.decoder = decoder
        self.size = size
        self._entries: OrderedDict[tuple[int, ...], KvCache] = OrderedDict()
        self.hits = 0
        self.builds = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def lookup(self, ids: Sequence[int]) -> KvCache | None:
        """The longest stored prefix of ``ids`` that leaves at least one id to prefill, or None."""
        best: tuple[int, ...] | None = None
        for key in self._entries:
            if len(key) < len(ids) and (best is None or len(key) > len(best)) and shared_length(key, ids) == len(key):
                best = key
        if best is None:
            return None
        self._entries.move_to_end(best)
        self.hits += 1
        return self._entries[best]

    def restore(self, prompt: Prefill, system_ids: Sequence[int], timings: Timings | None = None) -> KvCache | None:
        """The cached state for ``prompt``; on a miss, prefill its part shared with ``system_ids`` and store it.

        ``system_ids``: the ids of the system turn alone (rendered without the conversation), or empty.
        Returns None when there is nothing worth caching (no system turn, or too short a shared prefix).
        A miss's prefill time goes to ``timings.prefix_s``.
        """
        found = self.lookup(prompt.ids)
        if found is not None:
            return found
        n = min(shared_length(system_ids, prompt.ids), len(prompt.ids) - 1)
        if n < MIN_PREFIX:
            return None
        start = now()
        _, cache = self.decoder.forward(prompt.embeds[:, :n], prompt.ple[:, :n], self.decoder.empty_cache())
        cache = self.decoder.keep(cache)  # llama.cpp: a saved copy of the state, for when the sequence moved on
        self._entries[tuple(prompt.ids[:n])] = cache
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        self.builds += 1
        spent = now() - start
        if timings is not None:
            timings.prefix_s += spent
        log.info("prefix cache: prefilled %d system-turn tokens in %.2f s", n, spent)
        return cache
