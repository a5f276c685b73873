"""The interfaces the service uses beyond ``assistant.protocols``, as Protocols.

They mirror what the audio and MQTT stages implement (``assistant.audio.endpoint``,
``assistant.audio.playback``, the wake-word detector and the MQTT announcer), so tests can
plug in named doubles. The endpointer's events are the audio stage's own classes
(``SpeechStart``, ``Utterance``, ``NoSpeech``), re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from assistant.audio.endpoint import EndpointEvent as EndpointEvent
from assistant.audio.endpoint import NoSpeech as NoSpeech
from assistant.audio.endpoint import SpeechStart as SpeechStart
from assistant.audio.endpoint import Utterance as Utterance
from assistant.protocols import AudioChunk, Samples


@runtime_checkable
class Endpointer(Protocol):
    """Decides where an utterance starts and ends (``assistant.audio.endpoint.Endpointer``).

    ``start(t, after_wake=True)`` follows a spoken wake word: the utterance is the speech after its phrase."""

    def start(self, t: float, after_wake: bool = False) -> None: ...

    def feed(self, frame: Samples) -> Any: ...

    def speech(self) -> list[Samples]: ...

    def tentative_keep(self) -> int | None: ...

    @property
    def active(self) -> bool: ...


@runtime_checkable
class Player(Protocol):
    """Owns the playback thread (``assistant.audio.playback.Player``)."""

    def play(self, chunks: Iterable[AudioChunk]) -> None: ...

    def stop(self) -> None: ...

    @property
    def speaking(self) -> bool: ...

    def wait(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


@runtime_checkable
class WakeDetector(Protocol):
    """The wake word, fed every frame. The loop calls ``gate(True)`` when the reply starts
    playing and ``gate(False)`` when it ends: while gated the detector must not wake on the
    assistant's own voice, and a ``True`` from ``detect`` then means barge-in."""

    def detect(self, frame: Samples) -> bool: ...

    def gate(self, on: bool) -> None: ...


@runtime_checkable
class Announcer(Protocol):
    """The assistant's status on MQTT; ``muted`` is set from MQTT to ignore the wake word.

    Called from the main (audio) loop: ``set_status`` must only queue the publish, never wait."""

    def set_status(self, status: str) -> None: ...

    @property
    def muted(self) -> bool: ...


@runtime_checkable
class Interjections(Protocol):
    """What the assistant says unasked (announcements): the loop takes the next job only while idle."""

    def next_job(self) -> Iterable[AudioChunk] | None: ...


TimingSink = Callable[[str, float], None]
"""``sink(stage, time.monotonic())``: a stage reports a moment of the current turn."""


@runtime_checkable
class Timed(Protocol):
    """A stage that reports its own moments (engine: features, encoder, prefill; bus: puback, state_echo).

    The service sets the sink before a turn and clears it (``None``) after the turn's commands
    finished; the sink is thread-safe and keeps the first moment of each stage."""

    def set_timing_sink(self, sink: TimingSink | None) -> None: ...


LatencyPublisher = Callable[[dict[str, Any]], None]
"""Publishes one finished latency record (the MQTT stage's sensor); called from the main loop,
so it must only queue the message (paho's ``publish`` does), never wait for the broker."""


@runtime_checkable
class Ringer(Protocol):
    """Timers and alarms that ring (``assistant.clock.ringer.Ringer``): ticked on every frame,
    allowed to start a ring only when ``idle``; ``stop`` ends a ring (True when one was ringing);
    ``pause_left_s`` is what is left of a pause between ring cycles (0 when not in one)."""

    def tick(self, idle: bool) -> None: ...

    def stop(self) -> bool: ...

    def pause_left_s(self) -> float: ...


class NullAnnouncer:
    """No MQTT status: used when MQTT is disabled."""

    muted = False

    def set_status(self, status: str) -> None:
        return None
