"""``LlamaDecoder``: the text decoder on llama.cpp's kernels (``model.backend = "llama.cpp"``).

A GGUF of the text decoder runs through llama-cpp-python's C API (``llama_decode`` on a
``llama_batch``), behind the same seam as the ONNX decoder (``backend.py``). Text positions go to
llama.cpp as token ids (it looks up the embedding, scales it by sqrt(hidden) and adds the per-layer
rows); placeholder positions (the audio span) go as embedding rows, for which Gemma 4's graph skips
the scale and takes the pad token's per-layer rows, as the ONNX contract does. So ``embed`` returns
zero rows (the audio rows are scattered into them) and the ids themselves as ``per_layer_inputs``.

One llama.cpp context holds the engine's sequence (``seq 0``), and for a batched pass over closed-set
options (``forward_rows``) a sequence per option, sharing the prefix's cells (``llama_memory_seq_cp``,
unified KV). A :class:`LlamaCache` names the positions it covers (token ids, or digests of embedding
rows with the rows themselves), so it stays a value: a cache whose positions are a prefix of what the
sequence holds is reused by removing what follows (``llama_memory_seq_rm``; the sliding-window layers
keep every position, ``swa_full``, so a cut never lands in an evicted window); a picked option's cache
is copied from its row's sequence; any other is restored from its saved state (``keep``, used by the
prefix cache: ``llama_state_seq_get_data``) or replayed from the positions it names. The per-layer
embedding table is read lazily (``LLAMA_LAZY_MODE_ON``): only the rows of tokens used become resident.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from assistant.engine.decoding.backend import RowsResult
from assistant.engine.decoding.kvcache import Array, KvCache
from assistant.engine.decoding.llamanative import quiet
from assistant.engine.graphs.spec import ModelSpec
from assistant.errors import AssistantError

Logits = npt.NDArray[np.float32]
ROW_SEQS = 15  # sequences beside seq 0 for one batched pass over closed-set options


class Row:
    """An embedding row at one position: equal to another by its content's digest."""

    __slots__ = ("data", "digest")

    def __init__(self, data: npt.NDArray[np.float32]) -> None:
        self.data = data
        self.digest = hashlib.blake2b(data.tobytes(), digest_size=16).digest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Row) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)


Key = int | Row


@dataclass
class LlamaCache(KvCache):
    """What llama.cpp's sequence holds after these positions (``keys``); ``state``: a saved copy of it."""

    keys: tuple[Key, ...] = ()
    state: bytes | None = field(default=None, repr=False)

    def copy(self) -> LlamaCache:
        return self  # never written to: a pass returns a new value


def _library() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise AssistantError(f'model.backend = "llama.cpp" needs llama-cpp-python ({exc}); '
                             "install it with scripts/setup --test") from exc
    return llama_cpp


class LlamaDecoder:
    """Embedding-free passes of a GGUF decoder through llama.cpp; no sampling here."""

    def __init__(self, gguf: Path, spec: ModelSpec, threads: int = 0, context: int = 4096, repack: bool = True,
                 batch: int = 128) -> None:
        lib = self._lib = _library()
        if not gguf.is_file():
            raise AssistantError(f"{gguf}: no GGUF here (model.gguf; run 'assistant models pull' or set the path)")
        quiet(lib)
        lib.llama_backend_init()
        mparams = lib.llama_model_default_params()
        mparams.use_extra_bufts = repack
        mparams.lazy_mode = lib.LLAMA_LAZY_MODE_ON  # the per-layer embedding table: rows read when used, not resident
        self._model = lib.llama_model_load_from_file(str(gguf).encode(), mparams)
        if not self._model:
            raise AssistantError(f"{gguf}: llama.cpp could not load this GGUF")
        self.spec = spec
        self.embeds_dtype: np.dtype[np.generic] = np.dtype(np.float32)
        self.gguf = gguf
        self.width = int(lib.llama_model_n_embd(self._model))
        self.vocab = int(lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(self._model)))
        if self.width != spec.text.hidden_size or self.vocab != spec.text.vocab_size:
            lib.llama_model_free(self._model)
            raise AssistantError(f"{gguf}: hidden size {self.width} and vocabulary {self.vocab} do not match the model "
                                 f"directory's ({spec.text.hidden_size}, {spec.text.vocab_size})")
        threads = threads or (os.cpu_count() or 1)
        cparams = lib.llama_context_default_params()
        cparams.n_ctx, cparams.n_batch, cparams.n_ubatch, cparams.n_seq_max = context, batch, batch, 1 + ROW_SEQS
        cparams.kv_unified = True  # the rows of a batched pass share the prefix's cells
        cparams.n_threads, cparams.n_threads_batch = threads, threads
        cparams.swa_full = True  # every sliding-window position kept: the sequence can be cut anywhere
        cparams.no_perf = True
        self._ctx = lib.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            lib.llama_model_free(self._model)
            raise AssistantError(f"{gguf}: llama.cpp could not make a context of {context} positions")
        self.context = int(lib.llama_n_ctx(self._ctx))
        self.batch = batch
        self._mem = lib.llama_get_memory(self._ctx)
        self._tokens = lib.llama_batch_init(batch, 0, 1)
        self._rows = lib.llama_batch_init(batch, self.width, 1)
        self._multi = lib.llama_batch_init(batch, 0, 1)  # forward_rows: a sequence per row
        self._held: tuple[tuple[Key, ...], dict[int, tuple[int, ...]]] | None = None
        for b in (self._tokens, self._rows, self._multi):
            for i in range(batch):
                b.n_seq_id[i] = 1
                b.seq_id[i][0] = 0
        self._placeholders = np.asarray(spec.placeholder_ids, dtype=np.int64)
        self._resident: list[Key] = []  # what seq 0 holds, position by position
        self._last: LlamaCache | None = None  # the cache the last pass returned (resident by construction)

    def close(self) -> None:
        """Free the context and the weights (the decoder is unusable after)."""
        lib = self._lib
        if getattr(self, "_ctx", None):
            lib.llama_batch_free(self._tokens)
            lib.llama_batch_free(self._rows)
            lib.llama_batch_free(self._multi)
            lib.llama_free(self._ctx)
            lib.llama_model_free(self._model)
            self._ctx = None

    def __del__(self) -> None:
        self.close()

    def empty_cache(self) -> LlamaCache:
        return LlamaCache({}, 0)

    def embed(self, ids: Any, skip: int = 0) -> tuple[Array, Array]:
        """Zero rows (audio rows are scattered in at placeholders) and the ids, for ``forward``."""
        arr = np.asarray(ids, dtype=np.int64).reshape(1, -1)
        return np.zeros((1, arr.shape[1], self.width), dtype=np.float32), arr

    def forward(self, embeds: Array, ple: Array, cache: KvCache, all_logits: bool = False) -> tuple[Logits, KvCache]:
        """Run new positions after ``cache``: logits ``[S or 1, vocab]`` (float32) and the grown cache."""
        ids = np.asarray(ple, dtype=np.int64).reshape(-1)
        rows = np.asarray(embeds, dtype=np.float32).reshape(len(ids), -1)
        keys: list[Key] = [Row(rows[i]) if row else int(t) for i, (t, row) in
                           enumerate(zip(ids, np.isin(ids, self._placeholders), strict=True))]
        base = self._sync(cache)
        logits = self._run(keys, all_logits)
        out = LlamaCache({}, base.length + len(keys), (*base.keys, *keys))
        self._last = out
        return logits, out

    def forward_rows(self, rows: list[list[int]], cache: KvCache) -> RowsResult:
        """``rows`` after ``cache`` in one batch (each row a sequence of its own sharing the prefix's cells, up to
        ``ROW_SEQS`` rows a batch): logits ``[K, width, vocab]`` and ``pick``, whose cache is copied from its row."""
        base = self._sync(cache)
        lib, past = self._lib, base.length
        out = np.zeros((len(rows), max(len(r) for r in rows), self.vocab), dtype=np.float32)
        groups: list[list[int]] = [[]]
        for i, row in enumerate(rows):
            if len(groups[-1]) == ROW_SEQS or sum(len(rows[j]) for j in groups[-1]) + len(row) > self.batch:
                groups.append([])
            groups[-1].append(i)
        for group in groups:
            self._drop_rows()
            total = sum(len(rows[i]) for i in group)
            if past + total > self.context:
                raise AssistantError(f"scoring needs {past + total} positions: more than model.context = {self.context}")
            batch = self._multi
            batch.n_tokens = total
            k = 0
            for seq, i in enumerate(group, 1):
                lib.llama_memory_seq_cp(self._mem, 0, seq, -1, -1)
                for j, token in enumerate(rows[i]):
                    batch.token[k], batch.pos[k], batch.seq_id[k][0], batch.logits[k] = token, past + j, seq, 1
                    k += 1
            code = lib.llama_decode(self._ctx, batch)
            if code != 0:
                self._held = (base.keys, {seq: () for seq in range(1, len(group) + 1)})
                self._drop_rows()
                raise AssistantError(f"llama.cpp failed to score {len(group)} options (llama_decode returned {code})")
            logits = np.ctypeslib.as_array(lib.llama_get_logits(self._ctx), shape=(total, self.vocab))
            k = 0
            for i in group:
                out[i, : len(rows[i])] = logits[k : k + len(rows[i])]
                k += len(rows[i])
            self._held = (base.keys, {seq: tuple(rows[i]) for seq, i in enumerate(group, 1)})

        def pick(row: int, length: int) -> KvCache:
            return LlamaCache({}, length, (*base.keys, *rows[row][: length - past]))

        return out, pick

    def _drop_rows(self) -> None:
        """Free the sequences a batched pass left (kept until the next pass, for the picked row)."""
        if self._held is not None:
            for seq in self._held[1]:
                self._lib.llama_memory_seq_rm(self._mem, seq, -1, -1)
            self._held = None

    def _from_rows(self, cache: LlamaCache, common: int) -> int:
        """Copy ``cache``'s positions from the batched pass's row that holds them; how many seq 0 holds now."""
        assert self._held is not None
        keys, seqs = self._held
        p, n = len(keys), cache.length
        if common < p or tuple(self._resident[:p]) != keys:
            return common
        tail = tuple(cache.keys[p:n])
        for seq, toks in seqs.items():
            if toks[: n - p] == tail:
                self._lib.llama_memory_seq_rm(self._mem, 0, p, -1)
                self._lib.llama_memory_seq_cp(self._mem, seq, 0, p, n)
                self._resident = list(cache.keys)
                return n
        return common

    def keep(self, cache: KvCache) -> KvCache:
        """``cache`` with a saved copy of its state, restored when it is no longer what the sequence holds."""
        base = self._sync(cache)
        lib = self._lib
        size = lib.llama_state_seq_get_size(self._ctx, 0)
        buf = (ctypes.c_uint8 * size)()
        got = lib.llama_state_seq_get_data(self._ctx, buf, size, 0)
        return LlamaCache({}, base.length, base.keys, bytes(buf)[:got])

    def _sync(self, cache: KvCache) -> LlamaCache:
        """Make sequence 0 hold exactly ``cache``'s positions: cut, restore or replay."""
        if not isinstance(cache, LlamaCache):
            raise AssistantError("the llama.cpp decoder was given another backend's KV cache")
        if cache is self._last:
            return cache
        n = cache.length
        common = 0
        limit = min(n, len(self._resident))
        while common < limit and self._resident[common] == cache.keys[common]:
            common += 1
        lib = self._lib
        if common < n and self._held is not None:
            common = self._from_rows(cache, common)
        self._drop_rows()
        if common < n and cache.state is not None:
            lib.llama_memory_seq_rm(self._mem, 0, -1, -1)
            self._resident = []
            buf = (ctypes.c_uint8 * len(cache.state)).from_buffer_copy(cache.state)
            if lib.llama_state_seq_set_data(self._ctx, buf, len(cache.state), 0) == 0:
                raise AssistantError("llama.cpp could not restore a saved KV state")
            self._resident, common = list(cache.keys), n
        if not lib.llama_memory_seq_rm(self._mem, 0, common, -1):
            raise AssistantError("llama.cpp could not cut its KV cache back")
        del self._resident[common:]
        if common < n:
            self._run(list(cache.keys[common:]), False, want=False)
        self._last = cache
        return cache

    def _run(self, keys: list[Key], all_logits: bool, want: bool = True) -> Logits:
        """Append ``keys`` to the sequence in batches (ids and rows apart); the logits asked for."""
        if len(self._resident) + len(keys) > self.context:
            raise AssistantError(f"the prompt and reply need {len(self._resident) + len(keys)} positions: more than "
                                 f"model.context = {self.context}")
        outs: list[Logits] = []
        start = 0
        while start < len(keys):
            is_row = isinstance(keys[start], Row)
            end = start + 1
            while end < len(keys) and end - start < self.batch and isinstance(keys[end], Row) == is_row:
                end += 1
            last = end == len(keys)
            outs.extend(self._decode(keys[start:end], is_row, all_logits and want, last and want))
            start = end
        if not want:
            return np.zeros((0, self.vocab), dtype=np.float32)
        return np.concatenate(outs, axis=0) if len(outs) > 1 else outs[0]

    def _decode(self, keys: list[Key], is_row: bool, every: bool, last: bool) -> list[Logits]:
        lib, n, past = self._lib, len(keys), len(self._resident)
        batch = self._rows if is_row else self._tokens
        batch.n_tokens = n
        pos = np.ctypeslib.as_array(batch.pos, shape=(n,))
        pos[:] = np.arange(past, past + n, dtype=np.int32)
        flags = np.ctypeslib.as_array(batch.logits, shape=(n,))
        flags[:] = 1 if every else 0
        if last:
            flags[-1] = 1
        if is_row:
            data = np.ctypeslib.as_array(batch.embd, shape=(n, self.width))
            data[:] = np.stack([k.data for k in keys if isinstance(k, Row)])
        else:
            np.ctypeslib.as_array(batch.token, shape=(n,))[:] = np.asarray(keys, dtype=np.int32)
        code = lib.llama_decode(self._ctx, batch)
        if code != 0:
            lib.llama_memory_seq_rm(self._mem, 0, past, -1)
            raise AssistantError(f"llama.cpp failed to decode {n} positions (llama_decode returned {code})")
        self._resident.extend(keys)
        if not (every or last):
            return []
        count = n if every else 1
        ptr = lib.llama_get_logits(self._ctx)
        return [np.ctypeslib.as_array(ptr, shape=(count, self.vocab)).copy()]
