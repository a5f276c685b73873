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
