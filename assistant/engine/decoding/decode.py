"""The decode loop over ``embed_tokens`` + ``decoder_model_merged`` with a KV cache.

Contract (see docs in ``contract.py``): placeholder ids become pad for the embedding lookup;
``attention_mask`` is int64 ones over past + new tokens; ``position_ids`` continue from the
cache length (0-based); ``num_logits_to_keep`` = 1 when the graph declares it; every layer
that owns a cache gets ``past_key_values.{i}.*``, starting from zero-length tensors shaped
from the session metadata, and ``present.{i}.*`` is fed back as the next step's past.

One step is :meth:`Decoder.forward`; :func:`decode_tokens` drives it. A ``KvCache`` is a
plain value: pass one back in to skip re-prefilling a shared prefix. It is never written to:
ONNX Runtime returns each ``present`` as a numpy array over its own new buffer (no copy) and
reads numpy inputs in place, so the KV cache is not copied per step and a cache can be reused
by several continuations without copying it (IOBinding measured no faster: ``loopcost.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assistant.engine.decoding.backend import DecoderBackend, RowsResult
from assistant.engine.decoding.kvcache import Array, KvCache
from assistant.engine.decoding.timings import Timings, now
from assistant.engine.graphs.contract import kv_names
from assistant.engine.graphs.sessions import Graph
from assistant.engine.graphs.spec import ModelSpec


class Decoder:
    """Embedding lookups and single forward passes of the decoder; no sampling here."""

    def __init__(self, embed: Graph, decoder: Graph, spec: ModelSpec,
                 ple_lookup: Callable[[npt.NDArray[np.int64]], Array] | None = None) -> None:
        self.embed_graph = embed
        self.ple_lookup = ple_lookup  # per_layer_inputs from a store instead of the embed graph
        self.graph = decoder
        self.spec = spec
        self.past_names = kv_names(spec, "past_key_values")
        self.present_names = kv_names(spec, "present")
        self.output_names = ["logits", *self.present_names]
        names = decoder.input_names
        self.has_keep = "num_logits_to_keep" in names
        self.has_cache_branch = "use_cache_branch" in names
        self._branch_shape = () if not self.has_cache_branch or not decoder.input("use_cache_branch").shape else (1,)
        self.embeds_dtype = decoder.dtype("inputs_embeds")
        self.ple_dtype = decoder.dtype("per_layer_inputs")
        self._placeholders = np.asarray(spec.placeholder_ids, dtype=np.int64)
        self._pad = spec.text.pad_token_id
        self._ones = np.ones((1, 1024), dtype=np.int64)
        self._keep_one = np.array(1, dtype=np.int64)

    def empty_cache(self) -> KvCache:
        """Zero-length past tensors: batch 1, other symbolic dims 0, numeric dims kept."""
        arrays: dict[str, Array] = {}
        for name in self.past_names:
            info = self.graph.input(name)
            shape = [1 if i == 0 else d if isinstance(d, int) else 0 for i, d in enumerate(info.shape)]
            arrays[name] = np.zeros(shape, dtype=np.dtype(info.dtype))
        return KvCache(arrays, 0)

    def embed(self, ids: Sequence[int], skip: int = 0) -> tuple[Array, Array]:
        """``inputs_embeds`` and ``per_layer_inputs`` for ``ids``, placeholders looked up as pad.

        ``skip``: leading positions left as zeros, not looked up (their KV state is restored from a cache).
        """
        if skip > 0:
            tail = self.embed(ids[skip:])
            full = tuple(np.zeros((1, len(ids), *t.shape[2:]), dtype=t.dtype) for t in tail)
            for whole, part in zip(full, tail, strict=True):
                whole[:, skip:] = part
            return full[0], full[1]
        arr = np.asarray(ids, dtype=np.int64).reshape(1, -1)
        if self._placeholders.size:
            arr = np.where(np.isin(arr, self._placeholders), self._pad, arr)
        if self.ple_lookup is None:
            embeds, ple = self.embed_graph.run({"input_ids": arr}, ["inputs_embeds", "per_layer_inputs"])
            return embeds, ple
        (embeds,) = self.embed_graph.run({"input_ids": arr}, ["inputs_embeds"])
        return embeds, self.ple_lookup(arr)

    def _mask(self, total: int) -> Array:
        if self._ones.shape[1] < total:
            self._ones = np.ones((1, max(total, 2 * self._ones.shape[1])), dtype=np.int64)
        return self._ones[:, :total]

    def forward(self, embeds: Array, ple: Array, cache: KvCache,
                all_logits: bool = False) -> tuple[npt.NDArray[np.float32], KvCache]:
        """Run new positions through the decoder: logits ``[S or 1, vocab]`` (float32) and the grown cache."""
        new = embeds.shape[1]
        feeds: dict[str, Array] = {
            "inputs_embeds": embeds.astype(self.embeds_dtype, copy=False),
            "per_layer_inputs": ple.astype(self.ple_dtype, copy=False),
            "attention_mask": self._mask(cache.length + new),
            "position_ids": np.arange(cache.length, cache.length + new, dtype=np.int64).reshape(1, new),
        }
        if self.has_keep:
            feeds["num_logits_to_keep"] = np.array(0, dtype=np.int64) if all_logits else self._keep_one
        if self.has_cache_branch:
            feeds["use_cache_branch"] = np.full(self._branch_shape, cache.length > 0, dtype=np.bool_)
        feeds.update(cache.arrays)
        outputs = self.graph.run(feeds, self.output_names, shrink=new > 1)  # a prefill's arena growth is given back
        logits = outputs[0][0]
        if not all_logits:
            logits = logits[-1:]
        arrays = dict(zip(self.past_names, outputs[1:], strict=True))
        return logits.astype(np.float32, copy=False), KvCache(arrays, cache.length + new)

    def forward_rows(self, rows: list[list[int]], cache: KvCache) -> RowsResult:
        """One pass over ``rows`` (batch K, right-padded) after a shared ``cache``: all logits, and ``pick``."""
        k, width = len(rows), max(len(r) for r in rows)
        pad = self.spec.text.pad_token_id
        flat = [t for r in rows for t in [*r, *[pad] * (width - len(r))]]
        embeds, ple = self.embed(flat)
        past = cache.length
        mask = np.zeros((k, past + width), dtype=np.int64)
        for i, r in enumerate(rows):
            mask[i, : past + len(r)] = 1
        feeds: dict[str, Array] = {
            "inputs_embeds": embeds.reshape(k, width, *embeds.shape[2:]).astype(self.embeds_dtype, copy=False),
            "per_layer_inputs": ple.reshape(k, width, *ple.shape[2:]).astype(self.ple_dtype, copy=False),
            "attention_mask": mask,
            "position_ids": np.tile(np.arange(past, past + width, dtype=np.int64), (k, 1)),
        }
        if self.has_keep:
            feeds["num_logits_to_keep"] = np.array(0, dtype=np.int64)
        if self.has_cache_branch:
            feeds["use_cache_branch"] = np.full(self._branch_shape, past > 0, dtype=np.bool_)
        feeds.update({name: np.repeat(arr, k, axis=0) for name, arr in cache.arrays.items()})
        outputs = self.graph.run(feeds, self.output_names)
        presents = dict(zip(self.past_names, outputs[1:], strict=True))

        def pick(row: int, length: int) -> KvCache:
            """Row ``row`` of the presents, cut to its ``length`` real positions."""
            return KvCache({n: np.ascontiguousarray(a[row : row + 1, :, :length]) for n, a in presents.items()}, length)

        return outputs[0].astype(np.float32, copy=False), pick

    def keep(self, cache: KvCache) -> KvCache:
        """A cache is a value already (no pass writes into a past tensor)."""
        return cache


@dataclass
class Prefill:
    """A prompt ready for the decoder: its ids and embeddings, after any audio rows were scattered in."""

    ids: list[int]
    embeds: Array
    ple: Array


Chooser = Callable[[Sequence[int], npt.NDArray[np.float32]], int]


def decode_tokens(
    decoder: DecoderBackend,
    prompt: Prefill,
    choose: Chooser,
    stop_ids: Sequence[int],
    max_new_tokens: int,
    timings: Timings,
    cache: KvCache | None = None,
    on_logits: Callable[[npt.NDArray[np.float32]], None] | None = None,
) -> Iterator[int]:
    """Prefill ``prompt`` (after ``cache``, if given) and yield generated ids until a stop id or the limit.

    A ``cache`` must hold exactly the first ``cache.length`` prompt positions; only the rest is
    prefilled. The stop id itself is not yielded; ``timings.stop_reason`` says why it ended.
    """
    cache = cache if cache is not None else decoder.empty_cache()
    skip = cache.length
    if skip >= len(prompt.ids):
        raise ValueError(f"the cache covers {skip} positions of a {len(prompt.ids)}-token prompt")
    ids = list(prompt.ids)
    stops = frozenset(stop_ids)
    start = now()
    logits, cache = decoder.forward(prompt.embeds[:, skip:], prompt.ple[:, skip:], cache)
    timings.prefill_s = now() - start
    timings.prompt_tokens = len(prompt.ids) - skip
    timings.cached_tokens = skip
    step_start = start
    for produced in range(max_new_tokens):
        row = logits[-1]
        if on_logits is not None:
            on_logits(row)
        token = choose(ids, row.copy())
        stamp = now()
        if produced == 0:
            timings.first_token_s = stamp - start
        else:
            timings.token_s.append(stamp - step_start)
        if token in stops:
            timings.stop_reason = f"stop token {token}"
            return
        timings.generated_tokens += 1
        ids.append(token)
        yield token
        if produced + 1 == max_new_tokens:
            break
        step_start = now()
        embeds, ple = decoder.embed([token])
        logits, cache = decoder.forward(embeds, ple, cache)
    timings.stop_reason = "token limit"
