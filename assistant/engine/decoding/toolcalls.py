"""Gemma 4's tool-call syntax: ``<|tool_call>call:NAME{key:value,...}<tool_call|>``.

Values are Gemma's compact notation, not JSON: keys are bare words, strings sit between
``<|"|>`` quote tokens, numbers, ``true``/``false``/``null`` are bare, and ``{}``/``[]`` nest.
A call that cannot be parsed becomes ``ToolCall(error=...)``; nothing here raises on model
output.
"""

from __future__ import annotations

import re
from typing import Any

from assistant.protocols import ToolCall

QUOTE = '<|"|>'
CALL_START = "<|tool_call>"
CALL_END = "<tool_call|>"

_NAME = re.compile(r"[A-Za-z_][\w.\-]*")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_BARE = re.compile(r"[^,:{}\[\]\s]+")
_KEY = re.compile(r"[^,:{}\[\]\s<]+")
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None, "none": None}
MAX_DEPTH = 16  # nested {} and []: a call deeper than this is malformed (never a RecursionError)


class _Malformed(ValueError):
    """Raised inside the parser only; turned into ``ToolCall.error``."""


class _Reader:
    """A cursor over one call body with the small grammar above."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def fail(self, what: str) -> _Malformed:
        near = self.text[self.pos : self.pos + 20]
        return _Malformed(f"{what} at offset {self.pos} (near {near!r})" if near else f"{what} at end of call")

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self, token: str) -> bool:
        self.skip_space()
        return self.text.startswith(token, self.pos)

    def expect(self, token: str) -> None:
        if not self.peek(token):
            raise self.fail(f"expected {token!r}")
        self.pos += len(token)

    def value(self) -> Any:
        self.skip_space()
        if self.peek(QUOTE):
            return self.string()
        if self.peek("{"):
            return self.obj()
        if self.peek("["):
            return self.array()
        number = _NUMBER.match(self.text, self.pos)
        if number and not _is_word_char(self.text, number.end()):
            self.pos = number.end()
            raw = number.group()
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
        bare = _BARE.match(self.text, self.pos)
        if bare is None or bare.group().startswith("<"):
            raise self.fail("expected a value")
        self.pos = bare.end()
        word = bare.group()
        return _LITERALS.get(word.lower(), word)

    def string(self) -> str:
        self.expect(QUOTE)
        end = self.text.find(QUOTE, self.pos)
        if end < 0:
            raise self.fail("unterminated string")
        out = self.text[self.pos : end]
        self.pos = end + len(QUOTE)
        return out

    def key(self) -> str:
        if self.peek(QUOTE):
            return self.string()
        match = _KEY.match(self.text, self.pos)
        if match is None:
            raise self.fail("expected a key")
        self.pos = match.end()
        return match.group()

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH}")

    def obj(self) -> dict[str, Any]:
        self.expect("{")
        self.nest()
        out: dict[str, Any] = {}
        if self.peek("}"):
            self.pos += 1
            self.depth -= 1
            return out
        while True:
            key = self.key()
            self.expect(":")
            out[key] = self.value()
            if self.peek(","):
                self.pos += 1
                continue
            self.expect("}")
            self.depth -= 1
            return out

    def array(self) -> list[Any]:
        self.expect("[")
        self.nest()
        out: list[Any] = []
        if self.peek("]"):
            self.pos += 1
            self.depth -= 1
            return out
        while True:
            out.append(self.value())
            if self.peek(","):
                self.pos += 1
                continue
            self.expect("]")
            self.depth -= 1
            return out


def _is_word_char(text: str, pos: int) -> bool:
    return pos < len(text) and (text[pos].isalnum() or text[pos] == "_")


def parse_call(body: str) -> ToolCall:
    """Parse the text between ``<|tool_call>`` and ``<tool_call|>`` (``call:NAME{...}``)."""
    raw = f"{CALL_START}{body}{CALL_END}"
    text = body.strip()
    if not text.startswith("call:"):
        return ToolCall(name="", raw=raw, error="tool call does not start with 'call:'")
    name_match = _NAME.match(text, len("call:"))
    if name_match is None:
        return ToolCall(name="", raw=raw, error="tool call has no function name")
    name = name_match.group()
    reader = _Reader(text)
    reader.pos = name_match.end()
    try:
        arguments = reader.obj() if reader.peek("{") else {}
        reader.skip_space()
        if reader.pos != len(text):
            raise reader.fail("unexpected text after the arguments")
    except _Malformed as err:
        return ToolCall(name=name, raw=raw, error=f"malformed arguments for {name}: {err}")
    return ToolCall(name=name, arguments=arguments, raw=raw)


def extract_calls(text: str) -> tuple[str, list[ToolCall]]:
    """Split decoded text (special tokens kept) into visible text and the calls in it, in order.

    An opened call that is never closed becomes an error value.
    """
    visible: list[str] = []
    calls: list[ToolCall] = []
    pos = 0
    while True:
        start = text.find(CALL_START, pos)
        if start < 0:
            visible.append(text[pos:])
            break
        visible.append(text[pos:start])
        end = text.find(CALL_END, start)
        if end < 0:
            calls.append(ToolCall(name="", raw=text[start:], error="tool call was not closed before generation ended"))
            break
        calls.append(parse_call(text[start + len(CALL_START) : end]))
        pos = end + len(CALL_END)
    return "".join(visible), calls

