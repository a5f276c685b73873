"""The router: escalation through the tool, fallback with a spoken notice, the breaker, rules, turn records."""

from __future__ import annotations

import pytest

from assistant.config.schema import RemoteTierConfig, RouteRuleConfig, TiersConfig
from assistant.protocols import Message, TextDelta, ToolCall
from assistant.tiers.factory import build_router
from assistant.tiers.router import TurnRecord

from .conftest import API_KEY, EscalatingEngine, ScriptedEngine
from .servers import free_port

NOTICE = "The expert is not reachable, so I will answer myself."
AUDIO_TURN = [Message(role="user", text="")]


class FakeClock:
    """Monotonic time the test moves by hand (no sleeping, no timing in assertions)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def escalate(question: str = "Why is the sky blue?") -> list:
    return [TextDelta("Let me ask. "), ToolCall(name="ask_expert", arguments={"question": question})]


def local_answer(text: str = "Because of scattering.") -> list:
    return [TextDelta(text)]


def config_for(url: str, model: str, **tiers) -> TiersConfig:
    remote = RemoteTierConfig(name="desk", url=url, model=model, server="openai", api_key=API_KEY, max_tokens=8,
                              timeout_s=120.0, connect_timeout_s=1.0)
    return TiersConfig(remote=(remote,), **tiers)


def run(router, messages=AUDIO_TURN, tools=()) -> tuple[str, list, TurnRecord]:
    events = list(router.generate(messages, tools))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    return text, events, router.last_record


def test_escalation_streams_the_remote_answer(llama):
    local = ScriptedEngine(escalate())
    router = build_router(local, config_for(llama.url, llama.model_id))
    device_tool = {"type": "function", "function": {"name": "light_on", "parameters": {"type": "object"}}}
    text, _events, record = run(router, tools=[device_tool])
    assert local.tool_names(0) == ["light_on", "ask_expert"]
    assert len(local.calls) == 1
    assert text.startswith("Let me ask. ")
    assert len(text) > len("Let me ask. ")
    assert NOTICE not in text
    assert record.tier == "desk"
    assert record.escalated and record.question == "Why is the sky blue?"
    assert record.attempts == [("desk", "answered")]


def test_local_answer_and_device_calls_pass_through(listener):
    light = ToolCall(name="light_on", arguments={"room": "kitchen"})
    local = ScriptedEngine([light, TextDelta("Done.")])
    router = build_router(local, config_for(listener.url, "m"))
    _text, events, record = run(router)
    assert events == [light, TextDelta("Done.")]
    assert record.tier == "local" and not record.escalated
    assert listener.connections == 0


def test_tier_down_falls_back_to_local_and_says_so():
    local = ScriptedEngine(escalate(), local_answer())
    router = build_router(local, config_for(f"http://127.0.0.1:{free_port()}/v1", "m"))
    text, _, record = run(router)
    assert text == f"Let me ask. {NOTICE} Because of scattering."
    assert record.tier == "local"
    assert "cannot connect" in record.fallback
    assert local.tool_names(1) == []


def test_slow_tier_times_out_and_falls_back(blackhole):
    config = TiersConfig(remote=(RemoteTierConfig(name="desk", url=blackhole.url, timeout_s=0.5),))
    local = ScriptedEngine(escalate(), local_answer())
    text, _, record = run(build_router(local, config))
    assert NOTICE in text and text.endswith("Because of scattering.")
    assert "no answer within 0.5 s" in record.fallback


def test_breaker_opens_then_closes_against_a_real_server(own_llama):
    own_llama.start()
    clock = FakeClock()
    config = TiersConfig(remote=(RemoteTierConfig(name="desk", url=own_llama.url, model=own_llama.model_id,
                                                  server="openai", max_tokens=8, connect_timeout_s=1.0),),
                         breaker_failures=2, breaker_cooldown_s=30.0)
    router = build_router(EscalatingEngine(), config, clock=clock)
    breaker = router.breakers["desk"]

    assert run(router)[2].tier == "desk"
    assert breaker.state == "closed"

    own_llama.kill()
    for _ in range(2):
        text, _, record = run(router)
        assert record.tier == "local" and NOTICE in text
    assert breaker.state == "open"

    text, _, record = run(router)
    assert record.attempts[0][1].startswith("skipped, breaker open")
    assert NOTICE in text

    own_llama.start()
    clock.now += 10
    assert run(router)[2].attempts[0][1].startswith("skipped")
    clock.now += 25
    assert breaker.state == "half-open"
    assert run(router)[2].tier == "desk"
    assert breaker.state == "closed"


def test_open_breaker_makes_no_connection(listener):
    clock = FakeClock()
    config = TiersConfig(remote=(RemoteTierConfig(name="desk", url=listener.url, connect_timeout_s=1.0),),
                         breaker_failures=1, breaker_cooldown_s=60.0)
    router = build_router(EscalatingEngine(), config, clock=clock)
    run(router)
    assert listener.connections == 1
    run(router)
    assert listener.connections == 1
    clock.now += 61
    run(router)
    assert listener.connections == 2
    assert router.breakers["desk"].state == "open"


def test_rule_forces_local_for_matching_questions(listener):
    config = TiersConfig(remote=(RemoteTierConfig(name="desk", url=listener.url),),
                         rules=(RouteRuleConfig(pattern=r"\bdiary\b", tier="local"),))
    local = ScriptedEngine(escalate("What is in my diary today?"), local_answer("Nothing planned."))
    text, _, record = run(build_router(local, config))
    assert text == "Let me ask. Nothing planned."
    assert record.tier == "local" and record.rule.startswith("/\\bdiary\\b/")
    assert listener.connections == 0


def test_rule_forces_remote_for_typed_requests(llama):
    config = config_for(llama.url, llama.model_id, rules=(RouteRuleConfig(pattern="history", tier="desk"),))
    local = ScriptedEngine()
    text, _, record = run(build_router(local, config), [Message(role="user", text="Tell me the history of Rome")])
    assert local.calls == []
    assert record.tier == "desk" and text.strip()


def test_empty_question_falls_back():
    local = ScriptedEngine([ToolCall(name="ask_expert", arguments={})], local_answer())
    router = build_router(local, config_for(f"http://127.0.0.1:{free_port()}/v1", "m"))
    text, _, record = run(router)
    assert text.startswith(NOTICE)
    assert "without a question" in record.fallback


def test_disabled_tier_means_no_escalation_tool(listener):
    config = TiersConfig(remote=(RemoteTierConfig(name="desk", url=listener.url, enabled=False),))
    local = ScriptedEngine(local_answer())
    text, _, record = run(build_router(local, config))
    assert local.tool_names(0) == []
    assert record.tier == "local" and text == "Because of scattering."


def test_bad_rule_is_a_config_error():
    from assistant.errors import ConfigError

    with pytest.raises(ConfigError, match=r"tiers.rules\[0\].pattern"):
        build_router(ScriptedEngine(), TiersConfig(rules=(RouteRuleConfig(pattern="(", tier="local"),)))
    with pytest.raises(ConfigError, match="not allowed"):
        build_router(ScriptedEngine(), TiersConfig(rules=(RouteRuleConfig(pattern="x", tier="laptop"),)))


def test_router_and_client_fit_the_protocols():
    from assistant.protocols import Engine, Tier
    from assistant.tiers.client import OpenAITier

    assert isinstance(build_router(ScriptedEngine(), TiersConfig()), Engine)
    assert isinstance(OpenAITier(RemoteTierConfig(), "text"), Tier)


def test_importing_tiers_and_hardware_never_imports_torch():
    import subprocess
    import sys

    code = "import sys, assistant.tiers, assistant.hardware, assistant.commands.tiers; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"


def test_fallback_does_not_repeat_device_actions():
    light = ToolCall(name="light_on", arguments={"room": "hall"})
    local = ScriptedEngine([light, *escalate()], [light, TextDelta("Light is on; sky is blue from scattering.")])
    router = build_router(local, config_for(f"http://127.0.0.1:{free_port()}/v1", "m"))
    _, events, record = run(router)
    assert events.count(light) == 1
    assert record.actions == [light] and record.tier == "local"
