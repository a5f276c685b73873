"""Configuration: one TOML file resolved into frozen dataclasses (see ``schema``)."""

from assistant.config.loader import find_config_file, load_config
from assistant.config.paths import gguf_path, graph_cache_dir, model_dir, state_dir
from assistant.config.schema import (
    AudioConfig,
    Config,
    ModelConfig,
    MqttConfig,
    RemoteTierConfig,
    ServiceConfig,
    TiersConfig,
    TtsConfig,
    VadConfig,
    WakeWordConfig,
)

__all__ = [
    "AudioConfig",
    "Config",
    "ModelConfig",
    "MqttConfig",
    "RemoteTierConfig",
    "ServiceConfig",
    "TiersConfig",
    "TtsConfig",
    "VadConfig",
    "WakeWordConfig",
    "find_config_file",
    "gguf_path",
    "graph_cache_dir",
    "load_config",
    "model_dir",
    "state_dir",
]
