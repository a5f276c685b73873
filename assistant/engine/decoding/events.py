"""Generated token ids -> visible text deltas, finished tool calls and hidden thinking.

Works on ids, so Gemma's control tokens (single special tokens) are recognised exactly:
``<|tool_call>...<tool_call|>`` bodies are collected and parsed when closed;
``<|channel>...<channel|>`` (the thinking channel) never reaches the visible text; any other
special token is dropped from the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assistant.engine.decoding.detok import IncrementalDetokenizer
from assistant.engine.decoding.toolcalls import parse_call
from assistant.errors import AssistantError
from assistant.protocols import Event, TextDelta, ToolCall

MARKERS = ("<|tool_call>", "<tool_call|>", "<|channel>", "<channel|>")


@dataclass(frozen=True)
class Markers:
    """Token ids of the control tokens, resolved through the tokenizer."""

    call_start: int
    call_end: int
    channel_start: int
    channel_end: int
    special: frozenset[int]

    @classmethod
    def from_tokenizer(cls, backend: Any) -> Markers:
        """``backend``: a ``tokenizers.Tokenizer``; each marker must be one token."""
        ids = []
        for token in MARKERS:
            token_id = backend.token_to_id(token)
            if token_id is None:
                raise AssistantError(f"the tokenizer has no {token} token (is this a Gemma 4 tokenizer.json?)")
            ids.append(int(token_id))
        special = frozenset(int(i) for i, t in backend.get_added_tokens_decoder().items() if t.special)
        return cls(ids[0], ids[1], ids[2], ids[3], special=special | frozenset(ids))


class EventRouter:
    """Feed ids with :meth:`push`; collects ``text``, ``thinking`` and ``tool_calls`` as it goes."""

    def __init__(self, backend: Any, markers: Markers) -> None:
        self._backend = backend
        self._markers = markers
        self._detok = IncrementalDetokenizer(backend)
        self._state = "text"
        self._buffer: list[int] = []
        self.text = ""
        self.thinking = ""
        self.tool_calls: list[ToolCall] = []

    def push(self, token_id: int) -> Event | None:
        """The event this token completes, if any."""
        m = self._markers
        if self._state == "call":
            if token_id == m.call_end:
                return self._finish_call()
            self._buffer.append(token_id)
            return None
        if self._state == "thinking":
            if token_id == m.channel_end:
                self._state = "text"
                self.thinking += self._backend.decode(self._buffer, skip_special_tokens=False)
                self._buffer = []
            else:
                self._buffer.append(token_id)
            return None
        if token_id == m.call_start:
            self._state, self._buffer = "call", []
            return self._flush_text()
        if token_id == m.channel_start:
            self._state, self._buffer = "thinking", []
            return self._flush_text()
        if token_id in m.special:
            return None
        delta = self._detok.push(token_id)
        if not delta:
            return None
        self.text += delta
        return TextDelta(delta)

    def _flush_text(self) -> Event | None:
        delta = self._detok.flush()
        if not delta:
            return None
        self.text += delta
        return TextDelta(delta)

    def _finish_call(self) -> ToolCall:
        body = self._backend.decode(self._buffer, skip_special_tokens=False)
        call = parse_call(body)
        self.tool_calls.append(call)
        self._state, self._buffer = "text", []
        self._detok.reset()
        return call

    def finish(self) -> Event | None:
        """At the end of generation: held-back text, or an unclosed tool call as an error value."""
        if self._state == "text":
            return self._flush_text()
        if self._state == "call":
            body = self._backend.decode(self._buffer, skip_special_tokens=False)
            call = ToolCall(name="", raw="<|tool_call>" + body, error="tool call was not closed before generation ended")
            self.tool_calls.append(call)
            self._state, self._buffer = "text", []
            return call
        if self._state == "thinking":
            self.thinking += self._backend.decode(self._buffer, skip_special_tokens=False)
            self._state, self._buffer = "text", []
        return None
