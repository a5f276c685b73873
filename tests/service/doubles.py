"""Named test doubles for the stages that are not in this branch yet.

Each is a stand-in until the real stage is wired in at the merge; the end-to-end tests
(``assistant run --wav`` with real speech WAVs) will use the real ones. They behave like
the interfaces in ``assistant.service.ports`` describe, on synthetic audio:
silence is zeros, "speech" is loud noise, and the wake word is a frame of ``WAKE_VALUE``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from assistant.protocols import SAMPLE_RATE, AudioChunk, Message, Samples, TextDelta, ToolCall
from assistant.service.ports import NoSpeech, SpeechStart, TimingSink, Utterance

FRAME = 160  # 10 ms
WAKE_VALUE = 1111
SILENCE = np.zeros(FRAME, dtype=np.int16)
WAKE = np.full(FRAME, WAKE_VALUE, dtype=np.int16)
QUIET_FRAMES = [SILENCE] * 6  # EnergyEndpointer ends an utterance after 5 quiet frames
_rng = np.random.default_rng(0)


def speech(frames: int) -> list[Samples]:
    """Loud noise frames: what the energy endpointer calls speech."""
    return [_rng.integers(-6000, 6000, FRAME).astype(np.int16) for _ in range(frames)]


class ScriptedSource:
    """FakeAudioSource: frames from a script. A step is a frame, a list of frames, or
    ``("until", predicate, timeout_s)``: real-time-ish silence until ``predicate(assistant)``.
    ``("do", fn)`` calls ``fn()``; ``("pace", n)`` yields n silent frames in real time;
    ``("stall",)`` stops yielding (a capture that hangs) until ``close``."""

    def __init__(self, steps: Sequence[Any]) -> None:
        self.steps = list(steps)
        self.assistant: Any = None
        self.closed = threading.Event()

    def frames(self) -> Iterator[Samples]:
        for step in self.steps:
            if self.closed.is_set():
                return
            if isinstance(step, np.ndarray):
                yield step
            elif isinstance(step, list):
                yield from step
            elif step[0] == "until":
                yield from self._until(step[1], step[2])
            elif step[0] == "do":
                step[1]()
            elif step[0] == "stall":
                self.closed.wait()
                return
            elif step[0] == "pace":
                for _ in range(step[1]):
                    yield SILENCE
                    if self.closed.wait(FRAME / SAMPLE_RATE):
                        return

    def _until(self, predicate: Callable[[Any], bool], timeout: float) -> Iterator[Samples]:
        deadline = time.monotonic() + timeout
        while not predicate(self.assistant):
            if time.monotonic() > deadline:
                raise AssertionError(f"script: condition not reached in {timeout} s; state {self.assistant.state}")
            yield SILENCE
            time.sleep(0.002)

    def close(self) -> None:
        self.closed.set()


class MarkerDetector:
    """FakeWakeDetector: fires on a frame filled with ``WAKE_VALUE``; records gate changes."""

    def __init__(self) -> None:
        self.gates: list[bool] = []

    def detect(self, frame: Samples) -> bool:
        return bool(len(frame) and np.all(frame == WAKE_VALUE))

    def gate(self, on: bool) -> None:
        self.gates.append(on)


class EnergyEndpointer:
    """FakeEndpointer: speech is any frame with mean |x| > 500; ends after ``end_frames`` quiet frames."""

    def __init__(self, end_frames: int = 5, timeout_frames: int = 50) -> None:
        self.end_frames, self.timeout_frames = end_frames, timeout_frames
        self._active = False
        self.starts = 0
        self.after_wake: list[bool] = []

    @property
    def active(self) -> bool:
        return self._active

    def start(self, t: float, after_wake: bool = False) -> None:
        self._active, self.t, self.starts = True, t, self.starts + 1
        self.after_wake.append(after_wake)
        self._buf: list[Samples] = []
        self._quiet = self._waited = 0
        self._start_t: float | None = None

    def speech(self) -> list[Samples]:
        return list(self._buf) if self._active and self._start_t is not None else []

    def tentative_keep(self) -> int | None:
        """During the quiet frames after speech: the voiced samples the Utterance would keep."""
        if not (self._active and self._start_t is not None and self._quiet):
            return None
        return sum(len(f) for f in self._buf[: -self._quiet])

    def feed(self, frame: Samples) -> SpeechStart | Utterance | NoSpeech | None:
        if not self._active:
            return None
        step = len(frame) / SAMPLE_RATE
        self.t += step
        loud = float(np.abs(frame.astype(np.int32)).mean()) > 500
        if self._start_t is None:
            if loud:
                self._start_t, self._buf = self.t - step, [frame]
                return SpeechStart(self._start_t)
            self._waited += 1
            if self._waited >= self.timeout_frames:
                self._active = False
                return NoSpeech(self.t)
            return None
        self._buf.append(frame)
        self._quiet = 0 if loud else self._quiet + 1
        if self._quiet < self.end_frames:
            return None
        self._active = False
        voiced = self._buf[: -self._quiet]
        return Utterance(np.concatenate(voiced), self._start_t, self.t - self._quiet * step, False)


Step = TextDelta | ToolCall | Callable[[], None] | BaseException


class ScriptedEngine:
    """FakeEngine (no Gemma weights can be downloaded here): plays one scripted response per turn.

    A step is an event to yield, a callable to run (e.g. wait for something), or an exception to raise.
    Reports ``features``/``prefill`` moments through the timing sink like the real engine will."""

    def __init__(self, responses: Iterable[Sequence[Step]]) -> None:
        self.responses = list(responses)
        self.calls: list[tuple[list[Message], list[Mapping[str, Any]]]] = []
        self.sink: TimingSink | None = None

    def set_timing_sink(self, sink: TimingSink | None) -> None:
        self.sink = sink

    def generate(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = ()) -> Iterator[TextDelta | ToolCall]:
        self.calls.append((list(messages), list(tools)))
        if self.sink:
            self.sink("features", time.monotonic())
            self.sink("prefill", time.monotonic())
        steps = self.responses.pop(0) if self.responses else [TextDelta("Okay.")]
        for step in steps:
            if isinstance(step, BaseException):
                raise step
            if callable(step):
                step()
                continue
            yield step


class LiveScriptedEngine(ScriptedEngine):
    """FakeEngine taking live audio (``Message.live``) as the real model does: it reads the blocks as they
    arrive and returns once the audio is closed (no events when it was cancelled)."""

    def __init__(self, responses: Iterable[Sequence[Step]]) -> None:
        super().__init__(responses)
        self.open_blocks: list[int] = []  # per live turn: blocks read before the end of speech
        self.cancelled: list[bool] = []
        self.reading = threading.Event()  # set once the first block of a live turn was read

    def generate(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = ()) -> Iterator[TextDelta | ToolCall]:
        live = messages[-1].live if messages else None
        if live is not None:
            read_open = 0
            for _ in live.blocks():
                read_open += not live.closed
                self.reading.set()
            self.open_blocks.append(read_open)
            self.cancelled.append(live.cancelled)
            if live.cancelled:
                return iter(())
        return super().generate(messages, tools)


LIGHT_TOOL = {"type": "function", "function": {"name": "light_turn_on", "parameters": {"type": "object"}}}


class FakeBus:
    """FakeBus (the MQTT stage is not in this branch): records calls; fails on chosen call numbers."""

    def __init__(self, fail_on: Sequence[int] = (), result: str = "The kitchen light is on.") -> None:
        self.fail_on = set(fail_on)
        self.result = result
        self.executed: list[ToolCall] = []
        self.execute_event = threading.Event()
        self.sink: TimingSink | None = None

    def set_timing_sink(self, sink: TimingSink | None) -> None:
        self.sink = sink

    def tools(self, utterance_hint: str = "") -> list[dict[str, Any]]:
        return [LIGHT_TOOL]

    def execute(self, call: ToolCall) -> str:
        self.executed.append(call)
        self.execute_event.set()
        if len(self.executed) in self.fail_on:
            raise ConnectionError("broker went away")
        if self.sink:
            self.sink("puback", time.monotonic())
        return self.result


class FakeTts:
    """FakeTts: 10 ms of a tone per character, in one chunk per sentence; records what it said."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        self.said.append(text)
        yield AudioChunk(np.full(FRAME * max(1, len(text)) // 10, 100, dtype=np.int16), SAMPLE_RATE)


class FakePlayer:
    """FakePlayer (no sound card here): consumes chunks on its own thread; ``hold`` keeps it "speaking"."""

    def __init__(self) -> None:
        self.played: list[AudioChunk] = []
        self.stops = 0
        self.hold = threading.Event()
        self._queue: queue.Queue[Iterable[AudioChunk]] = queue.Queue()
        self._abort = threading.Event()
        self._lock = threading.Lock()
        self._pending = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def play(self, chunks: Iterable[AudioChunk]) -> None:
        with self._lock:
            self._pending += 1
            self._abort.clear()
            self._queue.put(chunks)

    def _run(self) -> None:
        while True:
            chunks = self._queue.get()
            for chunk in chunks:
                if self._abort.is_set():
                    break
                self.played.append(chunk)
                while self.hold.is_set() and not self._abort.is_set():
                    time.sleep(0.005)
            with self._lock:
                self._pending -= 1

    @property
    def speaking(self) -> bool:
        return self._pending > 0

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._pending > 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        return self._pending == 0

    def stop(self) -> None:
        self.stops += 1
        self._abort.set()

    def close(self) -> None:
        self.stop()


class RecordingAnnouncer:
    """FakeAnnouncer: records every status; ``muted`` is settable."""

    def __init__(self) -> None:
        self.statuses: list[str] = []
        self.muted = False

    def set_status(self, status: str) -> None:
        self.statuses.append(status)
