"""The OpenAI-compatible tier client against a real server on loopback (llama-cpp-python + Gemma 3 270M)."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from assistant.config.schema import RemoteTierConfig
from assistant.protocols import Message, TextDelta, ToolCall
from assistant.tiers.client import OpenAITier
from assistant.tiers.errors import TierHTTPError, TierProtocolError, TierTimeout, TierUnreachable

from .conftest import API_KEY
from .servers import free_port

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 24}},
            "required": ["city"],
        },
    },
}
QUESTION = [Message(role="user", text="Tell me about the sea.")]


def tier_for(srv, **changes) -> OpenAITier:
    config = RemoteTierConfig(name="desk", url=srv.url, model=srv.model_id, server="openai",
                              api_key=getattr(srv, "api_key", ""), max_tokens=12, timeout_s=120.0)
    return OpenAITier(dataclasses.replace(config, **changes), "text")


def test_streams_text_in_several_deltas(llama):
    events = list(tier_for(llama).generate(QUESTION))
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(texts) >= 2, events
    assert "".join(texts).strip()
    assert not [e for e in events if isinstance(e, ToolCall)]


def test_streamed_tool_call_is_assembled_from_fragments(llama):
    tier = tier_for(llama, max_tokens=64)
    choice = {"type": "function", "function": {"name": "get_weather"}}
    events = list(tier.generate([Message(role="user", text="What is the weather in Paris?")], [WEATHER_TOOL], choice))
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert len(calls) == 1, events
    assert calls[0].name == "get_weather"
    assert calls[0].error == ""
    assert isinstance(calls[0].arguments["city"], str)


def test_health_checks_the_served_model(llama):
    assert tier_for(llama).healthy()
    health = tier_for(llama, model="gemma-4-31b").health()
    assert not health.ok
    assert "not served" in health.detail
    assert tier_for(llama, model="anything", server="llama-server").healthy()


def test_api_key_is_required_and_sent(llama):
    with pytest.raises(TierHTTPError) as err:
        list(tier_for(llama, api_key="").generate(QUESTION))
    assert err.value.status == 401
    assert "api_key_file" in str(err.value)
    assert not tier_for(llama, api_key="wrong").healthy()
    assert tier_for(llama, api_key=API_KEY).healthy()


@pytest.mark.parametrize("kind", ["llama-server", "vllm", "ollama"])
def test_server_quirk_fields_are_accepted(llama, kind):
    """The extra fields each server kind gets (thinking switches) do not break a real request."""
    tier = tier_for(llama, server=kind, thinking=True)
    assert "".join(e.text for e in tier.generate(QUESTION) if isinstance(e, TextDelta)).strip()


def test_unreachable_server_is_one_line_error():
    config = RemoteTierConfig(name="gone", url=f"http://127.0.0.1:{free_port()}/v1", connect_timeout_s=1.0)
    with pytest.raises(TierUnreachable, match=r"cannot connect to 127\.0\.0\.1"):
        list(OpenAITier(config, "text").generate(QUESTION))
    assert not OpenAITier(config, "text").healthy()


def test_timeout_when_the_server_never_answers(blackhole):
    config = RemoteTierConfig(name="slow", url=blackhole.url, timeout_s=0.5, connect_timeout_s=1.0)
    with pytest.raises(TierTimeout, match=r"no answer within 0\.5 s"):
        list(OpenAITier(config, "text").generate(QUESTION))


def test_server_killed_mid_answer(own_llama):
    own_llama.start()
    tier = tier_for(own_llama, max_tokens=400)
    stream = tier.generate([Message(role="user", text="Write a very long story about the sea.")])
    received = []
    with pytest.raises(TierProtocolError, match=r"mid-answer|stopped in the middle"):
        for event in stream:
            received.append(event)
            if len(received) == 2:
                threading.Thread(target=own_llama.kill).start()
            assert len(received) < 400, "the stream went on after the server was killed"
    assert len(received) >= 2


def test_tls_with_a_private_ca(gguf, tls_files, tmp_path):
    from .servers import LlamaServer

    server = LlamaServer(gguf, tls=tls_files, log_dir=tmp_path).start()
    try:
        trusted = tier_for(server, ca_file=str(tls_files[0]))
        assert trusted.url_scheme == "https"
        assert "".join(e.text for e in trusted.generate(QUESTION) if isinstance(e, TextDelta)).strip()
        with pytest.raises(TierUnreachable, match="TLS"):
            list(tier_for(server).generate(QUESTION))
    finally:
        server.stop()
