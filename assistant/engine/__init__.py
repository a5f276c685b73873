"""Gemma 4 E2B on ONNX Runtime, by concern: graphs, decoding, grammar, audio; the model on top (docs/ARCHITECTURE.md).

The public entry point is :class:`assistant.engine.model.GemmaModel`; it is imported lazily
so that ``import assistant.engine`` stays cheap (and never imports torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.engine.model import AudioTurn, GemmaModel, Generation, GenerationOptions

__all__ = ["AudioTurn", "GemmaModel", "Generation", "GenerationOptions"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from assistant.engine import model

        return getattr(model, name)
    raise AttributeError(name)
