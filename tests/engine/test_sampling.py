"""Greedy and seeded sampling with Gemma's top-k / top-p filtering."""

from __future__ import annotations

from collections import Counter

import numpy as np

from assistant.engine.decoding.sampling import Sampler, SamplingParams, suppress


def _logits(values: list[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def test_greedy_is_argmax() -> None:
    sampler = Sampler(SamplingParams(sample=False))
    assert sampler([], _logits([0.1, 3.0, 2.9, -1.0])) == 1


def test_same_seed_same_tokens_different_seed_differs() -> None:
    rng = np.random.default_rng(1)
    rows = [rng.standard_normal(500).astype(np.float32) for _ in range(40)]
    params = SamplingParams(sample=True, temperature=1.0, top_k=64, top_p=0.95, seed=7)
    s1, s2, other = Sampler(params), Sampler(params), Sampler(SamplingParams(sample=True, seed=8))
    first = [s1([], r.copy()) for r in rows]
    assert first == [s2([], r.copy()) for r in rows]
    assert first != [other([], r.copy()) for r in rows]
    assert len(set(first)) > 10  # it really samples: not always the argmax


def test_top_k_limits_the_candidates() -> None:
    logits = _logits([5.0, 4.9, 4.8, 0.0, 0.0, 0.0, 0.0, 0.0])
    sampler = Sampler(SamplingParams(sample=True, top_k=2, top_p=1.0, seed=0))
    picks = Counter(sampler([], logits.copy()) for _ in range(400))
    assert set(picks) == {0, 1}


def test_top_p_keeps_the_smallest_set_reaching_the_mass() -> None:
    # probabilities ~ 0.5, 0.3, 0.2 (after softmax of logs): top_p 0.7 keeps the first two only.
    logits = np.log(_logits([0.5, 0.3, 0.2]))
    sampler = Sampler(SamplingParams(sample=True, top_k=64, top_p=0.7, seed=0))
    picks = Counter(sampler([], logits.copy()) for _ in range(600))
    assert set(picks) == {0, 1}
    assert 0.5 < picks[0] / 600 < 0.75  # renormalised 0.625


def test_low_temperature_approaches_greedy() -> None:
    logits = _logits([1.0, 1.5, 0.2])
    sampler = Sampler(SamplingParams(sample=True, temperature=0.01, top_k=64, top_p=1.0, seed=3))
    assert {sampler([], logits.copy()) for _ in range(50)} == {1}


def test_suppressed_tokens_are_never_chosen() -> None:
    sampler = Sampler(SamplingParams(sample=False), [suppress([1, 99999])])
    assert sampler([], _logits([0.0, 9.0, 1.0])) == 2
