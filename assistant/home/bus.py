"""``MqttBus``: the :class:`assistant.protocols.Bus` the conversation loop talks to.

``tools(hint)`` offers the relevant devices; ``execute(call)`` validates, asks for confirmation
for sensitive devices, publishes, waits for PUBACK and (optionally) the state echo, and returns
one short sentence to speak. ``last_result`` keeps the timings for the latency record.

Confirmation: a call on a lock, alarm or garage door (or any device marked sensitive) returns a
question and parks the action; ``confirm(answer="yes")`` within ``confirm_timeout_s`` performs it,
``confirm(answer="no")`` or any other tool call cancels it.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from assistant.config.schema import MqttConfig
from assistant.home import rooms
from assistant.home import tools as toolbox
from assistant.home.connection import PublishOutcome
from assistant.home.model import MALFORMED
from assistant.home.phrases import describe
from assistant.home.registry import Registry
from assistant.home.validate import Action, Refusal, validate
from assistant.protocols import ToolCall

log = logging.getLogger("assistant.home")
UNREACHABLE = "I can't reach the hub."


class Publisher(Protocol):
    @property
    def connected(self) -> bool: ...

    def publish_command(self, topic: str, payload: str, timeout: float) -> PublishOutcome: ...


@dataclass(frozen=True)
class CommandResult:
    """What happened to the last tool call; timings in seconds (None when that step did not happen)."""

    tool: str
    device: str  # short id, "" when refused before a device was known
    outcome: str  # done | sent | not_responding | offline | unreachable | refused | confirm | cancelled | state
    spoken: str
    topics: tuple[str, ...] = ()
    payloads: tuple[str, ...] = ()
    puback_s: float | None = None
    echo_s: float | None = None
    total_s: float = 0.0


@dataclass(frozen=True)
class Pending:
    action: Action
    expires: float


class MqttBus:
    def __init__(self, registry: Registry, publisher: Publisher, cfg: MqttConfig,
                 on_action: Callable[[str], None] | None = None) -> None:
        self.registry = registry
        self.publisher = publisher
        self.cfg = cfg
        self.last_result: CommandResult | None = None
        self.pending: Pending | None = None
        self._recent: deque[str] = deque(maxlen=20)
        self._on_action = on_action

    def offered(self, utterance_hint: str = "") -> list[Any]:
        return rooms.room_first(toolbox.select(self.registry.devices(), utterance_hint, self.cfg.max_tool_devices,
                                               self.cfg.area, list(self._recent)), self.cfg.area)

    def tool_schema(self, utterance_hint: str = "") -> dict[str, dict[str, Any]]:
        """Per tool, argument names and closed value sets (for a constrained-decoding grammar)."""
        devices = self.offered(utterance_hint)
        schema = toolbox.tool_schema(devices, confirm=True if self.pending else None)
        return rooms.with_room_words(schema, devices, self.cfg.area)

    def tools(self, utterance_hint: str = "") -> list[dict[str, Any]]:
        """Declarations for this turn; ``confirm`` is always there while a question is open."""
        devices = self.offered(utterance_hint)
        schema = rooms.with_room_words(toolbox.tool_schema(devices, confirm=True if self.pending else None), devices,
                                       self.cfg.area)
        declared = toolbox.declarations(schema, devices)
        here = rooms.describe_words(devices, self.cfg.area)
        for tool in declared if here else ():
            device = tool["function"]["parameters"]["properties"].get("device")
            if device is not None:
                device["description"] = "; ".join(filter(None, [device.get("description", ""), here]))
        return declared

    def execute(self, call: ToolCall) -> str:
        if self.cfg.area:
            calls = rooms.resolve(call, self.registry.devices(), self.cfg.area)
            if not calls:
                refusal = f"There is no {call.arguments.get('device')} here that can do that."
                return self._record(CommandResult(call.name, "", "refused", refusal), time.monotonic())
            if len(calls) > 1 or calls[0] is not call:
                spoken = [self._execute(c) for c in calls]
                return next((s for s in spoken if s != "Done."), "Done.")
        return self._execute(call)

    def _execute(self, call: ToolCall) -> str:
        start = time.monotonic()
        if call.name == toolbox.CONFIRM and not call.error:
            return self._confirm(call, start)
        self.pending = None
        try:
            target = validate(call, self.registry)
        except Refusal as refusal:
            log.info("refused tool call %s: %s", call.raw or call.name, refusal)
            return self._record(CommandResult(str(call.name)[:40], "", "refused", str(refusal)), start)
        except MALFORMED:  # an encoder choking on odd discovery data: refuse, never crash the turn
            log.exception("could not build the command for %s", call.raw or call.name)
            return self._record(CommandResult(str(call.name)[:40], "", "refused", "I can't do that."), start)
        if not isinstance(target, Action):
            spoken = describe(target, self.registry.state(target), self.registry.available(target))
            return self._record(CommandResult(call.name, target.id, "state", spoken), start)
        if target.device.sensitive:
            self.pending = Pending(target, start + self.cfg.confirm_timeout_s)
            question = f"Do you really want me to {target.summary}?"
            return self._record(CommandResult(call.name, target.device.id, "confirm", question), start)
        return self._perform(target, start)

    def _confirm(self, call: ToolCall, start: float) -> str:
        pending, self.pending = self.pending, None
        answer = call.arguments.get("answer") if isinstance(call.arguments, Mapping) else None
        if pending is None or start > pending.expires:
            return self._record(CommandResult(call.name, "", "refused", "There is nothing to confirm."), start)
        if answer not in ("yes", True, "true"):
            return self._record(CommandResult(call.name, pending.action.device.id, "cancelled", "OK, I won't."), start)
        return self._perform(pending.action, start)

    def _perform(self, action: Action, start: float) -> str:
        device = action.device
        base: dict[str, Any] = {"tool": action.tool, "device": device.id, "topics": tuple(c.topic for c in action.commands),
                "payloads": tuple(c.payload for c in action.commands)}
        if self.registry.available(device) is False:
            return self._record(CommandResult(**base, outcome="offline", spoken=f"The {device.name} is not responding."), start)
        if not self.publisher.connected:
            return self._record(CommandResult(**base, outcome="unreachable", spoken=UNREACHABLE), start)
        sent_at = time.monotonic()
        puback = 0.0
        for command in action.commands:
            outcome = self.publisher.publish_command(command.topic, command.payload, self.cfg.publish_timeout_s)
            if not outcome.ok:
                log.warning("command to %s not delivered: %s", command.topic, outcome.reason)
                return self._record(CommandResult(**base, outcome="unreachable", spoken=UNREACHABLE), start)
            puback += outcome.puback_s or 0.0
        self._recent.append(device.key)
        if self._on_action:
            self._on_action(action.summary)
        if self.cfg.state_echo_timeout_s <= 0 or not device.state_topics:
            return self._record(CommandResult(**base, outcome="sent", spoken="Done.", puback_s=puback), start)
        if self.registry.wait_for_state(device, action.expect, self.cfg.state_echo_timeout_s, since=sent_at):
            echo = time.monotonic() - sent_at
            return self._record(CommandResult(**base, outcome="done", spoken="Done.", puback_s=puback, echo_s=echo), start)
        spoken = f"The {device.name} is not responding."
        return self._record(CommandResult(**base, outcome="not_responding", spoken=spoken, puback_s=puback), start)

    def _record(self, result: CommandResult, start: float) -> str:
        self.last_result = CommandResult(**{**result.__dict__, "total_s": time.monotonic() - start})
        return result.spoken
