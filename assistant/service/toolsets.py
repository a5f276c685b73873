"""The service's own tools (volume, ...) beside the smart home's, behind the one ``Bus`` the loop uses.

A ``ToolSet`` gives a schema in the grammar's shape (``assistant.engine.grammar.grammar``: closed sets,
short descriptions) and executes its calls, answering in words. ``ToolsBus`` adds the sets to the
home bus: ``tools`` (the declarations the model sees), ``tool_schema`` (what the grammar compiles)
and ``execute`` (routed by tool name) all include them, so the turn, the grammar and
``end_conversation`` need no change. Register a new set with ``with_tools(bus, [..., new_set])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from assistant.protocols import ToolCall
from assistant.service.ports import TimingSink


class ToolSet(Protocol):
    def tool_schema(self) -> dict[str, dict[str, Any]]: ...

    def execute(self, call: ToolCall) -> str: ...


def declarations(schema: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI function-shaped declarations (what Gemma's chat template renders) from a schema."""
    return [{"type": "function", "function": {
        "name": name, "description": tool["description"],
        "parameters": {"type": "object", "properties": {k: dict(v) for k, v in tool["arguments"].items()},
                       "required": list(tool["required"])}}} for name, tool in schema.items()]


class ToolsBus:
    """``bus`` plus ``sets``: a :class:`assistant.protocols.Bus` with the grammar's ``tool_schema``."""

    def __init__(self, bus: Any, sets: Sequence[ToolSet]) -> None:
        self.bus, self.sets = bus, list(sets)

    def _schemas(self) -> list[tuple[ToolSet, dict[str, dict[str, Any]]]]:
        return [(s, s.tool_schema()) for s in self.sets]

    def tools(self, utterance_hint: str = "") -> list[dict[str, Any]]:
        own = [d for _, schema in self._schemas() for d in declarations(schema)]
        return [*self.bus.tools(utterance_hint), *own]

    def tool_schema(self, utterance_hint: str = "") -> dict[str, dict[str, Any]]:
        merged = dict(self.bus.tool_schema(utterance_hint))
        for _, schema in self._schemas():
            merged.update(schema)
        return merged

    def execute(self, call: ToolCall) -> str:
        for tool_set, schema in self._schemas():
            if call.name in schema:
                return tool_set.execute(call)
        return str(self.bus.execute(call))

    def set_timing_sink(self, sink: TimingSink | None) -> None:
        setter = getattr(self.bus, "set_timing_sink", None)
        if setter is not None:
            setter(sink)

    def __getattr__(self, name: str) -> Any:  # last_result, home, ... of the wrapped bus
        return getattr(self.bus, name)


def with_tools(bus: Any, sets: Sequence[ToolSet]) -> Any:
    """``bus`` with the service's tool sets (``bus`` itself when there are none)."""
    return ToolsBus(bus, sets) if sets else bus
