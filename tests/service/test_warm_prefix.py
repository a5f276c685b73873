"""Start-up prefills the system turn, so the first spoken turn restores it from the prefix cache."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.config import Config
from assistant.config.schema import ModelConfig
from assistant.engine.model import GemmaModel
from assistant.protocols import Message
from assistant.service.turn import turn_tools
from assistant.service.wiring import NoDevicesBus, local_engine, warm_prefix

pytestmark = pytest.mark.slow
MODEL = ModelConfig(decoder_precision="fp32", embed_precision="fp32", audio_precision="fp32", max_new_tokens=4,
                    system_prompt="You are a voice assistant in a smart home. Answer briefly.")


def _first_turn(model: GemmaModel, config: Config, bus: NoDevicesBus):
    engine = local_engine(model, bus, "constrain")
    clip = (0.1 * np.sin(np.arange(16000) / 8)).astype(np.float32)
    messages = [Message("system", text=config.model.system_prompt), Message("user", audio=clip)]  # as Turn builds them
    list(engine.generate(messages, turn_tools(bus)))
    assert engine.last is not None
    return engine.last.timings


def test_the_first_turn_after_start_up_restores_the_system_turn(tiny_audio_dir) -> None:
    config, bus, said = Config(model=MODEL), NoDevicesBus(), []
    model = GemmaModel.load(tiny_audio_dir, config.model)
    n = warm_prefix(model, bus, None, config, said.append)
    assert n > 10 and said == ["Preparing the system prompt and tools (once per start)"]
    timings = _first_turn(model, config, bus)
    assert timings.cached_tokens == n and timings.prefix_s == 0


def test_without_a_prefix_cache_start_up_does_nothing(tiny_audio_dir) -> None:
    config, bus, said = Config(model=ModelConfig(**{**MODEL.__dict__, "prefix_cache": False})), NoDevicesBus(), []
    model = GemmaModel.load(tiny_audio_dir, config.model)
    assert warm_prefix(model, bus, None, config, said.append) == 0 and said == []
    assert _first_turn(model, config, bus).cached_tokens == 0
