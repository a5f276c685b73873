"""Head dims from config.json in both the published form and transformers 5's per-layer form."""

from __future__ import annotations

from pathlib import Path

from assistant.engine.graphs.spec import _head_dims

TYPES = tuple(["sliding_attention"] * 4 + ["full_attention"]) * 7  # 35 layers, like E2B


def test_published_form_uses_global_head_dim() -> None:
    dims = _head_dims({"head_dim": 256, "global_head_dim": 512}, TYPES, Path("config.json"))
    assert [i for i, d in enumerate(dims) if d == 512] == [4, 9, 14, 19, 24, 29, 34]


def test_per_layer_form_with_zero_padded_keys() -> None:
    """transformers writes "04", "09", ... once there are 10 or more layers: full layers past 9 must keep 512."""
    overrides = {f"{i:02d}": {"head_dim": 512 if t == "full_attention" else 256} for i, t in enumerate(TYPES)}
    dims = _head_dims({"head_dim": 256, "per_layer_config": overrides}, TYPES, Path("config.json"))
    assert [i for i, d in enumerate(dims) if d == 512] == [4, 9, 14, 19, 24, 29, 34]
