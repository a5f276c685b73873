"""Build the assistant from the configuration: the one place that constructs real stages.

``build_assistant(config)`` wires whatever ``Parts`` it is given (tests pass named doubles)
or, by default, the real stages from ``real_parts``. Only ``real_parts`` and the helpers it
calls import the audio, engine, home, tiers and hardware stages, lazily, inside the functions,
so ``import assistant`` stays cheap (and never imports torch).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant.config import Config, graph_cache_dir, model_dir, state_dir
from assistant.config.schema import ModelConfig
from assistant.errors import AssistantError
from assistant.protocols import AudioSource, Bus, Engine, Message, ToolCall, Tts
from assistant.service.actions import ActionRunner
from assistant.service.adapters import TimedBus, TimedEngine, grammar_start, latency_sensor, model_start
from assistant.service.arbitration import WakeArbiter
from assistant.service.latency import FILE_NAME, LatencyLog
from assistant.service.loop import Assistant
from assistant.service.ports import (
    Announcer,
    Endpointer,
    Interjections,
    LatencyPublisher,
    NullAnnouncer,
    Player,
    Ringer,
    Timed,
    WakeDetector,
)
from assistant.service.sdnotify import Notifier, WatchdogPinger
from assistant.service.turn import STOP_TOOL_NAME, Stages, turn_tools

log = logging.getLogger("assistant.wiring")


@dataclass
class Parts:
    """Every component the loop needs; ``timed`` are extra parts that report latency moments
    (the local engine under a router); ``closers`` run when the assistant shuts down."""

    source: AudioSource
    detector: WakeDetector
    endpointer: Endpointer
    engine: Engine
    bus: Bus
    tts: Tts
    player: Player
    announcer: Announcer = field(default_factory=NullAnnouncer)
    latency_publisher: LatencyPublisher | None = None
    timed: tuple[Timed, ...] = ()
    closers: list[Callable[[], object]] = field(default_factory=list)
    stream_audio: bool = False  # the engine takes live audio (``Message.live``, the local Gemma model)
    interjections: Interjections | None = None  # announcements, spoken while idle
    system_prompt: str = ""  # '' = config.model.system_prompt
    ringer: Ringer | None = None  # timers and alarms (``assistant.clock``)
    arbiter: WakeArbiter | None = None  # several assistants on one broker: which one answers a wake word


class NoDevicesBus:
    """The bus when ``mqtt.enabled = false``: no device tools, and says so if asked anyway."""

    def tools(self, utterance_hint: str = "") -> list[dict[str, Any]]:
        return []

    def tool_schema(self, utterance_hint: str = "") -> dict[str, dict[str, Any]]:
        return {}

    def execute(self, call: ToolCall) -> str:
        return "The smart home is not connected."


def build_assistant(
    config: Config,
    parts: Parts | None = None,
    notifier: Notifier | None = None,
    source: AudioSource | None = None,
) -> Assistant:
    """The assistant with ``parts``, or with the real stages (and ``source``, else the microphone)."""
    notifier = notifier or Notifier()
    if parts is None:
        parts = real_parts(config, source, notifier.status)
    latency = LatencyLog(
        state_dir(config) / FILE_NAME,
        keep=config.service.latency_records,
        file_records=config.service.latency_file_records,
        publisher=parts.latency_publisher,
    )
    stages = Stages(parts.engine, parts.bus, parts.tts, parts.player, ActionRunner(parts.bus),
                    parts.system_prompt or config.model.system_prompt, timed=parts.timed, stream_audio=parts.stream_audio,
                    ringer=parts.ringer)
    return Assistant(
        parts.source,
        parts.detector,
        parts.endpointer,
        stages,
        parts.announcer,
        latency,
        config.service,
        pinger=WatchdogPinger(notifier),
        on_first_frame=lambda: _ready(notifier),
        on_close=lambda: _close_all(parts.closers),
        interjections=parts.interjections,
        arbiter=parts.arbiter,
    )


def _ready(notifier: Notifier) -> None:
    """The first audio frame arrived: model and microphone are ready."""
    notifier.ready("Listening for the wake word")
    log.info("ready")


def _close_all(closers: list[Callable[[], object]]) -> None:
    for close in closers:
        try:
            close()
        except Exception as err:
            log.debug("closing: %s", err)


def resolved_model_config(config: Config) -> ModelConfig:
    """``config.model``, with ``threads = 0`` replaced by the hardware profile's thread count."""
    if config.model.threads:
        return config.model
    from assistant.hardware import detect, resolve

    try:
        machine = detect(models_dir=model_dir(config))
        threads = resolve(config.service.hardware_profile, machine).threads_for(machine)
    except AssistantError as err:
        log.warning("%s; ONNX Runtime chooses the thread count", err)
        return config.model
    log.info("using %d threads (hardware profile %s)", threads, config.service.hardware_profile)
    return dataclasses.replace(config.model, threads=threads)


def grammar_mode(config: Config) -> str:
    """``service.tool_grammar``, with ``auto`` resolved: constrain unless a remote tier needs ``ask_expert``
    (its free-text question cannot be a closed grammar)."""
    mode = config.service.tool_grammar
    if mode != "auto":
        return mode
    remote = config.tiers.privacy == "text" and any(t.enabled for t in config.tiers.remote)
    return "off" if remote else "constrain"


def with_stop_tool(schema: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The device schema plus the turn's ``end_conversation`` tool (no arguments)."""
    stop = {"description": "End the conversation.", "arguments": {}, "required": [], "per_device": {}}
    return {**schema, STOP_TOOL_NAME: stop}


def local_engine(model: Any, bus: Any, mode: str) -> TimedEngine:
    """The local model as a timed ``Engine``; with ``mode`` constrain/force its tool calls follow ``bus``'s grammar."""
    if mode == "off":
        return TimedEngine(model_start(model), model)
    from assistant.engine.constrained import GrammarEngine

    grammar = GrammarEngine(model, lambda: with_stop_tool(bus.tool_schema("")), force=mode == "force")
    return TimedEngine(grammar_start(grammar), grammar)


def progress_line(text: str) -> None:
    """One line of load-time progress (building an optimised graph) on stderr."""
    print(f"assistant: {text}", file=sys.stderr, flush=True)


def load_model(config: Config, status: Callable[[str], object]) -> Any:
    """The local Gemma model (one-line error when the directory is missing or incomplete)."""
    from assistant.engine.model import GemmaModel

    status("Loading the model")
    return GemmaModel.load(model_dir(config), resolved_model_config(config), graph_cache=graph_cache_dir(config),
                           progress=progress_line)


def open_bus(config: Config, status: Callable[[str], object]) -> tuple[Any, Any]:
    """``(bus, home)``: the MQTT home (``home`` None when MQTT is off). A broker that cannot be
    reached is not fatal: the home keeps reconnecting and commands say the hub is unreachable."""
    if not config.mqtt.enabled:
        return NoDevicesBus(), None
    from assistant.home.home import open_home

    status("Connecting to the MQTT broker")
    home = open_home(config.mqtt, require_broker=False)  # an unreachable broker: it warns and keeps retrying
    return TimedBus(home), home


def warm_prefix(model: Any, bus: Bus, home: Any, config: Config, status: Callable[[str], object]) -> int:
    """Prefill the system turn (system prompt and the turn's tools) before the first wake word, so the
    first spoken turn restores it from the prefix cache. Waits for the retained discovery first, so
    the tools are those the first turn will see; a device found later only costs one rebuild."""
    if getattr(model, "prefix_cache", None) is None:
        return 0
    if home is not None and home.connection.connected:
        home.wait_for_discovery(quiet_s=0.5, timeout=5.0)
    status("Preparing the system prompt and tools (once per start)")
    started = time.monotonic()
    n = int(model.warm([Message("system", text=config.model.system_prompt)], turn_tools(bus)))
    if n:
        log.info("prefilled the %d-token system turn in %.1f s", n, time.monotonic() - started)
    return n


def check_microphone(config: Config) -> None:
    """Raise one line when there is no usable input device (the microphone opens later, after the model)."""
    from assistant.audio.devices import find_device, import_sounddevice

    sd = import_sounddevice()
    device = find_device(config.audio.input_device, "input")
    try:
        sd.query_devices(device, "input")
    except (ValueError, sd.PortAudioError):
        raise AssistantError("no microphone: plug one in, or set audio.input_device (see 'assistant devices')") from None


def real_parts(config: Config, source: AudioSource | None, status: Callable[[str], object]) -> Parts:
    """Construct the real stages: model, MQTT home, tiers router, wake word, VAD, TTS, speaker, microphone."""
    from assistant.audio import factory
    from assistant.audio.endpoint import Endpointer as AudioEndpointer
    from assistant.clock.service import make_ringer, with_clock
    from assistant.engine.graphs.model_dir import check_dir
    from assistant.service.everyday import Everyday, with_reply_language
    from assistant.tiers import build_router

    config = with_reply_language(config)
    check_dir(model_dir(config))  # the cheap checks first: no model, no microphone are one line at once
    if source is None:
        check_microphone(config)
    model = load_model(config, status)
    bus, home = open_bus(config, status)
    clock = with_clock(config, bus, home) if config.timers.enabled else None  # timers, alarms, the time
    bus = clock or bus
    closers: list[Callable[[], object]] = [home.close] if home is not None else []
    try:
        everyday = Everyday.build(config, home)
        bus = everyday.with_tools(bus)
        local = local_engine(model, bus, grammar_mode(config))
        warm_prefix(model, bus, home, config, status)
        status("Opening audio")
        detector = factory.make_wakeword(config.wakeword)
        endpointer = AudioEndpointer(config.vad, factory.make_vad(config.vad))
        tts = everyday.tts
        if source is None:
            source = factory.open_source(config.audio)
        player = everyday.player(factory.make_player(config.audio))
        ringer = make_ringer(config, clock, tts, player) if clock is not None else None
    except BaseException:
        _close_all(closers)
        raise
    return Parts(
        source=source,
        detector=detector,
        endpointer=endpointer,
        engine=build_router(local, config.tiers),
        bus=bus,
        tts=tts,
        player=player,
        announcer=home.announcer if home is not None else NullAnnouncer(),
        latency_publisher=latency_sensor(home.announcer.publish_latency) if home is not None else None,
        timed=(local,),
        closers=closers,
        stream_audio=config.service.stream_audio and bool(getattr(model, "has_audio", False)),
        interjections=everyday.announcements,
        system_prompt=config.model.system_prompt,
        ringer=ringer,
        arbiter=getattr(home, "arbiter", None),
    )
