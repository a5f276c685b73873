"""This machine's memory read bandwidth: the ceiling for a memory-bound decode step."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Bandwidth:
    gb_per_s: float
    threads: int
    buffer_mb: int


def measure_read_bandwidth(buffer_mb: int = 512, threads: int = 1, repeats: int = 5) -> Bandwidth:
    """Best of ``repeats`` full reads of a buffer much larger than the caches.

    Each thread sums its own slice (numpy releases the GIL in the reduction), so with
    several threads this measures what the cores can pull together, as a decode step does.
    """
    n = buffer_mb * 1024 * 1024 // 8
    data = np.ones(n, dtype=np.float64)  # touched, so every page is resident
    slices = np.array_split(data, threads)
    best = float("inf")
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in range(repeats):
            start = time.perf_counter()
            list(pool.map(np.sum, slices))
            best = min(best, time.perf_counter() - start)
    return Bandwidth(gb_per_s=data.nbytes / best / 1e9, threads=threads, buffer_mb=buffer_mb)


def best_read_bandwidth(max_threads: int, buffer_mb: int = 512) -> Bandwidth:
    """The highest read bandwidth over 1..max_threads threads."""
    results = [measure_read_bandwidth(buffer_mb, t) for t in range(1, max(1, max_threads) + 1)]
    return max(results, key=lambda b: b.gb_per_s)
