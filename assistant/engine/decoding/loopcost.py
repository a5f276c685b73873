"""What the decode loop costs beyond the decoder itself: three ways to run the same greedy steps.

- ``bare``: ``session.run`` with prebuilt numpy feeds, presents fed back, argmax of the last row;
  the floor any Python loop can reach.
- ``plain``: :meth:`Decoder.forward` (what the engine runs). With ONNX Runtime >= 1.16 the outputs
  come back as numpy arrays over ORT's own buffers (no copy) and numpy inputs are read in place,
  so a present is fed back as the next past without any copy of the KV cache.
- ``iobinding``: an ``IOBinding`` per step, outputs allocated by ORT and kept as ``OrtValue``
  (never numpy), fed back with ``bind_ortvalue_input``; only the logits row is read.

The exported graphs concatenate past and new positions inside, so a present is a new buffer every
step whichever way is used; what differs is the Python and binding overhead, which
``assistant bench decode-loop`` reports as ``overhead_ms_per_step`` against ``bare``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort

from assistant.engine.decoding.decode import Array, Decoder, KvCache
from assistant.engine.decoding.timings import now


@dataclass
class LoopRun:
    """Greedy ids, each step's last logits row and seconds, from one way of looping."""

    tokens: list[int] = field(default_factory=list)
    logits: list[Array] = field(default_factory=list)
    step_s: list[float] = field(default_factory=list)


def _static_feeds(decoder: Decoder, embeds: Array, ple: Array, length: int) -> dict[str, Array]:
    feeds: dict[str, Array] = {
        "inputs_embeds": embeds.astype(decoder.embeds_dtype, copy=False),
        "per_layer_inputs": ple.astype(decoder.ple_dtype, copy=False),
        "attention_mask": np.ones((1, length + embeds.shape[1]), dtype=np.int64),
        "position_ids": np.arange(length, length + embeds.shape[1], dtype=np.int64).reshape(1, -1),
    }
    if decoder.has_keep:
        feeds["num_logits_to_keep"] = np.array(1, dtype=np.int64)
    if decoder.has_cache_branch:
        feeds["use_cache_branch"] = np.full(decoder._branch_shape, length > 0, dtype=np.bool_)
    return feeds


def run_plain(decoder: Decoder, cache: KvCache, first: int, steps: int) -> LoopRun:
    """``steps`` greedy steps through :meth:`Decoder.forward` from ``cache``, starting with token ``first``."""
    out, token = LoopRun(), first
    for _ in range(steps):
        start = now()
        logits, cache = decoder.forward(*decoder.embed([token]), cache)
        token = int(np.argmax(logits[-1]))
        out.step_s.append(now() - start)
        out.tokens.append(token)
        out.logits.append(logits[-1].copy())
    return out


def run_bare(decoder: Decoder, cache: KvCache, first: int, steps: int) -> LoopRun:
    """The same steps as :func:`run_plain` with one bare ``session.run`` each (embeddings looked up before timing)."""
    out, token, past, length = LoopRun(), first, dict(cache.arrays), cache.length
    session = decoder.graph.session
    for _ in range(steps):
        feeds = _static_feeds(decoder, *decoder.embed([token]), length)
        feeds.update(past)
        start = now()
        results = session.run(decoder.output_names, feeds)
        token = int(np.argmax(results[0][0, -1]))
        out.step_s.append(now() - start)
        past = dict(zip(decoder.past_names, results[1:], strict=True))
        length += 1
        out.tokens.append(token)
        out.logits.append(np.asarray(results[0][0, -1], dtype=np.float32).copy())
    return out


def run_iobinding(decoder: Decoder, cache: KvCache, first: int, steps: int) -> LoopRun:
    """The same steps with IOBinding: presents stay ``OrtValue``s and are bound as the next pasts."""
    out, token, length = LoopRun(), first, cache.length
    past: dict[str, ort.OrtValue] = {k: ort.OrtValue.ortvalue_from_numpy(v) for k, v in cache.arrays.items()}
    session = decoder.graph.session
    for _ in range(steps):
        start = now()
        binding = session.io_binding()
        for name, value in _static_feeds(decoder, *decoder.embed([token]), length).items():
            binding.bind_cpu_input(name, value)
        for name, ortvalue in past.items():
            binding.bind_ortvalue_input(name, ortvalue)
        for name in decoder.output_names:
            binding.bind_output(name, "cpu")
        session.run_with_iobinding(binding)
        values = binding.get_outputs()
        row = values[0].numpy()[0, -1]
        token = int(np.argmax(row))
        out.step_s.append(now() - start)
        past = dict(zip(decoder.past_names, values[1:], strict=True))
        length += 1
        out.tokens.append(token)
        out.logits.append(np.asarray(row, dtype=np.float32).copy())
    return out


LOOPS: dict[str, Callable[[Decoder, KvCache, int, int], LoopRun]] = {
    "bare": run_bare,
    "plain": run_plain,
    "iobinding": run_iobinding,
}
