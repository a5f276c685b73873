"""One turn: utterance audio in, streamed reply spoken, tool calls executed as they complete."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.audio.playback import SentenceSplitter
from assistant.protocols import Bus, Engine, LiveAudio, Message, Samples, TextDelta, ToolCall, Tts
from assistant.service.actions import Action, ActionRunner
from assistant.service.latency import LatencyRecord
from assistant.service.ports import Player, Ringer, Timed
from assistant.service.speech import SpeechStream

log = logging.getLogger("assistant.turn")

STOP_TOOL_NAME = "end_conversation"
STOP_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": STOP_TOOL_NAME,
        "description": "The user says stop, cancel, never mind or that's all: end the conversation now.",
        "parameters": {"type": "object", "properties": {}},
    },
}
ENGINE_FAILED = "Sorry, something went wrong."
NOT_UNDERSTOOD = "Sorry, I did not understand that."
ACTION_WAIT_S = 10.0
PLAYBACK_WAIT_S = 300.0


@dataclass
class Stages:
    """The parts a turn uses (real stages after wiring, doubles in tests)."""

    engine: Engine
    bus: Bus
    tts: Tts
    player: Player
    actions: ActionRunner
    system_prompt: str
    timed: tuple[Timed, ...] = ()  # more parts reporting moments (the local engine under a tiers router)
    stream_audio: bool = False  # the engine takes live audio (``Message.live``): turns start at speech start
    ringer: Ringer | None = None  # timers and alarms (ticked by the loop)


@dataclass
class TurnResult:
    """How a turn ended (ok, stopped, cancelled, failed) and the messages it adds to the conversation."""

    outcome: str
    text: str = ""
    messages: list[Message] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)


class Turn:
    """Runs on the engine thread; ``cancel`` may be called from any thread (barge-in, shutdown)."""

    def __init__(
        self,
        turn_id: int,
        samples: Samples | LiveAudio,
        history: Sequence[Message],
        stages: Stages,
        record: LatencyRecord,
        on_speaking: Callable[[], None] = lambda: None,
    ) -> None:
        self.id = turn_id
        self.live = samples if isinstance(samples, LiveAudio) else None
        self._samples = samples if not isinstance(samples, LiveAudio) else None
        self.history = list(history)
        self.stages = stages
        self.record = record
        self.cancelled = threading.Event()
        self._on_speaking = on_speaking
        self.speech = SpeechStream(stages.tts, on_first_audio=self._first_audio)
        self._playing = False

    @property
    def samples(self) -> Samples:
        """The utterance (a live one once its audio is closed)."""
        if self.live is not None:
            return self.live.samples()
        assert self._samples is not None
        return self._samples

    def cancel(self) -> None:
        self.cancelled.set()
        if self.live is not None:
            self.live.cancel()
        self.speech.cancel()

    def _first_audio(self) -> None:
        self.record.mark("first_audio")
        self._on_speaking()

    def _say(self, text: str) -> None:
        if self.cancelled.is_set() or not text.strip():
            return
        self.speech.say(text)
        if not self._playing:
            self._playing = True
            self.stages.player.play(self.speech)

    def run(self) -> TurnResult:
        _set_sinks(self.stages, self.record)
        try:
            try:
                result = self._generate()
            except Exception as err:
                log.error("the engine failed: %s", err or type(err).__name__)
                self._say(ENGINE_FAILED)
                result = TurnResult("failed")
            self._finish_actions(result)
        finally:
            _set_sinks(self.stages, None)
        self.record.tier = _tier(self.stages.engine)
        self.speech.end()
        self._wait_playback()
        if self.cancelled.is_set() and result.outcome == "ok":
            result.outcome = "cancelled"
        self.record.outcome = result.outcome
        return result

    def _generate(self) -> TurnResult:
        stages = self.stages
        spoken = Message("user", live=self.live) if self.live is not None else Message("user", audio=self.samples)
        messages = [Message("system", text=stages.system_prompt), *self.history, spoken]
        tools = turn_tools(stages.bus)
        splitter = SentenceSplitter()
        text, calls, actions = "", [], []
        events = stages.engine.generate(messages, tools)
        try:
            for event in events:
                if self.cancelled.is_set():
                    break
                self.record.mark("first_token")
                if isinstance(event, TextDelta):
                    text += event.text
                    for sentence in splitter.push(event.text):
                        self._say(sentence)
                elif isinstance(event, ToolCall):
                    self.record.mark("tool_call")
                    if event.name == STOP_TOOL_NAME:
                        log.info("the user ended the conversation")
                        self.speech.cancel()
                        stages.player.stop()
                        return TurnResult("stopped", text)
                    calls.append(event)
                    if event.error:
                        log.warning("unusable tool call %r: %s", event.raw[:80], event.error)
                        continue
                    actions.append(stages.actions.submit(event, self.cancelled))
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        for sentence in splitter.flush():
            self._say(sentence)
        if calls and not actions and not text.strip():
            self._say(NOT_UNDERSTOOD)
        reply = Message("model", text=text, tool_calls=tuple(calls))
        return TurnResult("ok", text, [Message("user", audio=self.samples), reply], actions)

    def _finish_actions(self, result: TurnResult) -> None:
        """Wait for this turn's commands, speak their results, add them to the conversation."""
        for action in result.actions:
            if not action.done.wait(ACTION_WAIT_S):
                log.warning("command %s is still running; not waiting for it", action.call.name)
                continue
            if action.skipped:
                continue
            self._say(action.result)
            result.messages.append(Message("tool", text=action.result, tool_name=action.call.name))

    def _wait_playback(self) -> None:
        if not self._playing:
            return
        waited = 0.0
        while not self.cancelled.is_set() and waited < PLAYBACK_WAIT_S:
            if self.stages.player.wait(0.1):
                return
            waited += 0.1


def turn_tools(bus: Bus) -> list[dict[str, Any]]:
    """The tools a turn offers the model: the bus's device tools, then ``end_conversation``."""
    try:
        devices = list(bus.tools(""))
    except Exception as err:
        log.warning("no device tools this turn (the bus failed: %s)", err or type(err).__name__)
        devices = []
    return [*devices, STOP_TOOL]


def _tier(engine: Engine) -> str:
    """Which tier answered, when the engine is a tiers router (``last_record.tier``), else ""."""
    return str(getattr(getattr(engine, "last_record", None), "tier", "") or "")


def _set_sinks(stages: Stages, record: LatencyRecord | None) -> None:
    for part in (stages.engine, stages.bus, *stages.timed):
        if isinstance(part, Timed):
            part.set_timing_sink(record.mark if record is not None else None)
