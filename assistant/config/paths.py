"""Where state and models live when the config leaves it open."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from assistant.config.schema import Config

DEFAULT_MODEL_NAME = "gemma-4-E2B-it-ONNX"


def state_dir(config: Config, environ: Mapping[str, str] | None = None) -> Path:
    """``service.state_dir``, else systemd's ``$STATE_DIRECTORY``, else ``~/.local/state/assistant``."""
    env = os.environ if environ is None else environ
    if config.service.state_dir:
        return Path(config.service.state_dir).expanduser()
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "assistant"


def graph_cache_dir(config: Config, environ: Mapping[str, str] | None = None) -> Path:
    """Where optimised graphs are kept: ``model.graph_cache_dir``, else ``<state_dir>/cache/graphs``."""
    if config.model.graph_cache_dir:
        return Path(config.model.graph_cache_dir).expanduser()
    return state_dir(config, environ) / "cache" / "graphs"


def model_dir(config: Config, environ: Mapping[str, str] | None = None) -> Path:
    """``model.dir``, else ``<state_dir>/models/gemma-4-E2B-it-ONNX``."""
    if config.model.dir:
        return Path(config.model.dir).expanduser()
    return state_dir(config, environ) / "models" / DEFAULT_MODEL_NAME


def gguf_path(config: Config, environ: Mapping[str, str] | None = None) -> Path:
    """``model.gguf``, else ``<model dir>/gguf/model.gguf`` (where ``models pull`` puts it)."""
    if config.model.gguf:
        return Path(config.model.gguf).expanduser()
    return model_dir(config, environ) / "gguf" / "model.gguf"
