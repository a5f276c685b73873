"""The router: the local model answers, or escalates a question in text to a remote tier.

The local model (an :class:`~assistant.protocols.Engine`) is offered one extra tool,
:func:`escalation_tool`, whose only argument is the question in text. When it calls it, the
question (never audio) goes to the first remote tier whose breaker allows it, and that
tier's answer is streamed on as the reply. If every tier is disabled, open, slow or failing,
the router says so (``fallback_notice``) and the local model answers without the tool.
Rules in config can force a request local or remote by its text. ``last_record`` tells
which tier answered. The router itself satisfies the Engine protocol.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.protocols import Engine, Event, Message, TextDelta, Tier, ToolCall
from assistant.tiers.breaker import CircuitBreaker
from assistant.tiers.errors import PrivacyError, TierError
from assistant.tiers.rules import LOCAL, REMOTE, Rule, match

log = logging.getLogger(__name__)

LOCAL_NAME = "local"
REMOTE_SYSTEM = "You are answering a question asked aloud to a voice assistant. Answer in plain spoken sentences, briefly."


def escalation_tool(name: str = "ask_expert") -> dict[str, Any]:
    """The tool declaration through which the local model hands a question to a larger model."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": (
                "Ask a larger expert model a question that needs broad knowledge, careful reasoning or a long answer. "
                "Never use it to control devices. Pass the user's whole question, in the user's language."
            ),
            "parameters": {
                "type": "object",
                "properties": {"question": {"type": "string", "description": "The user's question, complete, as text"}},
                "required": ["question"],
            },
        },
    }


@dataclass
class TurnRecord:
    """What happened in one turn: which tier answered, and why."""

    tier: str = LOCAL_NAME
    escalated: bool = False
    question: str = ""
    rule: str = ""
    fallback: str = ""
    attempts: list[tuple[str, str]] = field(default_factory=list)
    remote_s: float = 0.0
    actions: list[ToolCall] = field(default_factory=list)


class Router:
    """Engine-protocol object combining the local engine with remote tiers (privacy already applied)."""

    def __init__(self, local: Engine, tiers: Sequence[Tier], *, privacy: str = "text", rules: Sequence[Rule] = (),
                 breaker_failures: int = 2, breaker_cooldown_s: float = 60.0,
                 fallback_notice: str = "The expert is not reachable, so I will answer myself.",
                 tool_name: str = "ask_expert", clock: Callable[[], float] = time.monotonic) -> None:
        if privacy not in ("off", "text"):
            raise PrivacyError(f"unknown privacy setting {privacy!r} (allowed: off, text)")
        self.local = local
        self.tiers = list(tiers) if privacy == "text" else []
        self.privacy = privacy
        self.rules = list(rules)
        self.fallback_notice = fallback_notice
        self.tool_name = tool_name
        self.breakers = {t.name: CircuitBreaker(t.name, breaker_failures, breaker_cooldown_s, clock) for t in self.tiers}
        self._clock = clock
        self.last_record = TurnRecord()

    def generate(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = ()) -> Iterator[Event]:
        """Events of one turn; ``last_record`` is filled in as it goes."""
        record = TurnRecord()
        self.last_record = record
        return self._turn(list(messages), list(tools), record)

    def _turn(self, messages: list[Message], tools: list[Mapping[str, Any]], record: TurnRecord) -> Iterator[Event]:
        rule = match(self.rules, _last_user_text(messages))
        if rule is not None:
            record.rule = rule.describe()
            if rule.tier == LOCAL or not self.tiers:
                yield from self._local(messages, tools, record, escalate=False)
                return
            yield from self._escalate(messages, tools, _last_user_text(messages), rule.tier, record)
            return
        if not self.tiers:
            yield from self._local(messages, tools, record, escalate=False)
            return
        question: str | None = None
        for event in self._local_events(messages, [*tools, escalation_tool(self.tool_name)]):
            if isinstance(event, ToolCall) and event.name == self.tool_name:
                question = str(event.arguments.get("question") or "").strip() if not event.error else ""
                break
            if isinstance(event, ToolCall):
                record.actions.append(event)
            yield event
        if question is None:
            return
        record.escalated = True
        rule = match(self.rules, question)
        if rule is not None:
            record.rule = rule.describe()
            if rule.tier == LOCAL:
                yield from self._local(messages, tools, record, escalate=False)
                return
        yield from self._escalate(messages, tools, question, rule.tier if rule else REMOTE, record)

    def _escalate(self, messages: list[Message], tools: list[Mapping[str, Any]], question: str, target: str,
                  record: TurnRecord) -> Iterator[Event]:
        record.escalated = True
        record.question = question
        if not question:
            record.fallback = "the local model asked for the expert without a question"
        else:
            for tier in self._candidates(target, record):
                outcome = yield from self._try_tier(tier, question, record)
                if outcome:
                    return
        if not record.fallback:
            record.fallback = "; ".join(f"{n}: {o}" for n, o in record.attempts) or "no remote tier available"
        log.info("answering locally: %s", record.fallback)
        yield TextDelta(self.fallback_notice + " ")
        yield from self._local(messages, tools, record, escalate=False)

    def _candidates(self, target: str, record: TurnRecord) -> list[Tier]:
        chosen = [t for t in self.tiers if target in (REMOTE, t.name)]
        usable = []
        for tier in chosen:
            if self.breakers[tier.name].allow():
                usable.append(tier)
            else:
                record.attempts.append((tier.name, f"skipped, breaker open ({self.breakers[tier.name].last_error})"))
        return usable

    def _try_tier(self, tier: Tier, question: str, record: TurnRecord) -> Generator[Event, None, bool]:
        """Stream one tier's answer; returns True when it answered completely."""
        started = self._clock()
        spoke = False
        try:
            request = [Message(role="system", text=REMOTE_SYSTEM), Message(role="user", text=question)]
            for event in tier.generate(request, ()):
                if isinstance(event, TextDelta) and event.text:
                    spoke = True
                    yield event
                elif isinstance(event, ToolCall):
                    log.warning("tier %s: ignoring tool call %r (remote tiers only answer)", tier.name, event.name)
        except TierError as err:
            self.breakers[tier.name].failure(str(err))
            record.attempts.append((tier.name, f"failed: {err}" + (" (after a partial answer)" if spoke else "")))
            record.remote_s += self._clock() - started
            return False
        record.remote_s += self._clock() - started
        if not spoke:
            self.breakers[tier.name].failure("empty answer")
            record.attempts.append((tier.name, "failed: empty answer"))
            return False
        self.breakers[tier.name].success()
        record.attempts.append((tier.name, "answered"))
        record.tier = tier.name
        return True

    def _local(self, messages: list[Message], tools: list[Mapping[str, Any]], record: TurnRecord,
               escalate: bool) -> Iterator[Event]:
        record.tier = LOCAL_NAME
        offered = [*tools, escalation_tool(self.tool_name)] if escalate else tools
        for event in self._local_events(messages, offered):
            if isinstance(event, ToolCall) and event.name == self.tool_name:
                log.warning("local model asked for the expert again; ignored")
                continue
            if isinstance(event, ToolCall) and event in record.actions:
                log.info("not repeating %s, already done in this turn", event.name)
                continue
            yield event

    def _local_events(self, messages: list[Message], tools: list[Mapping[str, Any]]) -> Iterator[Event]:
        events = self.local.generate(messages, tools)
        try:
            yield from events
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()


def _last_user_text(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return message.text.strip()
    return ""
