"""The decoder seam: what the engine needs of a decoder backend, whatever runs the layers.

Two backends implement it: :class:`~assistant.engine.decoding.decode.Decoder` (ONNX Runtime graphs,
``model.backend = "onnxruntime"``) and :class:`~assistant.engine.decoding.llamadecoder.LlamaDecoder`
(a GGUF through llama.cpp's C API, ``model.backend = "llama.cpp"``). Both take and return the same
values: ``embed(ids)`` gives ``(inputs_embeds, per_layer_inputs)`` (the audio rows are scattered into
``inputs_embeds`` at the placeholder positions), ``forward`` runs new positions after a ``KvCache`` and
returns the logits and the grown cache, and a cache is a value that can be passed in again to skip its
prefix. What ``per_layer_inputs`` holds is the backend's own affair (ONNX: the per-layer rows; llama.cpp:
the token ids, looked up inside llama.cpp); callers only slice and concatenate it along positions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from assistant.engine.decoding.kvcache import Array, KvCache
from assistant.engine.graphs.spec import ModelSpec

# ``pick(row, length)``: the cache after row ``row`` of a batched pass, cut to ``length`` positions
RowsResult = tuple[npt.NDArray[np.float32], Callable[[int, int], KvCache]]


class DecoderBackend(Protocol):
    """Embedding lookups and forward passes of the text decoder; no sampling here."""

    spec: ModelSpec
    embeds_dtype: np.dtype[np.generic]

    def empty_cache(self) -> KvCache: ...

    def embed(self, ids: Sequence[int], skip: int = 0) -> tuple[Array, Array]: ...

    def forward(self, embeds: Array, ple: Array, cache: KvCache,
                all_logits: bool = False) -> tuple[npt.NDArray[np.float32], KvCache]: ...

    def forward_rows(self, rows: list[list[int]], cache: KvCache) -> RowsResult:
        """One pass over ``rows`` (token ids, each after ``cache``): logits ``[K, width, vocab]`` and ``pick``."""
        ...

    def keep(self, cache: KvCache) -> KvCache:
        """``cache`` made safe to hold across later passes (the prefix cache stores what this returns)."""
        ...
