"""The clock's tools for the model (timers, alarms, the time), and ``ClockBus``, which adds them to a bus.

Every argument is a closed set (names from ``timers.names`` plus the running timers' names,
bounded integers, enums; seconds in steps of 5 and no hours argument, because bare numbers in a row
multiply the alternatives the token grammar enumerates), so the calls follow the same grammar as the device tools. Each call
is validated here before it acts and answered by :class:`ClockBook` in words; the model never
states a time or a timer itself. Declarations are kept short (they are prefilled once at start).

    set_timer(minutes?, seconds?, name?)   timer_status(name?) (and the alarms)   change_timer(minutes?, seconds?, name?)
    cancel_timer(name?)  ("all" cancels every timer)   add_alarm(hour, minute?, repeat?)
    cancel_alarm(hour?, minute?)  (no hour: every alarm)   get_time(what: time | date)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from assistant.clock.book import ClockBook
from assistant.clock.phrases import say
from assistant.clock.store import REPEATS
from assistant.protocols import Bus, ToolCall

log = logging.getLogger("assistant.clock")

REFUSED = say("timer_refused")  # in English; ``execute`` answers in the reply's language


def _int(lo: int, hi: int, step: int = 1) -> dict[str, Any]:
    return {"type": "integer", "minimum": lo, "maximum": hi, **({"step": step} if step != 1 else {})}


def clock_schema(names: list[str]) -> dict[str, dict[str, Any]]:
    """The tools in the grammar's schema shape (``assistant.engine.grammar.grammar``)."""
    name = {"type": "string", "enum": names}
    tools: dict[str, tuple[str, dict[str, Any], list[str], int]] = {
        "set_timer": ("Start a timer.", {"minutes": _int(0, 300), "seconds": _int(0, 55, 5), "name": name}, [], 1),
        "timer_status": ("Say what is left on the timers, and the alarms.", {"name": name}, [], 0),
        "change_timer": ("Add time to a timer, or take some off (negative).",
                         {"minutes": _int(-60, 60), "seconds": _int(-45, 45, 15), "name": name}, [], 1),
        "cancel_timer": ("Cancel a timer (name all: every timer).",
                         {"name": {"type": "string", "enum": [*names, "all"]}}, [], 0),
        "add_alarm": ("Set a wake-up alarm (24-hour clock).",
                      {"hour": _int(0, 23), "minute": _int(0, 55, 5), "repeat": {"type": "string", "enum": list(REPEATS)}},
                      ["hour"], 0),
        "cancel_alarm": ("Cancel the alarm at a time, or every alarm without one.",
                         {"hour": _int(0, 23), "minute": _int(0, 55, 5)}, [], 0),
        "get_time": ("Tell the time or the date.", {"what": {"type": "string", "enum": ["time", "date"]}},
                     ["what"], 0),
    }
    return {tool: {"description": desc, "arguments": args, "required": req, "per_device": {}, "min_optional": least}
            for tool, (desc, args, req, least) in tools.items()}


def clock_declarations(schema: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI function-shaped declarations (what the chat template renders). Only ``set_timer`` lists the names:
    the grammar holds the closed sets anyway, and each listed name costs prefill tokens."""
    out = []
    for tool, spec in schema.items():
        props = {k: {kk: vv for kk, vv in v.items() if kk == "type" or (kk == "enum" and (k != "name" or tool == "set_timer"))}
                 for k, v in spec["arguments"].items()}
        out.append({"type": "function", "function": {
            "name": tool, "description": spec["description"],
            "parameters": {"type": "object", "properties": props, "required": list(spec["required"])}}})
    return out


class ClockTools:
    """The clock's tools over a :class:`ClockBook`: schema, declarations and ``execute``."""

    def __init__(self, book: ClockBook, names: list[str]) -> None:
        self.book = book
        self.configured = [n for n in dict.fromkeys(names) if n and n != "all"]

    def names(self) -> list[str]:
        return [*self.configured, *(n for n in self.book.names() if n not in self.configured)]

    def schema(self) -> dict[str, dict[str, Any]]:
        return clock_schema(self.names())

    def declarations(self) -> list[dict[str, Any]]:
        return clock_declarations(self.schema())

    def handles(self, name: str) -> bool:
        return name in TOOL_NAMES

    def execute(self, call: ToolCall) -> str:
        args = call.arguments if isinstance(call.arguments, Mapping) else {}
        try:
            checked = _validate(call.name, args, self.schema())
        except ValueError as err:
            log.info("refused %s: %s", call.raw or call.name, err)
            return say("timer_refused", self.book.reply_language() or self.book.default_language)
        book = self.book
        name = str(checked.get("name", ""))
        if call.name == "set_timer":
            return book.set_timer(60 * checked.get("minutes", 0) + checked.get("seconds", 0), name)
        if call.name == "timer_status":
            return book.left(name) if name else book.status()
        if call.name == "change_timer":
            return book.adjust(60 * checked.get("minutes", 0) + checked.get("seconds", 0), name)
        if call.name == "cancel_timer":
            return book.cancel(name)
        if call.name == "add_alarm":
            return book.add_alarm(checked["hour"], checked.get("minute", 0), checked.get("repeat", "once"))
        if call.name == "cancel_alarm":
            return book.cancel_alarm(checked.get("hour"), checked.get("minute"))
        return book.time_or_date(checked["what"])


TOOL_NAMES = frozenset(clock_schema([]))


def _validate(tool: str, args: Mapping[str, Any], schema: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The arguments, checked against the tool's closed sets (the grammar's own rules, for unconstrained calls)."""
    spec = schema.get(tool)
    if spec is None:
        raise ValueError(f"unknown tool {tool!r}")
    out: dict[str, Any] = {}
    for key, value in args.items():
        arg = spec["arguments"].get(key)
        if arg is None:
            raise ValueError(f"unknown argument {key!r}")
        if "enum" in arg:
            if value not in arg["enum"]:
                raise ValueError(f"{key}={value!r} is not one of {arg['enum']}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ValueError(f"{key}={value!r} is not a whole number")
        elif not arg["minimum"] <= value <= arg["maximum"] or (value - arg["minimum"]) % arg.get("step", 1):
            raise ValueError(f"{key}={value} is out of range")
        out[key] = int(value) if "enum" not in arg else value
    missing = [r for r in spec["required"] if r not in out]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    return out


class ClockBus:
    """A :class:`assistant.protocols.Bus` that offers the clock's tools after ``inner``'s and runs them itself."""

    def __init__(self, inner: Bus, tools: ClockTools) -> None:
        self.inner = inner
        self.clock = tools
        self.entities: Any = None  # the MQTT entities (``ClockEntities``) when MQTT is on

    def tools(self, utterance_hint: str = "") -> list[dict[str, Any]]:
        return [*self.inner.tools(utterance_hint), *self.clock.declarations()]

    def tool_schema(self, utterance_hint: str = "") -> dict[str, dict[str, Any]]:
        inner = getattr(self.inner, "tool_schema", None)
        return {**(inner(utterance_hint) if inner is not None else {}), **self.clock.schema()}

    def execute(self, call: ToolCall) -> str:
        if self.clock.handles(call.name):
            return self.clock.execute(call)
        return self.inner.execute(call)

    def set_timing_sink(self, sink: Any) -> None:
        setter = getattr(self.inner, "set_timing_sink", None)
        if setter is not None:
            setter(sink)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
