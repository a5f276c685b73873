"""Issue 6's check, end to end on a real broker: with the grammar on, a random model's calls all become valid commands.

A tiny random Gemma 4 decodes under the grammar built from the live registry's ``tool_schema()``; each call goes
through ``Home.execute`` to a real Mosquitto holding the fixture devices; every message a spy sees must be a command
topic of a known device, with exactly the payload the device's own encoder builds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config.schema import ModelConfig
from assistant.engine.constrained import stream_constrained
from assistant.engine.decoding.sampling import SamplingParams
from assistant.engine.grammar.constraint import ToolCallConstraint
from assistant.engine.grammar.grammar import compile_schema
from assistant.engine.grammar.tokengrammar import TokenGrammar
from assistant.engine.model import GemmaModel
from assistant.home import Home, open_home
from assistant.home.validate import Action, validate
from assistant.protocols import Message, ToolCall
from tests.home import fixtures
from tests.home.conftest import Broker, needs_mosquitto

from .commands import TYPICAL

pytestmark = [pytest.mark.slow, needs_mosquitto]
CFG = ModelConfig(decoder_precision="fp32", embed_precision="fp32", audio_precision="fp32")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    broker = Broker(tmp_path / "broker")
    broker.start()
    loader = broker.client("fixture-loader")
    for topic, payload in fixtures.retained().items():
        loader.publish(topic, payload, retain=True)
    loader.close()
    h = open_home(broker.config())
    h.wait_for_discovery(quiet_s=0.3)
    h.spy = broker.client("spy")  # type: ignore[attr-defined]
    h.spy.subscribe("#")  # type: ignore[attr-defined]
    yield h
    h.spy.close()  # type: ignore[attr-defined]
    h.close()
    broker.stop()


def test_every_published_message_is_a_valid_command_for_a_known_device(grammar_model_dir, home: Home) -> None:
    model = GemmaModel.load(grammar_model_dir, CFG)
    schema = home.tool_schema()
    schema["set_brightness"].setdefault("exclusive", [["percent", "change"]])
    tg = TokenGrammar(compile_schema(schema), model.tokenizer)
    declarations = home.tools()
    spy = home.spy  # type: ignore[attr-defined]
    spy.messages.clear()
    expected: list[tuple[str, str]] = []
    outcomes = []
    pending: Action | None = None
    for seed in range(16):
        utterance = TYPICAL[seed % len(TYPICAL)][0]
        constraint = ToolCallConstraint.for_tokens(tg, model.generation_spec.eos_token_ids)
        opts = model.options(sampling=SamplingParams(sample=True, seed=seed, temperature=1.5, top_k=0, top_p=1.0),
                             max_new_tokens=80)
        gen = stream_constrained(model, [Message(role="user", text=utterance)], declarations, constraint, opts)
        calls = [e for e in gen if isinstance(e, ToolCall)]
        assert len(calls) == 1 and calls[0].error == ""
        target = validate(calls[0], home.registry) if calls[0].name != "confirm" else None
        home.execute(calls[0])
        result = home.bus.last_result
        outcomes.append(result.outcome)
        assert result.outcome != "refused" or "change" in calls[0].arguments or calls[0].name == "confirm", result
        if result.outcome == "confirm":  # a sensitive device: published only after a "yes"
            pending = target if isinstance(target, Action) else None
            continue
        if calls[0].name == "confirm":
            target, pending = pending, None
        if isinstance(target, Action) and result.outcome not in ("refused", "cancelled", "offline"):
            expected += [(c.topic, c.payload) for c in target.commands]
    deadline = time.monotonic() + 5
    commands = []
    while time.monotonic() < deadline:
        commands = [(t, p) for t, p, retained in spy.messages
                    if not retained and not t.startswith(("assistant/", "homeassistant/"))]
        if len(commands) >= len(expected):
            break
        time.sleep(0.05)
    known = {topic for d in home.registry.devices() for topic in d.command_topics()}
    assert expected and sorted(commands) == sorted(expected)
    assert all(topic in known for topic, _ in commands)
    assert len(expected) >= 3 and len(set(outcomes)) >= 3  # several tools and outcomes, not one call repeated
