"""One full turn outside the loop (``assistant ask``): the model answers, device calls run, the reply is spoken.

The same parts as the service: the local model (tool calls under the devices' grammar), the
tiers router, the MQTT home (its tools offered, its validator executing every call) and the
TTS and speaker. Tools from a ``--tools`` file are offered and printed, never executed.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.config import Config
from assistant.errors import AssistantError
from assistant.protocols import Message, Samples, TextDelta, ToolCall
from assistant.service.adapters import TimedEngine
from assistant.service.wiring import NoDevicesBus, grammar_mode, local_engine, open_bus

log = logging.getLogger("assistant.ask")

DISCOVERY_WAIT_S = 3.0
CONNECT_WAIT_S = 1.5  # a one-shot command does not wait long for a broker that is not there


@dataclass
class Answer:
    """What one turn produced; ``actions`` pairs each executed call with its spoken result."""

    text: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    actions: list[tuple[ToolCall, str]] = field(default_factory=list)
    tier: str = ""
    timings: Any = None
    token_ids: list[int] = field(default_factory=list)
    spoken: list[str] = field(default_factory=list)


class Speaker:
    """TTS and the speaker, opened on first use; a missing speaker is one warning, not a failure."""

    def __init__(self, config: Config, enabled: bool) -> None:
        self.config = config
        self.enabled = enabled
        self._parts: tuple[Any, Any] | None = None

    def say(self, text: str) -> None:
        if not self.enabled or not text.strip():
            return
        if self._parts is None:
            from assistant.audio import factory

            try:
                self._parts = (factory.make_tts(self.config.tts), factory.make_player(self.config.audio))
            except (AssistantError, OSError) as err:
                log.warning("not speaking the reply: %s", err)
                self.enabled = False
                return
        tts, player = self._parts
        player.play(tts.synthesize(text))

    def finish(self, timeout: float = 120.0) -> None:
        if self._parts is not None:
            player = self._parts[1]
            player.wait(timeout)
            player.close()


def ask_once(config: Config, model: Any, text: str, audio: Samples | None, extra_tools: Sequence[Mapping[str, Any]],
             speak: bool, on_text: Callable[[str], object] = lambda text: None) -> Answer:
    """Run one turn and return what happened; ``on_text`` sees the reply text as it streams."""
    mqtt = dataclasses.replace(config.mqtt, connect_timeout_s=min(config.mqtt.connect_timeout_s, CONNECT_WAIT_S))
    from assistant.clock.service import with_clock

    bus, home = open_bus(dataclasses.replace(config, mqtt=mqtt), lambda status: None)
    devices_off = isinstance(bus, NoDevicesBus)
    if config.timers.enabled:
        bus = with_clock(config, bus, home)  # timers, alarms and the time, as in the service
    speaker = Speaker(config, speak)
    try:
        if home is not None and home.connection.connected:
            home.wait_for_discovery(quiet_s=0.3, timeout=DISCOVERY_WAIT_S)
        device_tools = bus.tools("")
        names = {t["function"]["name"] for t in device_tools if "function" in t}
        mode = "off" if extra_tools or devices_off else grammar_mode(config)
        local = local_engine(model, bus, mode)
        engine = _router(local, config)
        answer = _generate(engine, local, Message("user", text=text, audio=audio), [*device_tools, *extra_tools],
                           names, bus, speaker, on_text)
        answer.tier = str(getattr(getattr(engine, "last_record", None), "tier", "") or "")
        speaker.finish()
        return answer
    finally:
        if home is not None:
            home.close()


def _router(local: TimedEngine, config: Config) -> Any:
    from assistant.tiers import build_router

    return build_router(local, config.tiers)


def _generate(engine: Any, local: TimedEngine, message: Message, tools: list[Mapping[str, Any]], names: set[str],
              bus: Any, speaker: Speaker, on_text: Callable[[str], object]) -> Answer:
    from assistant.audio.playback import SentenceSplitter

    answer = Answer()
    splitter = SentenceSplitter()
    for event in engine.generate([message], tools):
        if isinstance(event, TextDelta):
            answer.text += event.text
            on_text(event.text)
            for sentence in splitter.push(event.text):
                _say(answer, speaker, sentence)
        elif isinstance(event, ToolCall):
            answer.calls.append(event)
            if event.name in names and not event.error:
                result = str(bus.execute(event))
                answer.actions.append((event, result))
                _say(answer, speaker, result)
    for sentence in splitter.flush():
        _say(answer, speaker, sentence)
    if local.last is not None:
        answer.timings, answer.token_ids = local.last.timings, list(local.last.token_ids)
    return answer


def _say(answer: Answer, speaker: Speaker, sentence: str) -> None:
    answer.spoken.append(sentence)
    speaker.say(sentence)


