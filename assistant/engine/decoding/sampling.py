"""Choosing the next token: greedy, or Gemma's sampling (temperature, top-k, top-p) with a seed.

Logits processors run first, in order: each takes the token ids so far and the logits
of the last position and returns (possibly the same, modified in place) logits. This is
the hook for suppressed tokens now and grammar constraints later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Logits = npt.NDArray[np.float32]
LogitsProcessor = Callable[[Sequence[int], Logits], Logits]


@dataclass(frozen=True)
class SamplingParams:
    """``sample=False`` is greedy; otherwise temperature, then top-k, then top-p, like transformers."""

    sample: bool = False
    temperature: float = 1.0
    top_k: int = 64
    top_p: float = 0.95
    seed: int = 0


def suppress(token_ids: Sequence[int]) -> LogitsProcessor:
    """A processor that forbids ``token_ids`` (generation_config's ``suppress_tokens``)."""
    ids = np.asarray(sorted(set(token_ids)), dtype=np.int64)

    def processor(_ids: Sequence[int], logits: Logits) -> Logits:
        logits[ids[ids < logits.shape[-1]]] = -np.inf
        return logits

    return processor


class Sampler:
    """Picks one token id from a logits row; keeps its own random generator for the seed."""

    def __init__(self, params: SamplingParams, processors: Sequence[LogitsProcessor] = ()) -> None:
        self.params = params
        self.processors = list(processors)
        self._rng = np.random.default_rng(params.seed)

    def __call__(self, ids: Sequence[int], logits: Logits) -> int:
        for processor in self.processors:
            logits = processor(ids, logits)
        if not self.params.sample:
            return int(np.argmax(logits))
        return self._sample(logits)

    def _sample(self, logits: Logits) -> int:
        p = self.params
        scores = logits.astype(np.float64) / p.temperature
        k = min(p.top_k, scores.shape[-1]) if p.top_k > 0 else scores.shape[-1]
        top = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[-1] else np.arange(scores.shape[-1])
        top = top[np.argsort(-scores[top], kind="stable")]
        kept = scores[top]
        kept = kept - kept[0]
        probs = np.exp(kept)
        probs /= probs.sum()
        if p.top_p < 1.0:
            # Keep the smallest prefix whose mass reaches top_p (always at least one token).
            cutoff = int(np.searchsorted(np.cumsum(probs), p.top_p) + 1)
            top, probs = top[:cutoff], probs[:cutoff] / probs[:cutoff].sum()
        return int(top[self._rng.choice(len(top), p=probs)])
