"""Build the assistant from the configuration: the one place that constructs real stages.

``build_assistant(config)`` wires whatever ``Parts`` it is given (tests pass named doubles)
or, by default, the real stages from ``real_parts``. Only ``real_parts`` imports the audio,
engine and MQTT stages, lazily, so a build without one of them fails with one line.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant.config import Config, state_dir
from assistant.errors import AssistantError
from assistant.protocols import AudioSource, Bus, Engine, ToolCall, Tts
from assistant.service.actions import ActionRunner
from assistant.service.latency import FILE_NAME, LatencyLog
from assistant.service.loop import Assistant
from assistant.service.ports import Announcer, Endpointer, LatencyPublisher, NullAnnouncer, Player, WakeDetector
from assistant.service.sdnotify import Notifier, WatchdogPinger
from assistant.service.turn import Stages

log = logging.getLogger("assistant.wiring")


@dataclass
class Parts:
    """Every component the loop needs."""

    source: AudioSource
    detector: WakeDetector
    endpointer: Endpointer
    engine: Engine
    bus: Bus
    tts: Tts
    player: Player
    announcer: Announcer = field(default_factory=NullAnnouncer)
    latency_publisher: LatencyPublisher | None = None


class NoDevicesBus:
    """The bus when ``mqtt.enabled = false``: no device tools, and says so if asked anyway."""

    def tools(self, utterance_hint: str = "") -> list[dict[str, Any]]:
        return []

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
    stages = Stages(parts.engine, parts.bus, parts.tts, parts.player, ActionRunner(parts.bus), config.model.system_prompt)
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
    )


def _ready(notifier: Notifier) -> None:
    """The first audio frame arrived: model and microphone are ready."""
    notifier.ready("Listening for the wake word")
    log.info("ready")


def _stage(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name and module.startswith(err.name):
            raise AssistantError(f"this build has no {module} (stage not installed); cannot run the assistant") from None
        raise


def real_parts(config: Config, source: AudioSource | None, status: Callable[[str], object]) -> Parts:
    """Construct the real stages. MERGE: confirm these names against the stages as delivered."""
    status("Loading the model")
    engine_mod = _stage("assistant.engine")
    engine = engine_mod.load_engine(config)
    status("Opening audio")
    endpoint = _stage("assistant.audio.endpoint")
    playback = _stage("assistant.audio.playback")
    wake = _stage("assistant.audio.wakeword")
    tts_mod = _stage("assistant.audio.tts")
    if source is None:
        capture = _stage("assistant.audio.capture")
        source = capture.open_microphone(config.audio)
    bus: Bus = NoDevicesBus()
    announcer: Announcer = NullAnnouncer()
    publisher: LatencyPublisher | None = None
    if config.mqtt.enabled:
        status("Connecting to the MQTT broker")
        home = _stage("assistant.home")
        bus = home.connect(config.mqtt)
        announcer = home.announcer(bus)
        publisher = home.latency_publisher(bus)
    return Parts(
        source=source,
        detector=wake.Detector(config.wakeword),
        endpointer=endpoint.Endpointer(config.vad),
        engine=engine,
        bus=bus,
        tts=tts_mod.make_tts(config.tts),
        player=playback.Player(config.audio),
        announcer=announcer,
        latency_publisher=publisher,
    )
