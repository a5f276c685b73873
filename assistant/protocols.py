"""The boundaries between stages, as small Protocols, and the values that cross them.

Audio everywhere is 16 kHz mono int16 in numpy arrays. Stage packages depend on this
module, never on each other's internals (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16000
Samples = npt.NDArray[np.int16]


@runtime_checkable
class AudioSource(Protocol):
    """Yields consecutive frames of 16 kHz mono int16 audio until closed or exhausted."""

    def frames(self) -> Iterator[Samples]: ...

    def close(self) -> None: ...


@runtime_checkable
class WakeWord(Protocol):
    """Streaming wake-word detector, fed every frame in order."""

    name: str

    def predict(self, frame: Samples) -> float:
        """Score of the most recent audio, 0..1."""
        ...

    def reset(self) -> None: ...


@runtime_checkable
class Vad(Protocol):
    """Voice activity decision for one frame."""

    def is_speech(self, frame: Samples) -> bool: ...

    def reset(self) -> None: ...


@dataclass(frozen=True)
class ToolCall:
    """A complete tool call from the model; ``error`` is set when it could not be parsed."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    raw: str = ""
    error: str = ""


@dataclass(frozen=True)
class TextDelta:
    """Visible reply text, in order; deltas concatenate to the full reply."""

    text: str


Event = TextDelta | ToolCall


class LiveAudio:
    """A spoken turn's audio while it is still arriving, so the engine can encode it as the user speaks.

    The listener ``append``s blocks and ``close``s it at the end of speech (``cancel``: the turn was
    dropped); the engine reads ``blocks()`` as they come and ``samples()`` once it is closed. Thread-safe.
    """

    def __init__(self) -> None:
        self._blocks: list[Samples] = []
        self._read = 0  # blocks handed out by ``blocks()`` (one reader)
        self._cond = threading.Condition()
        self.closed = False
        self.cancelled = False
        self.closed_at = 0.0  # time.monotonic() at close
        self.keep: int | None = None  # the utterance's length given at close
        self.tentative: int | None = None  # while the end silence runs: the length the utterance would keep

    def append(self, block: Samples) -> None:
        with self._cond:
            if not self.closed:
                self._blocks.append(block)
                self._cond.notify_all()

    def pause(self, keep: int | None) -> None:
        """The endpointer's end silence has begun: the utterance would be ``keep`` samples (None: speech goes on).
        The engine brings its prefill up to there and waits, instead of encoding the silence."""
        with self._cond:
            if not self.closed and keep != self.tentative:
                self.tentative = keep
                self._cond.notify_all()

    def close(self, keep: int | None = None) -> None:
        """No more audio. ``keep``: the utterance is this many samples; blocks past it that the engine has not
        read yet are dropped (the endpointer's trailing silence: nothing to encode and prefill after the end)."""
        with self._cond:
            if not self.closed:
                if keep is not None:
                    self._trim(keep)
                self.keep = keep
                self.closed, self.closed_at = True, time.monotonic()
                self._cond.notify_all()

    def _trim(self, keep: int) -> None:
        total = 0
        for i, block in enumerate(self._blocks):
            if total + len(block) >= keep:
                if i >= self._read:
                    self._blocks[i] = block[: keep - total]
                del self._blocks[max(i + 1, self._read) :]
                return
            total += len(block)

    def cancel(self) -> None:
        with self._cond:
            self.cancelled = True
        self.close()

    def blocks(self) -> Iterator[Samples]:
        """Every block, in order, waiting for more until the audio is closed (one reader)."""
        while True:
            with self._cond:
                while not self.closed and len(self._blocks) <= self._read:
                    self._cond.wait()
                if len(self._blocks) <= self._read:
                    return
                block = self._blocks[self._read]
                self._read += 1
            yield block

    def backlog(self) -> int:
        """Blocks appended but not yet handed out by ``blocks()`` (0: the reader has caught up)."""
        with self._cond:
            return len(self._blocks) - self._read

    def samples(self) -> Samples:
        """The whole clip, once closed (waits for the close)."""
        with self._cond:
            self._cond.wait_for(lambda: self.closed)
            blocks = list(self._blocks)
        return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)


@dataclass(frozen=True)
class Message:
    """One conversation message: role is system, user, model or tool.

    ``live``: a user turn's audio still arriving (the service streams speech to an engine that
    supports it); an engine that does not, reads ``live.samples()`` as its ``audio``.
    """

    role: str
    text: str = ""
    audio: Samples | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_name: str = ""
    live: LiveAudio | None = None


@runtime_checkable
class Engine(Protocol):
    """The local model: messages (with audio) and tool declarations in, events out."""

    def generate(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = ()) -> Iterator[Event]: ...


@runtime_checkable
class Tier(Protocol):
    """A remote text model behind an OpenAI-compatible API."""

    name: str

    def generate(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = ()) -> Iterator[Event]: ...

    def healthy(self) -> bool: ...


@runtime_checkable
class Bus(Protocol):
    """The smart-home side: validated tool calls in, a short spoken result out."""

    def tools(self, utterance_hint: str = "") -> list[dict[str, Any]]: ...

    def execute(self, call: ToolCall) -> str: ...


@dataclass(frozen=True)
class AudioChunk:
    """A piece of synthesised speech."""

    samples: Samples
    sample_rate: int


@runtime_checkable
class Tts(Protocol):
    """Text to speech, as a generator of chunks so playback can start early."""

    def synthesize(self, text: str) -> Iterator[AudioChunk]: ...
