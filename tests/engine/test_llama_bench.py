"""``bench engine --backend llama.cpp``: the engine on llama.cpp beside llama.cpp itself, on the tiny real-weight GGUF.

Plumbing only (a tiny model says nothing about speed): both sides report, the ratios are engine / peer, the
backend and repacking are named, and the full benchmark (which reads ONNX graphs) is refused in one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.benchmarks import peer
from assistant.errors import AssistantError
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def test_side_by_side_on_the_llama_cpp_backend(tiny_model_dir, tiny_gguf, tmp_path: Path, clean_home) -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (scripts/setup --test)")
    try:
        peer.check_native()
    except AssistantError as exc:
        pytest.skip(str(exc))
    gguf = str(tiny_gguf("llama", "q4_0"))
    result = run_cli("bench", "engine", "--model", str(tiny_model_dir("llama")), "--backend", "llama.cpp", "--gguf", gguf,
                     "--no-repack", "--steps", "3", "--peer", "llama.cpp", "--peer-model", gguf, "--peer-rounds", "1",
                     "--peer-only", "--threads", "1", "--cache-dir", str(tmp_path / "cache"), "--json",
                     env={"HOME": str(clean_home)}, timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for side in ("engine", "peer"):
        for key in ("prefill_tok_s", "decode_tok_s", "peak_rss_mb"):
            assert data[f"{side}_side_{key}"] > 0, (side, key)
    assert data["decode_vs_peer"] == pytest.approx(data["engine_side_decode_tok_s"] / data["peer_side_decode_tok_s"])
    assert data["backend"].startswith("llama.cpp (") and "repack off" in data["backend"]
    assert data["peer_repack"] is False


def test_the_full_benchmark_needs_onnx(tiny_model_dir, clean_home) -> None:
    result = run_cli("bench", "engine", "--model", str(tiny_model_dir("llama")), "--backend", "llama.cpp",
                     env={"HOME": str(clean_home)})
    assert result.returncode == 2 and "--peer-only" in result.stderr and "Traceback" not in result.stderr
