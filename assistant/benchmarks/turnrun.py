"""Spoken turns through the service's own turn code, one generated home at a time (``assistant bench turn``).

Per home: a fresh Mosquitto with the home's retained discovery, the real ``Home`` (MQTT bus), the model
behind the service's engine wrapper (``wiring.local_engine``: the grammar engine, timed), the prefix
warmed as the service does at start-up, the real ``ActionRunner``, espeak-ng TTS and ``Turn``. Each
command is an espeak-ng clip fed to a live turn in 10 ms blocks at real time, as the listener does,
followed by the endpointer's end silence; closing the live audio is the end of speech (the moment
the endpointer declares it; its own delay is ``assistant bench audio``'s figure). The turn's latency
record and the model step's timings give the moments and the per-stage breakdown.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.audio.endpoint import TAIL_S
from assistant.benchmarks.turnhome import Mosquitto, home_messages
from assistant.config.schema import MqttConfig
from assistant.protocols import SAMPLE_RATE, AudioChunk, LiveAudio, Message, Samples, ToolCall, Tts
from assistant.service.actions import ActionRunner
from assistant.service.adapters import TimedBus
from assistant.service.latency import LatencyRecord
from assistant.service.turn import Stages, Turn, turn_tools
from assistant.service.wiring import local_engine

log = logging.getLogger("assistant.bench")
BLOCK = SAMPLE_RATE // 100  # 10 ms, the listener's block
PAUSE_AFTER_S = 0.1  # when the listener marks the end silence: the VAD needs a few frames to call it silence


class DrainPlayer:
    """The speaker's stand-in: takes the reply's audio chunks as fast as they come, plays nothing.

    The turn marks its first audio when the TTS yields the first chunk, before any device would play it.
    """

    def __init__(self) -> None:
        self._done = threading.Event()
        self._done.set()
        self._stop = threading.Event()
        self.chunks = 0

    @property
    def speaking(self) -> bool:
        return not self._done.is_set()

    def play(self, chunks: Iterable[AudioChunk]) -> None:
        self._done.clear()
        self._stop.clear()
        threading.Thread(target=self._drain, args=(chunks,), name="bench-player", daemon=True).start()

    def _drain(self, chunks: Iterable[AudioChunk]) -> None:
        try:
            for _ in chunks:
                self.chunks += 1
                if self._stop.is_set():
                    break
        finally:
            self._done.set()

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def close(self) -> None:
        self.stop()


class ActionBus(TimedBus):
    """The service's timed bus, also noting when each call's execution returned (a question has no PUBACK)."""

    def __init__(self, home: Any) -> None:
        super().__init__(home)
        self.done_at = 0.0

    def execute(self, call: ToolCall) -> str:
        try:
            return super().execute(call)
        finally:
            self.done_at = time.monotonic()


@dataclass
class TurnSample:
    """One measured turn: the latency record (ms since end of speech) and the model step's figures."""

    kind: str
    utterance: str
    ms: dict[str, float]
    outcome: str
    call: str = ""
    prefilled_live: int = 0  # audio rows prefilled before the end of speech
    passes: list[tuple[str, int, float]] = field(default_factory=list)
    encode_s: float = 0.0  # features + encoder after the end of speech
    prompt_s: float = 0.0
    wait_s: float = 0.0  # end of speech -> the model step starts (the live audio still being caught up)
    ahead_s: float = 0.0  # of the model step, the seconds run ahead of the end of speech (in its end silence)
    validate_s: float = 0.0
    puback_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    variant: str = ""


@dataclass
class HomeRun:
    """One generated home on its own broker, with the service's parts wired to ``model``."""

    model: Any
    size: int
    system_prompt: str
    tts: Tts
    mode: str = "force"
    broker: Mosquitto | None = None
    home: Any = None
    stages: Stages | None = None
    devices: int = 0
    tools: int = 0
    warm_tokens: int = 0

    def __enter__(self) -> HomeRun:
        from assistant.home.home import open_home

        self.broker = Mosquitto()
        try:
            self.broker.publish_retained(home_messages(self.size))
            cfg = MqttConfig(host="127.0.0.1", port=self.broker.port, client_id=f"bench-turn-{self.size}",
                             state_echo_timeout_s=0.0, connect_timeout_s=5.0)
            self.home = open_home(cfg, require_broker=True)
            self.home.wait_for_discovery(quiet_s=0.5, timeout=15.0)
            bus = ActionBus(self.home)
            engine = local_engine(self.model, bus, self.mode)
            self.stages = Stages(engine, bus, self.tts, DrainPlayer(), ActionRunner(bus), self.system_prompt,
                                 timed=(engine,), stream_audio=True)
            self.devices = len(self.home.bus.registry.devices())
            self.tools = len(turn_tools(bus))
            self.warm()
        except BaseException:
            self.__exit__()
            raise
        return self

    def warm(self) -> None:
        """The system turn into the prefix cache, as the service does before the first wake word."""
        assert self.stages is not None
        system = [Message("system", text=self.system_prompt)]
        self.warm_tokens = int(self.model.warm(system, turn_tools(self.stages.bus)))

    def __exit__(self, *_exc: object) -> None:
        if self.stages is not None:
            self.stages.actions.close(0.5)
        if self.home is not None:
            self.home.close()
        if self.broker is not None:
            self.broker.close()

    def turn(self, turn_id: int, kind: str, utterance: str, clip: Samples, end_silence_s: float,
             realtime: bool = True, variant: str = "", trim: bool = True, pause: bool = True) -> TurnSample:
        """Speak ``clip`` into a live turn, close it after ``end_silence_s`` of silence, wait for the reply.

        ``trim``: close as the listener does, keeping the speech and ``TAIL_S`` of its trailing silence
        (what the engine has not read yet of the rest is dropped); False: keep the whole end silence.
        ``pause``: as the listener does, mark the tentative end on the live audio once the end silence has
        begun (``PAUSE_AFTER_S`` into it: the VAD's reaction, taken generously), with that same length.
        """
        assert self.stages is not None
        record = LatencyRecord(turn_id)
        live = LiveAudio()
        turn = Turn(turn_id, live, [], self.stages, record)
        done = threading.Event()
        result: list[Any] = []

        def run() -> None:
            try:
                result.append(turn.run())
            finally:
                done.set()

        worker = threading.Thread(target=run, name="bench-engine", daemon=True)
        worker.start()
        silence = np.zeros(int(end_silence_s * SAMPLE_RATE), dtype=np.int16)
        keep = len(clip) + int(min(TAIL_S, end_silence_s) * SAMPLE_RATE) if trim else None
        audio = np.concatenate([_int16(clip), silence])
        mark = len(clip) + int(min(PAUSE_AFTER_S, end_silence_s) * SAMPLE_RATE)
        _feed(live, audio[:mark], realtime)
        if pause and keep is not None:
            live.pause(keep)
        _feed(live, audio[mark:], realtime)
        live.close(keep)
        record.mark("speech_end", live.closed_at)
        closed = time.perf_counter()
        if not done.wait(600):
            turn.cancel()
            raise RuntimeError(f"the turn for {utterance!r} did not finish in 10 minutes")
        outcome = result[0].outcome if result else "failed"
        record.outcome = outcome
        sample = self._sample(kind, utterance, record, result[0] if result else None, closed, variant)
        bus: Any = self.stages.bus
        if "puback" in sample.ms:
            sample.ms["action"] = sample.ms["puback"]
        elif bus.done_at > live.closed_at:  # a question: answered once the state was read
            sample.ms["action"] = round((bus.done_at - live.closed_at) * 1000, 1)
        return sample

    def _sample(self, kind: str, utterance: str, record: LatencyRecord, result: Any, closed: float,
                variant: str) -> TurnSample:
        assert self.stages is not None
        engine: Any = self.stages.engine
        step = engine.last
        sample = TurnSample(kind, utterance, record.as_dict()["ms"], record.outcome, variant=variant)
        if result is not None and result.messages:
            calls = [c for m in result.messages for c in m.tool_calls]
            sample.call = calls[0].raw if calls else ""
        if step is not None:
            t = step.timings
            sample.passes = list(t.passes)
            sample.encode_s = t.features_s + t.encoder_s
            sample.prompt_s = t.prompt_s
            sample.counts = dataclasses.asdict(step.counts)
            sample.prefilled_live = getattr(step, "live_rows", 0)
            sample.ahead_s = getattr(step, "ahead_s", 0.0)
            started = getattr(t, "started", 0.0)
            sample.wait_s = max(0.0, started - closed) if started else 0.0
        last = self.home.bus.last_result
        if last is not None and last.total_s is not None:
            sample.puback_s = last.puback_s or 0.0
            sample.validate_s = max(0.0, last.total_s - sample.puback_s - (last.echo_s or 0.0))
        return sample


def _int16(clip: Samples) -> np.ndarray:
    arr = np.asarray(clip)
    if arr.dtype == np.int16:
        return arr
    return (np.clip(arr, -1.0, 1.0) * 32767).astype(np.int16)


def _feed(live: LiveAudio, audio: np.ndarray, realtime: bool) -> None:
    """Append ``audio`` in 10 ms blocks, paced at real time (as a microphone delivers it) unless told not to."""
    start = time.monotonic()
    for i, block in enumerate(_blocks(audio)):
        if realtime:
            wait = start + (i + 1) * BLOCK / SAMPLE_RATE - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        live.append(block)


def _blocks(audio: np.ndarray) -> Iterator[np.ndarray]:
    for i in range(0, len(audio), BLOCK):
        yield audio[i : i + BLOCK]
