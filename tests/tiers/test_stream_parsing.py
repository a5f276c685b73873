"""Parsing: SSE framing, tool-call fragments, thinking removal, per-server request fields, message conversion."""

from __future__ import annotations

import json

import pytest

from assistant.config.schema import RemoteTierConfig
from assistant.protocols import Message, TextDelta, ToolCall
from assistant.tiers.client import OpenAITier
from assistant.tiers.errors import TierProtocolError
from assistant.tiers.messages import to_openai
from assistant.tiers.quirks import Quirks
from assistant.tiers.sse import sse_data
from assistant.tiers.stream import StreamAssembler
from assistant.tiers.thinking import ThinkFilter


def test_sse_events_comments_and_multiline_data():
    raw = [b": keep-alive\n", b"data: {\"a\":\n", b"data: 1}\n", b"\n", b"event: x\r\n", b"data:[DONE]\r\n", b"\r\n"]
    assert list(sse_data(raw)) == ['{"a":\n1}', "[DONE]"]
    assert list(sse_data([b"data: tail-without-blank-line"])) == ["tail-without-blank-line"]


def chunk(**delta) -> dict:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


def finish(reason: str) -> dict:
    return {"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}


def test_openai_style_tool_call_fragments():
    asm = StreamAssembler()
    parts = [
        chunk(tool_calls=[{"index": 0, "id": "c1", "type": "function", "function": {"name": "set_timer", "arguments": ""}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"min'}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": 'utes": 5}'}}]),
        chunk(tool_calls=[{"index": 1, "id": "c2", "function": {"name": "light_on", "arguments": "{}"}}]),
        finish("tool_calls"),
    ]
    events = [e for p in parts for e in asm.chunk(p)] + list(asm.finish("t"))
    assert events == [ToolCall("set_timer", {"minutes": 5}, raw='{"minutes": 5}'), ToolCall("light_on", {}, raw="{}")]


def test_ollama_style_whole_calls_without_index():
    asm = StreamAssembler()
    calls = [{"id": "a", "function": {"name": "f", "arguments": '{"x": 1}'}},
             {"id": "b", "function": {"name": "g", "arguments": {"y": 2}}}]
    events = list(asm.chunk(chunk(tool_calls=calls))) + list(asm.chunk(finish("stop"))) + list(asm.finish("t"))
    assert [(e.name, dict(e.arguments)) for e in events] == [("f", {"x": 1}), ("g", {"y": 2})]


def test_broken_arguments_become_an_error_not_an_exception():
    asm = StreamAssembler()
    list(asm.chunk(chunk(tool_calls=[{"index": 0, "function": {"name": "f", "arguments": '{"x": '}}])))
    list(asm.chunk(finish("length")))
    (call,) = list(asm.finish("t"))
    assert call.name == "f" and call.error.startswith("arguments are not JSON")


def test_stream_cut_short_raises():
    asm = StreamAssembler()
    assert list(asm.chunk(chunk(content="Hel"))) == [TextDelta("Hel")]
    with pytest.raises(TierProtocolError, match="stopped in the middle"):
        list(asm.finish("desk"))


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "thinking"])
def test_reasoning_fields_are_never_spoken(field):
    asm = StreamAssembler()
    events = list(asm.chunk(chunk(**{field: "Let me think about secrets"})))
    events += list(asm.chunk(chunk(content="Paris.")))
    events += list(asm.chunk(finish("stop"))) + list(asm.finish("t"))
    assert events == [TextDelta("Paris.")]
    assert asm.hidden_chars == len("Let me think about secrets")


@pytest.mark.parametrize("pieces", [
    ["<think>plan</think>Paris."],
    ["<th", "ink>pl", "an</thi", "nk>Par", "is."],
    ["<|channel>thought\nplan<channel|>Paris."],
    ["<|chan", "nel>thought\npl", "an<chan", "nel|>Pa", "ris."],
])
def test_inline_thinking_is_removed_even_when_split(pieces):
    filt = ThinkFilter()
    assert "".join(filt.feed(p) for p in pieces) + filt.flush() == "Paris."


def test_unclosed_thinking_is_dropped_and_lone_angle_kept():
    filt = ThinkFilter()
    assert filt.feed("a < b <thi") == "a < b "
    assert filt.feed("nk>never closed") == ""
    assert filt.flush() == ""
    other = ThinkFilter()
    assert other.feed("x <") + other.flush() == "x <"


def test_quirks_per_server():
    assert Quirks("llama-server").request_extras(True) == {"chat_template_kwargs": {"enable_thinking": True}}
    assert Quirks("vllm").request_extras(False) == {"chat_template_kwargs": {"enable_thinking": False}}
    assert Quirks("ollama").request_extras(False) == {"reasoning_effort": "none"}
    assert Quirks("ollama").request_extras(True) == {"reasoning_effort": "high"}
    assert Quirks("openai").request_extras(True) == {}
    assert Quirks("ollama").model_matches("gemma4:26b", "gemma4:26b")
    assert Quirks("ollama").model_matches("gemma4", "gemma4:latest")
    assert not Quirks("ollama").model_matches("gemma4:31b", "gemma4:26b")
    assert Quirks("llama-server").model_matches("anything", "/models/x.gguf")
    assert not Quirks("vllm").model_matches("gemma-4-26b-a4b", "google/gemma-4-26B-A4B-it")
    assert "--tool-call-parser" in Quirks("vllm").hint_for_error(400, "auto tool choice requires ...")


def test_request_body_and_message_conversion():
    tier = OpenAITier(RemoteTierConfig(server="llama-server", thinking=True, max_tokens=77), "text")
    history = [
        Message(role="system", text="Be brief."),
        Message(role="user", text="Timer?"),
        Message(role="model", tool_calls=(ToolCall("set_timer", {"minutes": 5}),)),
        Message(role="tool", text="Timer set.", tool_name="set_timer"),
    ]
    body = tier.request_body(history, [{"type": "function", "function": {"name": "set_timer"}}])
    assert body["stream"] is True and body["max_tokens"] == 77
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    msgs = body["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "tool"]
    assert msgs[2]["tool_calls"][0]["function"] == {"name": "set_timer", "arguments": json.dumps({"minutes": 5})}
    assert msgs[3]["tool_call_id"] == msgs[2]["tool_calls"][0]["id"]
    with pytest.raises(ValueError, match="unknown role"):
        to_openai([Message(role="narrator", text="x")])


def test_bad_url_is_a_one_line_error():
    from assistant.errors import AssistantError

    with pytest.raises(AssistantError, match="must be http"):
        OpenAITier(RemoteTierConfig(url="ftp://host/v1"), "text")
