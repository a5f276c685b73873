"""Tiny models for the perf tests, built once per session with the engine branch's builder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def perf_tiny_dirs(tmp_path_factory) -> dict[str, Path]:
    """``{"text": dir, "window": dir}``: tiny random Gemma 4 models in fp32 and q4."""
    from models.tiny_gemma4 import build

    root = tmp_path_factory.mktemp("perf_tiny")
    return {name: build(root / name, name, "fp32,q4") for name in ("text", "window")}


@pytest.fixture(scope="session")
def perf_tiny_audio_q4(tmp_path_factory) -> Path:
    """The tiny audio model in q4 only (what the default config loads)."""
    from models.tiny_gemma4 import build

    return build(tmp_path_factory.mktemp("perf_audio") / "audio", "audio", "q4")


@pytest.fixture(scope="session")
def faithful_small(tmp_path_factory) -> Path:
    """The shape-faithful builder at a reduced size: 7 layers, 4096 tokens, a 1-layer conformer, int8 PLE store."""
    from models.shape_faithful_e2b import build

    return build(tmp_path_factory.mktemp("faithful") / "e2b", layers=7, vocab=4096, audio_layers=1, head="fp32", ple_bits=8)
