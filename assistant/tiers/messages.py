"""Convert protocol Messages to OpenAI chat messages (text only, see :mod:`privacy`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from assistant.protocols import Message
from assistant.tiers.privacy import text_only

ROLES = {"system": "system", "user": "user", "model": "assistant", "assistant": "assistant", "tool": "tool"}


def to_openai(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """OpenAI ``messages`` for a request; refuses audio (PrivacyError) and unknown roles (ValueError)."""
    out: list[dict[str, Any]] = []
    open_calls: dict[str, list[str]] = {}
    for i, message in enumerate(text_only(messages)):
        role = ROLES.get(message.role)
        if role is None:
            raise ValueError(f"message {i} has unknown role {message.role!r}")
        item: dict[str, Any] = {"role": role, "content": message.text}
        if message.tool_calls:
            calls = []
            for j, call in enumerate(message.tool_calls):
                call_id = f"call_{i}_{j}"
                open_calls.setdefault(call.name, []).append(call_id)
                arguments = call.raw or json.dumps(dict(call.arguments), ensure_ascii=False)
                calls.append({"id": call_id, "type": "function", "function": {"name": call.name, "arguments": arguments}})
            item["tool_calls"] = calls
        if role == "tool":
            pending = open_calls.get(message.tool_name) or []
            item["tool_call_id"] = pending.pop(0) if pending else f"call_{i}"
            if message.tool_name:
                item["name"] = message.tool_name
        out.append(item)
    return out
