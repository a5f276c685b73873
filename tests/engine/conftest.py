"""Tiny random Gemma 4 models in the published ONNX layout, built once per test session.

Fixtures (all session-scoped, built lazily on first use into one pytest temporary directory):

- ``tiny_audio_dir``: ``Path`` of the ``audio`` model (text decoder + audio encoder), all precisions.
- ``tiny_text_dir``: ``Path`` of the ``text`` model (no ``audio_encoder*`` files), all precisions.
- ``tiny_window_dir``: ``Path`` of the ``window`` model (sliding window 16, 8 layers, 3 KV-shared), all precisions.
- ``tiny_model_dir``: ``tiny_model_dir(name) -> Path`` for ``name`` in ``audio``, ``text``, ``window``, ``llama``
  (``llama``: ``text`` with 3 KV-shared layers, the layer layout llama.cpp's KV sharing runs faithfully).
- ``tiny_gguf``: ``tiny_gguf(name, kind) -> Path``: the same model's GGUF for llama.cpp (``models/gguf_export.py``,
  ``kind`` ``f32``, ``f16`` or ``q4_0``); only ``llama`` is accepted (the others' KV sharing differs in llama.cpp).
- ``tiny_reference``: ``tiny_reference(name) -> Gemma4ForConditionalGeneration``: the torch model whose
  weights the files hold (fp32, eval, eager attention, cached per name). Use it for HF ``forward``
  or ``generate`` references; never put it in runtime code (torch is a test-only dependency).

Every directory holds ``config.json``, ``generation_config.json``, ``tokenizer.json``,
``tokenizer_config.json``, ``chat_template.jinja``, ``processor_config.json``,
``preprocessor_config.json`` and ``onnx/<graph>{,_fp16,_q4,_q4f16,_quantized}.onnx`` with
``.onnx_data`` next to each. The weights come from ``TINY_SEED``; the same seed gives the same bytes.
Treat the directories as read-only: copy one (``shutil.copytree``) before changing it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TINY_SEED = 0
TINY_CONFIGS = ("audio", "text", "window", "llama")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``get(name) -> Path``: build the named tiny model (all precisions) on first use, then reuse it."""
    root = tmp_path_factory.mktemp("tiny_gemma4")
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in TINY_CONFIGS:
            raise ValueError(f"unknown tiny config {name!r}")
        if name not in built:
            from models.tiny_gemma4 import build

            built[name] = build(root / name, name, seed=TINY_SEED)
        return built[name]

    return get


@pytest.fixture(scope="session")
def tiny_audio_dir(tiny_model_dir: Callable[[str], Path]) -> Path:
    """The ``audio`` tiny model directory."""
    return tiny_model_dir("audio")


@pytest.fixture(scope="session")
def tiny_text_dir(tiny_model_dir: Callable[[str], Path]) -> Path:
    """The ``text`` tiny model directory (no audio encoder)."""
    return tiny_model_dir("text")


@pytest.fixture(scope="session")
def tiny_window_dir(tiny_model_dir: Callable[[str], Path]) -> Path:
    """The ``window`` tiny model directory (sliding window 16, other layer pattern)."""
    return tiny_model_dir("window")


@pytest.fixture(scope="session")
def tiny_reference() -> Callable[[str], Any]:
    """``get(name) -> Gemma4ForConditionalGeneration``, the torch twin of the tiny model ``name``."""
    cache: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in cache:
            from models.tiny_gemma4 import reference_model

            cache[name] = reference_model(name, TINY_SEED)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``get(name="llama", kind="f32") -> Path``: the GGUF of the tiny model ``name`` (real weights), built once."""
    root = tmp_path_factory.mktemp("tiny_gguf")
    built: dict[tuple[str, str], Path] = {}

    def get(name: str = "llama", kind: str = "f32") -> Path:
        if (name, kind) not in built:
            from models.gguf_export import tiny_gguf as write

            built[name, kind] = write(root / f"{name}-{kind}.gguf", name, kind, seed=TINY_SEED)
        return built[name, kind]

    return get
