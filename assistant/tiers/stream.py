"""Turn OpenAI chat-completion chunks into protocol events: visible text and whole tool calls.

Tool-call arguments arrive in fragments keyed by ``index`` (Ollama may send each call
whole, without an index or id); they are emitted once the stream says it is finished.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from assistant.protocols import Event, TextDelta, ToolCall
from assistant.tiers.errors import TierProtocolError
from assistant.tiers.thinking import REASONING_FIELDS, ThinkFilter


@dataclass
class _PartialCall:
    name: str = ""
    arguments: str = ""


class StreamAssembler:
    """Feed it parsed chunks with :meth:`chunk`, then call :meth:`finish` at the end of the stream."""

    def __init__(self) -> None:
        self.filter = ThinkFilter()
        self.calls: dict[int, _PartialCall] = {}
        self.finish_reason: str | None = None
        self.done = False
        self.reasoning_chars = 0

    @property
    def hidden_chars(self) -> int:
        return self.reasoning_chars + self.filter.hidden_chars

    def chunk(self, obj: Mapping[str, Any]) -> Iterator[Event]:
        """Events from one ``chat.completion.chunk``."""
        for choice in obj.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            yield from self._delta(delta)
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])

    def whole(self, obj: Mapping[str, Any]) -> Iterator[Event]:
        """Events from a non-streamed ``chat.completion`` (a server that ignored ``stream``)."""
        yield from self.chunk(obj)
        self.done = True
        yield from self.finish("")

    def finish(self, name: str) -> Iterator[Event]:
        """Held-back text and the assembled tool calls; raises if the stream was cut short."""
        if not self.done and self.finish_reason is None:
            raise TierProtocolError(f"tier {name!r}: the answer stopped in the middle (stream ended early)")
        rest = self.filter.flush()
        if rest:
            yield TextDelta(rest)
        for index in sorted(self.calls):
            yield _tool_call(self.calls[index])
        self.calls.clear()

    def _delta(self, delta: Mapping[str, Any]) -> Iterator[Event]:
        for key in REASONING_FIELDS:
            value = delta.get(key)
            if isinstance(value, str):
                self.reasoning_chars += len(value)
        content = delta.get("content")
        if isinstance(content, str) and content:
            visible = self.filter.feed(content)
            if visible:
                yield TextDelta(visible)
        for position, fragment in enumerate(delta.get("tool_calls") or []):
            if isinstance(fragment, dict):
                self._merge(position, fragment)

    def _merge(self, position: int, fragment: Mapping[str, Any]) -> None:
        index = fragment.get("index")
        if not isinstance(index, int):
            index = len(self.calls) if fragment.get("id") or position >= len(self.calls) else position
        call = self.calls.setdefault(index, _PartialCall())
        function = fragment.get("function") or {}
        if function.get("name"):
            call.name = call.name or str(function["name"])
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            call.arguments += arguments
        elif isinstance(arguments, dict):
            call.arguments = json.dumps(arguments)


def _tool_call(call: _PartialCall) -> ToolCall:
    raw = call.arguments.strip() or "{}"
    if not call.name:
        return ToolCall(name="", raw=raw, error="tool call without a name")
    try:
        arguments = json.loads(raw)
    except json.JSONDecodeError as err:
        return ToolCall(name=call.name, raw=raw, error=f"arguments are not JSON ({err.msg})")
    if not isinstance(arguments, dict):
        return ToolCall(name=call.name, raw=raw, error="arguments are not a JSON object")
    return ToolCall(name=call.name, arguments=arguments, raw=raw)
